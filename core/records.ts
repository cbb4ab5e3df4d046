/**
 * One schema per record kind etcd holds (core/keys.ts), checked on every read by the CLI
 * and the router alike: what etcd holds may be anything (garbage, another tool's JSON, an
 * older version's record), and a value that fails is reported and skipped by the caller,
 * never cast. Peer records and revocations are checked in core/membership.ts (they are
 * signed), DNS records in core/dns-records.ts.
 */
import {BACKENDS, type ClusterSettings, type MachineRecord} from './model.js'
import {signatureProblem} from './membership.js'
import {isIPv4Cidr} from './ipv4.js'

/** A value read from etcd, or why it is not one. */
export type Checked<T> = {ok: T} | {error: string}

type Check = (v: unknown) => string | undefined

const str: Check = v => (typeof v === 'string' ? undefined : 'is not a string')
const optional = (check: Check): Check => v => (v === undefined ? undefined : check(v))
const oneOf = (values: readonly string[]): Check => v => (typeof v === 'string' && values.includes(v) ? undefined : `is not one of ${values.join(', ')}`)
const int = (min: number, max: number): Check => v => (Number.isInteger(v) && (v as number) >= min && (v as number) <= max ? undefined : `is not an integer in ${min}..${max}`)
const strings: Check = v => (Array.isArray(v) && v.every(s => typeof s === 'string') ? undefined : 'is not a list of strings')
const date: Check = v => (typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? undefined : 'is not a date')
const cidr: Check = v => (typeof v === 'string' && isIPv4Cidr(v) ? undefined : 'is not an IPv4 CIDR')
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const object = (fields: Record<string, Check>): Check => v => {
  if (!isObject(v)) return 'is not an object'
  for (const [field, check] of Object.entries(fields)) {
    const why = check(v[field])
    if (why) return why.startsWith('.') ? `.${field}${why}` : `.${field} ${why}`
  }
  return undefined
}
const record: Check = v => (isObject(v) && Object.values(v).every(s => typeof s === 'string') ? undefined : 'is not a map of strings')
const anyObject: Check = v => (isObject(v) ? undefined : 'is not an object')

const MACHINE = object({
  name: str,
  driver: str,
  driverData: anyObject,
  addresses: object({public: str, private: optional(str)}),
  dockerUrl: str,
  sshUser: str,
  sshPort: int(0, 65535),
  labels: record,
  engine: object({labels: strings, opts: strings, env: strings, insecureRegistries: strings, registryMirrors: strings, tlsSans: strings}),
  certFingerprint: str,
  caFingerprint: str,
  hostKey: optional(str),
  state: oneOf(['creating', 'ready', 'error', 'removing']),
  error: optional(str),
  swarm: optional(object({role: oneOf(['master', 'manager', 'worker']), master: optional(str), addr: optional(str), nodeId: optional(str)})),
  createdAt: date,
  createdBy: str,
  signature: optional(str),
})

const SETTINGS = object({
  name: str,
  range: cidr,
  subnetSize: int(1, 32),
  backend: oneOf(BACKENDS),
  domain: str,
  dnsUpstreams: optional(strings),
  signingKey: optional(str),
  caFingerprint: optional(str),
  createdAt: date,
})

/** The machine record stored at `<prefix>/machines/<name>`. */
export function checkMachineRecord(raw: string, name: string): Checked<MachineRecord> {
  return parsed(raw, MACHINE, v => ((v as MachineRecord).name === name ? undefined : `it names machine "${(v as MachineRecord).name}"`))
}

/**
 * The text a machine record's signature covers: the record's JSON without the signature,
 * fields in the order they came (JSON.parse and JSON.stringify keep it).
 */
export function machineSignedText(record: MachineRecord): string {
  const {signature: _, ...rest} = record
  return JSON.stringify(rest)
}

/** Why `record` is not signed by the cluster key `publicKey` (base64), if it is not. */
export function machineSignatureProblem(record: MachineRecord, publicKey: string): string | undefined {
  if (record.signature === undefined) return 'it carries no signature'
  return signatureProblem(machineSignedText(record), record.signature, publicKey)
}

/** The cluster settings at `<prefix>/settings`. */
export function checkSettings(raw: string): Checked<ClusterSettings> {
  return parsed(raw, SETTINGS)
}

/** A subnet lease: the key `<prefix>/subnets/<a.b.c.d-len>` holds the owner's name. */
export function checkSubnetLease(cidrOfKey: string, owner: string): Checked<{cidr: string; owner: string}> {
  if (!isIPv4Cidr(cidrOfKey)) return {error: `the key names no IPv4 subnet (${JSON.stringify(cidrOfKey)})`}
  if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/.test(owner)) return {error: `the owner is not a machine name (${JSON.stringify(owner.slice(0, 64))})`}
  return {ok: {cidr: cidrOfKey, owner}}
}

export function isChecked<T>(c: Checked<T>): c is {ok: T} {
  return 'ok' in c
}

function parsed<T>(raw: string, check: Check, also?: Check): Checked<T> {
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    return {error: 'not valid JSON'}
  }
  const why = check(value) ?? also?.(value)
  return why ? {error: why.startsWith('.') ? `field ${why.slice(1)}` : why} : {ok: value as T}
}
