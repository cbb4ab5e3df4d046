/** What every step of setting a host up works with (setup-host.ts and overlay.ts). */
import type {SshConnection} from '../ssh/client.js'
import type {LocalStore} from '../store/local.js'
import type {Kv} from '../kv/client.js'
import type {ClusterSettings, MachineRecord} from '../../core/model.js'
import type {Progress} from '../cli/progress.js'

export interface SetupContext {
  store: LocalStore
  kv: Kv
  settings: ClusterSettings
  record: MachineRecord
  conn: SshConnection
  progress: Progress
  signal: AbortSignal
  advertiseAddr?: string
}
