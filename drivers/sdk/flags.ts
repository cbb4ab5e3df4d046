/** Driver flags as a driver reads them: given, else from the environment, else the default. */
import {InputError} from '../../core/errors.js'
import type {DriverFlag, FlagValues} from './driver.js'

/**
 * Flag values as a driver expects them: the value given on the command line, else its
 * environment variable, else its default, converted to the flag's type.
 */
export function resolveFlagValues(flags: DriverFlag[], given: FlagValues, env: NodeJS.ProcessEnv = process.env): FlagValues {
  const values: FlagValues = {...given}
  for (const flag of flags) {
    let value = given[flag.name]
    let source = `--${flag.name}`
    if ((value === undefined || value === '') && flag.env && env[flag.env] !== undefined && env[flag.env] !== '') {
      value = env[flag.env]
      source = flag.env
    }
    values[flag.name] = value === undefined ? flag.default : convert(flag, value, source)
  }
  return values
}

function convert(flag: DriverFlag, value: string | number | boolean | string[], source: string): FlagValues[string] {
  switch (flag.type) {
    case 'integer': {
      const n = typeof value === 'number' ? value : Number(value)
      if (!Number.isInteger(n)) throw new InputError(`${source} "${String(value)}" is not a whole number`, `set ${source} to an integer`)
      return n
    }
    case 'boolean':
      if (typeof value === 'boolean') return value
      if (/^(1|true|yes|on)$/i.test(String(value))) return true
      if (/^(0|false|no|off)$/i.test(String(value))) return false
      throw new InputError(`${source} "${String(value)}" is not a boolean`, `set ${source} to true or false`)
    case 'string[]':
      return Array.isArray(value) ? value : String(value).split(',').map(s => s.trim()).filter(Boolean)
    default:
      return String(value)
  }
}
