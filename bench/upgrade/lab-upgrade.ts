/** What the upgrade e2e test and bench share: an "older" router on a lab host, and a ping stream's replies. */
import {execOk, type LabHost} from '../../test/lab/lab.js'
import {ROUTER_PATH} from '../../src/agent/unit.js'

export const OLD_VERSION = '0.0.1-old'

const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms))
export const sh = (host: LabHost, script: string) => execOk(host.name, ['sh', '-c', script])

/** Makes `host` run an "older" router: the same code under another version line (so another hash), restarted. */
export async function downgradeRouter(host: LabHost): Promise<void> {
  await sh(host, `sed -i '1s|.*|/* cluster-router ${OLD_VERSION} */|' ${ROUTER_PATH} && systemctl restart cluster-router`)
  for (let i = 0; i < 100; i++) {
    if ((await sh(host, 'systemctl is-active cluster-router || true')).trim() === 'active') return
    await sleep(100)
  }
  throw new Error(`the downgraded router on ${host.name} did not start`)
}

/** Sequence numbers of the echo replies a busybox `ping` container on `host` has printed so far. */
export async function pingReplies(host: LabHost, container: string): Promise<number[]> {
  return [...(await sh(host, `docker logs ${container} 2>&1`)).matchAll(/seq=(\d+)/g)].map(m => Number(m[1]))
}
