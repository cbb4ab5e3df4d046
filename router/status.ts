/**
 * Writes /run/cluster/status.json (core/router-status.ts): what `cluster net status` shows. Written by the router after
 * every reconcile and every few seconds (handshakes and byte counters move), atomically.
 */
import {mkdirSync, renameSync, writeFileSync} from 'node:fs'
import type {PeerReport, RouterStatus} from '../core/router-status.js'
import type {AppliedPeer} from './plan.js'
import type {PeerStatus} from './backends/backend.js'
import {RUN_DIR, STATUS_PATH} from '../core/router-config.js'

/** Joins what the datapath reports (by subnet) with the names the plan knows. */
export function peerReports(applied: AppliedPeer[], live: PeerStatus[]): PeerReport[] {
  const bySubnet = new Map(live.map(s => [s.subnet, s]))
  return applied.map(p => {
    const s = bySubnet.get(p.subnet)
    return {
      name: p.name,
      subnet: p.subnet,
      endpoint: p.endpoint,
      lastHandshake: s?.lastHandshake ?? null,
      rxBytes: s?.rxBytes ?? null,
      txBytes: s?.txBytes ?? null,
    }
  }).sort((a, b) => a.name.localeCompare(b.name))
}

export function writeStatus(status: RouterStatus, path = STATUS_PATH): void {
  mkdirSync(RUN_DIR, {recursive: true})
  const tmp = `${path}.tmp`
  writeFileSync(tmp, JSON.stringify(status, null, 2) + '\n', {mode: 0o644})
  renameSync(tmp, path)
}
