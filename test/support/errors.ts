import {ClusterError} from '../../core/errors.js'

/** For assert.throws/rejects: a ClusterError whose one-line message (problem: fix) matches. */
export function oneLine(re: RegExp) {
  return (e: unknown) => {
    if (!(e instanceof ClusterError)) throw e
    if (!re.test(e.oneLine())) throw new Error(`"${e.oneLine()}" does not match ${re}`)
    return true
  }
}

/** DriverContext.sshExec for drivers that never act over SSH: any call is a test failure. */
export const noSsh = (): Promise<void> => Promise.reject(new Error('this driver should not run commands over SSH'))
