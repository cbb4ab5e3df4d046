/**
 * What `cluster env` prints, per shell. Pure: the values come from the local store, so
 * `env` needs no network round trip and answers as fast as node starts.
 */
import {basename} from 'node:path'
import {InputError} from '../core/errors.js'

export const SHELLS = ['bash', 'zsh', 'sh', 'fish', 'tcsh', 'powershell', 'cmd', 'emacs'] as const
export type Shell = typeof SHELLS[number]

/** --shell wins; otherwise $SHELL; otherwise PowerShell/cmd on Windows; otherwise sh. */
export function detectShell(flag: string | undefined, env: NodeJS.ProcessEnv, platform = process.platform): Shell {
  if (flag) {
    if (!(SHELLS as readonly string[]).includes(flag)) throw new InputError(`unknown shell "${flag}"`, `use --shell ${SHELLS.join('|')}`)
    return flag as Shell
  }
  const sh = env.SHELL ? basename(env.SHELL) : ''
  if ((SHELLS as readonly string[]).includes(sh)) return sh as Shell
  if (sh === 'csh') return 'tcsh'
  if (platform === 'win32') return env.PSModulePath ? 'powershell' : 'cmd'
  return 'sh'
}

const dq = (v: string) => `"${v.replace(/(["\\$`])/g, '\\$1')}"`
/** An Emacs Lisp string. */
const elisp = (v: string) => `"${v.replace(/(["\\])/g, '\\$1')}"`

function setLine(shell: Shell, k: string, v: string): string {
  switch (shell) {
    case 'fish': return `set -gx ${k} ${dq(v)};`
    case 'tcsh': return `setenv ${k} ${dq(v)};`
    case 'powershell': return `$Env:${k} = "${v.replace(/(["`$])/g, '`$1')}"`
    case 'cmd': return `SET ${k}=${v}`
    case 'emacs': return `(setenv ${elisp(k)} ${elisp(v)})`
    default: return `export ${k}=${dq(v)}`
  }
}

function unsetLine(shell: Shell, k: string): string {
  switch (shell) {
    case 'fish': return `set -e ${k};`
    case 'tcsh': return `unsetenv ${k};`
    // Docker Machine's exact line (PowerShell reads the doubled backslash as one).
    case 'powershell': return `Remove-Item Env:\\\\${k}`
    case 'cmd': return `SET ${k}=`
    case 'emacs': return `(setenv ${elisp(k)} nil)`
    default: return `unset ${k}`
  }
}

/** The usage hint as a comment, ending the output like Docker Machine's. */
function hint(shell: Shell, command: string): string[] {
  switch (shell) {
    case 'fish': return ['# Run this command to configure your shell:', `# eval (${command})`]
    case 'powershell': return ['# Run this command to configure your shell:', `# & ${command} | Invoke-Expression`]
    case 'cmd': return ['REM Run this command to configure your shell:', `REM @FOR /f "tokens=*" %i IN ('${command}') DO @%i`]
    case 'emacs': return [';; Run this command to configure your shell:', `;; (with-temp-buffer (shell-command ${elisp(command)} (current-buffer)) (eval-buffer))`]
    default: return ['# Run this command to configure your shell:', `# eval "$(${command})"`]
  }
}

export const DOCKER_VARS = ['DOCKER_TLS_VERIFY', 'DOCKER_HOST', 'DOCKER_CERT_PATH', 'DOCKER_MACHINE_NAME'] as const
/** Set by `env --swarm` (the manager's name): tells `ls` and `active` the client points at the swarm. */
export const SWARM_VAR = 'DOCKER_MACHINE_SWARM'

export interface EnvRequest {
  shell: Shell
  /** Variables to set, in order; with `unset` only their names matter. */
  vars: [string, string][]
  unset: boolean
  /** The command line to show in the hint. */
  command: string
  /** Variables to unset after setting the others. */
  alsoUnset?: string[]
}

export function renderEnv(req: EnvRequest): string {
  const lines = req.unset ? req.vars.map(([k]) => unsetLine(req.shell, k)) : req.vars.map(([k, v]) => setLine(req.shell, k, v))
  lines.push(...(req.alsoUnset ?? []).map(k => unsetLine(req.shell, k)))
  return [...lines, ...hint(req.shell, req.command)].join('\n') + '\n'
}

/** NO_PROXY with the machine's address appended once, keeping what the user had. */
export function noProxyValue(current: string | undefined, ip: string): string {
  const parts = (current ?? '').split(',').map(s => s.trim()).filter(Boolean)
  if (!parts.includes(ip)) parts.push(ip)
  return parts.join(',')
}
