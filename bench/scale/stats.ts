/** Pure arithmetic of the scale bench: percentiles, Prometheus counters, CPU ticks. */

/** The p-th percentile (0-100) of `values` by the nearest-rank method; NaN for no values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN
  if (p < 0 || p > 100) throw new Error(`percentile ${p} is outside 0-100`)
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[rank - 1]!
}

/**
 * The sum of every sample of metric `name` in a Prometheus text exposition whose labels
 * include all of `labels` (`name{a="x",b="y"} 12`); 0 when there is none.
 */
export function sumMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line)
    if (!m || m[1] !== name) continue
    const have = parseLabels(m[2] ?? '')
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3])
  }
  return sum
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {}
  for (const m of text.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!
  return labels
}

/**
 * CPU ticks a process used, itself (utime + stime) and its waited-for children (cutime +
 * cstime: the router's ip, iptables and sysctl calls are its cost too), from /proc/PID/stat.
 */
export function cpuTicks(stat: string): {self: number; children: number} {
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state); utime is field 14.
  const [utime, stime, cutime, cstime] = [11, 12, 13, 14].map(i => Number(fields[i]))
  if ([utime, stime, cutime, cstime].some(n => n === undefined || Number.isNaN(n))) throw new Error(`not a /proc/PID/stat line: "${stat.slice(0, 80)}"`)
  return {self: utime! + stime!, children: cutime! + cstime!}
}

/**
 * Resident memory of a /proc/PID/status text, in bytes, split into what is the process's own
 * (anon: heap, stacks, V8's spaces) and pages of mapped files (file: mostly node's own
 * binary, whose code for TLS, HTTP/2 and the like is paged in once used; clean, shared with
 * every node process on the host, and dropped first when memory runs short).
 */
export function memoryOf(status: string): {rss: number; anon: number; file: number} {
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(status)
    if (!m) throw new Error(`no ${field} line in /proc/PID/status (the process is gone?)`)
    return Number(m[1]) * 1024
  }
  return {rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile')}
}

export function mean(values: number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length
}

/** Pure: the sum of metric `name` per value of `label` (e.g. per grpc_method). */
export function sumByLabel(text: string, name: string, label: string): Map<string, number> {
  const sums = new Map<string, number>()
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}\s+(\S+)/.exec(line)
    if (!m || m[1] !== name) continue
    const key = parseLabels(m[2]!)[label]
    if (key !== undefined) sums.set(key, (sums.get(key) ?? 0) + Number(m[3]))
  }
  return sums
}

/** Pure: what grew between two readings of sumByLabel, largest first, zeros left out. */
export function growth(before: Map<string, number>, after: Map<string, number>): Array<[string, number]> {
  return [...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)] as [string, number]).filter(([, d]) => d > 0).sort((a, b) => b[1] - a[1])
}

/** The milliseconds of every `applied …: N peers, X ms` line the routers log (router/main.ts reconcile). */
export function applyMs(log: string): number[] {
  return [...log.matchAll(/^applied .*: \d+ peers, ([\d.]+) ms$/gm)].map(m => Number(m[1]))
}

/** Busy and total jiffies of the whole machine, from /proc/stat's first line (idle and iowait are not busy). */
export function machineJiffies(stat: string): {busy: number; total: number} {
  const fields = stat.split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number)
  const total = fields.reduce((a, b) => a + b, 0)
  return {busy: total - fields[3]! - fields[4]!, total}
}
