import {ClusterError} from '../../src/errors.js'

/** For assert.throws/rejects: a ClusterError whose one-line message (problem: fix) matches. */
export function oneLine(re: RegExp) {
  return (e: unknown) => {
    if (!(e instanceof ClusterError)) throw e
    if (!re.test(e.oneLine())) throw new Error(`"${e.oneLine()}" does not match ${re}`)
    return true
  }
}
