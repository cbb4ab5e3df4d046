/** The digitalocean driver's factory: flags in, a DigitalOceanDriver out. */
import {randomBytes} from 'node:crypto'
import type {DriverContext, DriverData, DriverFactory, FlagValues} from '../sdk/index.js'
import {DigitalOceanDriver, DEFAULT_TUNING, type DoData, type DoTuning} from './driver.js'
import {DO_FLAGS, parseOptions} from './options.js'

/** A factory with its own polling and retry timing (tests poll fast; the CLI uses the defaults). */
export function createDigitalOceanFactory(tuning: DoTuning = DEFAULT_TUNING): DriverFactory {
  return {
    name: 'digitalocean',
    description: 'create droplets on DigitalOcean (API v2)',
    flags: DO_FLAGS,
    fromFlags(flags: FlagValues, ctx: DriverContext) {
      const o = parseOptions(flags)
      const id = randomBytes(6).toString('hex')
      const data: DoData = {
        apiUrl: o.apiUrl, sshUser: o.sshUser, sshPort: o.sshPort,
        marker: `cluster-machine-${id}`,
        keyName: o.reuseKey ? undefined : `cluster-${ctx.machineName}-${id}`,
        sshKeyFile: o.reuseKey ? 'id_reused' : 'id_ed25519',
        secret: {accessToken: o.token},
      }
      return new DigitalOceanDriver(data, ctx, tuning, o)
    },
    load(data: DriverData, ctx: DriverContext) {
      return new DigitalOceanDriver(data as DoData, ctx, tuning)
    },
  }
}

export const digitaloceanDriver: DriverFactory = createDigitalOceanFactory()
