/**
 * How the systemd unit starts the router (src/agent/unit.ts), read from the unit's text, so
 * the bench runs routers, and the idle node it compares them with, exactly as hosts do.
 */
export interface NodeCommand {
  /** Environment= lines. */
  env: Record<string, string>
  /** Node's flags in ExecStart, before the script. */
  nodeFlags: string[]
}

/** Pure: the Environment= lines and the node flags of ExecStart=/usr/bin/env node FLAGS… SCRIPT. */
export function unitCommand(unit: string): NodeCommand {
  const env: Record<string, string> = {}
  for (const m of unit.matchAll(/^Environment=(\S+?)=(\S*)$/gm)) env[m[1]!] = m[2]!
  const exec = /^ExecStart=(.*)$/m.exec(unit)?.[1]?.trim().split(/\s+/)
  const node = exec?.indexOf('node') ?? -1
  if (!exec || node < 0) throw new Error('the router unit has no ExecStart running node')
  const nodeFlags = exec.slice(node + 1).filter(arg => arg.startsWith('-'))
  return {env, nodeFlags}
}
