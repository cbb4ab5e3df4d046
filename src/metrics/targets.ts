/**
 * `cluster net targets --prometheus`: every router's metrics endpoint as a Prometheus
 * file_sd target list. Each router serves /metrics on its host's bridge address (the first
 * address of its subnet), reached over the overlay, so Prometheus must run on a cluster host
 * or in a container on the overlay.
 */
import {kvCall, type Kv} from '../kv/client.js'
import {METRICS_PORT} from '../../core/metrics.js'
import {gatewayOf} from '../../core/subnets.js'
import {listSubnets} from '../ipam.js'

/** One group of a file_sd file: https://prometheus.io/docs/prometheus/latest/configuration/configuration/#file_sd_config */
export interface FileSdGroup {
  targets: string[]
  labels: Record<string, string>
}

/** One group per machine, sorted by name, labelled with the machine, its subnet and the cluster. */
export function fileSdGroups(subnets: ReadonlyMap<string, string>, cluster: string): FileSdGroup[] {
  return [...subnets].map(([cidr, machine]) => ({
    targets: [`${gatewayOf(cidr)}:${METRICS_PORT}`],
    labels: {machine, subnet: cidr, cluster},
  })).sort((a, b) => a.labels.machine.localeCompare(b.labels.machine))
}

export async function routerTargets(kv: Kv): Promise<FileSdGroup[]> {
  const subnets = await kvCall(kv, 'list the machines\' subnets', () => listSubnets(kv.client, kv.layout))
  return fileSdGroups(subnets, kv.clusterName)
}
