/**
 * A machine in the shape Docker Machine's `inspect` printed (libmachine's Host), so the
 * templates its users wrote (`{{.DriverName}}`, `{{.Driver.IPAddress}}`,
 * `{{.HostOptions.EngineOptions.Labels}}`…) read the same values from our record.
 */
import {join} from 'node:path'
import type {MachineRecord} from '../../core/model.js'

export interface StorePaths {
  root: string
  machineDir: string
  certs: {ca: string; cert: string; key: string}
}

/** The value of a dockerd flag given as `--engine-opt key=value`, e.g. storage-driver. */
export function engineOptValue(opts: string[], key: string): string {
  const found = opts.find(o => o.startsWith(`${key}=`))
  return found ? found.slice(key.length + 1) : ''
}

export function dockerMachineView(r: MachineRecord, p: StorePaths): Record<string, unknown> {
  const capitalized = Object.fromEntries(Object.entries(r.driverData).map(([k, v]) => [k.charAt(0).toUpperCase() + k.slice(1), v]))
  return {
    ConfigVersion: 3,
    Driver: {
      ...capitalized,
      IPAddress: r.addresses.public, MachineName: r.name, SSHUser: r.sshUser, SSHPort: r.sshPort,
      SSHKeyPath: join(p.machineDir, 'id_ed25519'), StorePath: p.root,
    },
    DriverName: r.driver,
    HostOptions: {
      EngineOptions: {
        ArbitraryFlags: r.engine.opts, Env: r.engine.env, InsecureRegistry: r.engine.insecureRegistries, Labels: r.engine.labels,
        RegistryMirror: r.engine.registryMirrors, StorageDriver: engineOptValue(r.engine.opts, 'storage-driver'), TlsVerify: true,
      },
      SwarmOptions: {IsSwarm: !!r.swarm, Master: r.swarm !== undefined && r.swarm.role !== 'worker', Host: r.swarm?.addr ?? '', ArbitraryFlags: []},
      AuthOptions: {
        CertDir: join(p.root, 'certs'), CaCertPath: p.certs.ca, ClientCertPath: p.certs.cert, ClientKeyPath: p.certs.key,
        ServerCertSANs: r.engine.tlsSans, StorePath: p.machineDir,
      },
    },
    Name: r.name,
  }
}
