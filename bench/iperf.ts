/**
 * iperf3 between two hosts of a bench, each reached through a shell runner (docker exec for
 * a lab container, ssh for a UML host): the server answers one test (-1), the client's
 * received rate is the figure.
 */
export type Shell = (command: string, opts?: {timeoutMs?: number}) => Promise<string>

/**
 * Gbit/s from `client` to `target` (an address `server` listens on), one stream for `seconds`.
 * The prefixes run iperf3 elsewhere, e.g. `nsenter -t PID -n` for a container's path.
 */
export async function iperf3(client: Shell, server: Shell, target: string, seconds: number, clientPrefix = '', serverPrefix = ''): Promise<number> {
  await server(`pkill -x iperf3; ${serverPrefix} iperf3 -s -D -1 >/dev/null 2>&1`)
  await new Promise(r => setTimeout(r, 300))
  const out = await client(`${clientPrefix} iperf3 -c ${target} -t ${seconds} -J`, {timeoutMs: (seconds + 20) * 1000})
  const report = JSON.parse(out) as {end: {sum_received: {bits_per_second: number}}}
  return report.end.sum_received.bits_per_second / 1e9
}
