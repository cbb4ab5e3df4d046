/** Waiting on a starting etcd: for a leader among all members. */
import {ClusterError} from '../../../core/errors.js'
import type {Kv} from '../client.js'
import {ETCD_UNIT} from './plan.js'

const QUORUM_WAIT_MS = 90_000

/** Polls until every member is started and one leads; returns the seconds it took. */
export async function waitForLeader(kv: Kv, size: number, signal: AbortSignal, budgetMs = QUORUM_WAIT_MS): Promise<number> {
  const started = Date.now()
  let last = 'no answer yet'
  while (Date.now() - started < budgetMs && !signal.aborted) {
    try {
      const [status, list] = await Promise.all([kv.client.maintenance.status(), kv.client.cluster.memberList({})])
      const running = list.members.filter(m => m.name !== '').length
      if (status.leader !== '0' && running === size) return (Date.now() - started) / 1000
      last = `${running} of ${size} members started, leader ${status.leader === '0' ? 'none' : 'elected'}`
    } catch (error) {
      last = (error as Error).message
    }
    await new Promise(r => setTimeout(r, 500))
  }
  throw new ClusterError(`the etcd members elected no leader within ${budgetMs / 1000} s (${last})`,
    {hint: `look at \`journalctl -u ${ETCD_UNIT}\` on the members (cluster ssh NAME)`})
}
