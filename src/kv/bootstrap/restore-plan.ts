/**
 * The pure half of `cluster kv restore`: which machines were members of the lost etcd, and
 * the shell each host runs. A member's data is never deleted: it is moved aside, so an
 * operator can still look into it.
 */
import type {MachineRecord} from '../../../core/model.js'
import {shq} from '../../ssh/shell.js'
import {clientUrls, ETCD_DATA_DIR, ETCD_UNIT, memberOf, peerUrl, type MemberPlan} from './plan.js'

/** Machines of the store one of whose client URLs is among the etcd endpoints in use. */
export function previousMembers(endpoints: string[], records: MachineRecord[]): MemberPlan[] {
  const used = new Set(endpoints)
  return records.map(memberOf).filter(m => clientUrls(m).some(u => used.has(u)))
}

/** Where a member's data goes aside: one name per restore, so a second restore keeps the first's. */
export function asideDir(stamp: string): string {
  return `${ETCD_DATA_DIR}.before-restore-${stamp}`
}

/**
 * Rebuilds the member's data folder from the snapshot (a new one-member cluster with a new
 * token), puts the old folder aside and starts the unit. etcdutl restores on etcd 3.5;
 * etcd 3.4 has only `etcdctl snapshot restore`, with the same flags.
 */
export function restoreScript(self: MemberPlan, token: string, snapshot: string, stamp: string): string {
  const restored = `${ETCD_DATA_DIR}.restored`
  return [
    'set -e',
    `systemctl stop ${ETCD_UNIT} >/dev/null 2>&1 || true`,
    `rm -rf ${restored}`,
    'if command -v etcdutl >/dev/null; then tool=etcdutl; else tool="env ETCDCTL_API=3 etcdctl"; fi',
    `$tool snapshot restore ${shq(snapshot)} --name ${shq(self.name)} --initial-cluster ${shq(`${self.name}=${peerUrl(self)}`)}`
    + ` --initial-advertise-peer-urls ${peerUrl(self)} --initial-cluster-token ${shq(token)} --data-dir ${restored} >/dev/null`,
    `if [ -d ${ETCD_DATA_DIR} ]; then mv ${ETCD_DATA_DIR} ${asideDir(stamp)}; fi`,
    `mv ${restored} ${ETCD_DATA_DIR}`,
    `chown -R etcd:etcd ${ETCD_DATA_DIR} && chmod 0700 ${ETCD_DATA_DIR}`,
    `rm -f ${shq(snapshot)}`,
    `systemctl start --no-block ${ETCD_UNIT}`,
  ].join('\n')
}

/**
 * A member of the lost etcd that is not the restored one stops for good: started again it
 * would look for its old peers (or, with a majority of them, serve the old data).
 */
export function retireScript(stamp: string): string {
  return [
    `systemctl disable --now ${ETCD_UNIT} >/dev/null 2>&1 || true`,
    `if [ -d ${ETCD_DATA_DIR} ]; then mv ${ETCD_DATA_DIR} ${asideDir(stamp)}; fi`,
  ].join('\n')
}
