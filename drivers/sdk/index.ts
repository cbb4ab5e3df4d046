/**
 * The driver SDK: everything a machine driver may use, built-in or third-party alike
 * (`import {…} from 'machine-cluster/driver-sdk'` in a `cluster-driver-<name>` package). Drivers
 * import nothing else of the CLI, so what the built-in drivers can do, any driver can.
 */
export type {
  Addresses, Driver, DriverContext, DriverData, DriverFactory, DriverFlag, FlagValues, MachineState, SshTarget,
} from './driver.js'
export {resolveFlagValues} from './flags.js'
export {ensureKeyPair, MACHINE_KEY_FILE, type KeyPair} from './ssh-key.js'
export {netmaskOf, numberToIp, parseIPv4Cidr, type IPv4Cidr} from '../../core/ipv4.js'
export {
  AlreadyExistsError, ClusterError, DriverError, InputError, NotFoundError, NotSupportedError,
} from '../../core/errors.js'
