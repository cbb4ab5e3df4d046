/**
 * Turning each driver's declared flags into oclif flags, and back into the driver's values.
 * oclif only parses the command line; environment variables, defaults and type conversion
 * are the registry's (resolveFlagValues), the same for every driver.
 */
import {Flags} from '@oclif/core'
import type {DriverFactory, FlagValues} from '../../drivers/sdk/driver.js'
import {InputError} from '../../core/errors.js'
import {resolveFlagValues} from '../../drivers/sdk/flags.js'

// oclif's flag types differ per kind; the create command only reads them back as FlagValues.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFlag = any

export function oclifFlagsOf(drivers: DriverFactory[]): Record<string, AnyFlag> {
  const out: Record<string, AnyFlag> = {}
  for (const d of drivers) {
    for (const f of d.flags) {
      const extra = [f.env ? `env: ${f.env}` : '', f.default !== undefined ? `default: ${f.default}` : ''].filter(Boolean).join(', ')
      const common = {description: extra ? `${f.description} [${extra}]` : f.description, helpGroup: d.name.toUpperCase()}
      if (f.type === 'boolean') out[f.name] = Flags.boolean(common)
      else if (f.type === 'integer') out[f.name] = Flags.integer(common)
      else if (f.type === 'string[]') out[f.name] = Flags.string({...common, multiple: true, multipleNonGreedy: true})
      else out[f.name] = Flags.string({...common, options: f.options})
    }
  }
  return out
}

/**
 * The chosen driver's values. A flag of another driver, given explicitly on the command
 * line, is an error rather than silently ignored.
 */
export function driverValues(chosen: DriverFactory, all: DriverFactory[], flags: Record<string, unknown>, argv: string[]): FlagValues {
  for (const d of all) {
    if (d.name === chosen.name) continue
    for (const f of d.flags) {
      if (argv.some(a => a === `--${f.name}` || a.startsWith(`--${f.name}=`))) {
        throw new InputError(`flag --${f.name} belongs to driver ${d.name}, not ${chosen.name}`, `drop it, or use -d ${d.name}`)
      }
    }
  }
  return resolveFlagValues(chosen.flags, Object.fromEntries(chosen.flags.map(f => [f.name, flags[f.name] as FlagValues[string]])))
}
