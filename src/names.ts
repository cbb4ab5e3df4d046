import {InputError} from '../core/errors.js'

/**
 * Machine names become host names and etcd key segments, so they follow host name rules,
 * as Docker Machine's did: DNS labels (letters, digits, inner dashes) joined by single dots,
 * at most 63 characters in all.
 */
export const MACHINE_NAME = /^(?=.{1,63}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/

/**
 * Names that already mean something where a machine name lands: etcd's administrator and
 * Linux's superuser (root), every host's own loopback name, which every certificate holds
 * (localhost). Certificate and etcd user names are prefixed by purpose (CERT_NAMES in
 * src/tls/authorities.ts), so no other name can take a role; these are refused so they
 * cannot even look like one.
 */
const RESERVED = new Set(['root', 'localhost'])

export function validateMachineName(name: string): string {
  if (!MACHINE_NAME.test(name)) {
    throw new InputError(`invalid machine name "${name}"`,
      'use 1-63 letters, digits, dashes or dots, each dot-separated part starting and ending with a letter or digit (e.g. node-1 or web.eu)')
  }
  if (RESERVED.has(name.toLowerCase())) throw new InputError(`machine name "${name}" is reserved`, 'choose another name (e.g. node-1)')
  return name
}

/** `k=v` pairs from repeatable flags, with a clear error naming the flag. */
export function parseKeyValues(values: string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const v of values ?? []) {
    const eq = v.indexOf('=')
    if (eq <= 0) throw new InputError(`--${flag} "${v}" is not key=value`, `write it as --${flag} key=value`)
    out[v.slice(0, eq)] = v.slice(eq + 1)
  }
  return out
}
