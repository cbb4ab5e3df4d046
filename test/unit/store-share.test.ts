import {test, after} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, existsSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, relative} from 'node:path'
import {LocalStore} from '../../src/store/local.js'
import {etcdRootFiles, loadOrCreateAuthorities} from '../../src/tls/authorities.js'
import {loadOrCreateSigningKey, signRevocation} from '../../src/signing.js'
import {addIssued, addRevocation, loadMembership, saveMembership, type Membership} from '../../src/store/membership.js'
import {writeSecret} from '../../core/files.js'
import {ClusterError, InputError} from '../../core/errors.js'
import {exportStore, importStore, readExportFile} from '../../src/store/share.js'
import {encodeBundle, isBundlePath, MAX_MACHINE_FILE_BYTES, type StoreBundle} from '../../src/store/bundle.js'
import {seal, unseal, SealedError, DEFAULT_COST, type ScryptCost} from '../../src/store/sealed.js'
import {readPassphrase, PASSPHRASE_ENV} from '../../src/cli/passphrase.js'
import {oneLine} from '../support/errors.js'
import type {MachineRecord} from '../../core/model.js'

/** scrypt's smallest accepted cost keeps the suite fast; one test uses the default. */
const FAST: ScryptCost = {log2N: 14, r: 8, p: 1}
const PASS = 'correct horse battery staple'
const root = mkdtempSync(join(tmpdir(), 'store-share-'))
const tmp = (p: string) => mkdtempSync(join(root, p))
after(() => rmSync(root, {recursive: true, force: true}))

const record = (name: string) => ({name, driver: 'generic', driverData: {ip: '198.18.0.11'}, addresses: {public: '198.18.0.11'}, dockerUrl: 'tcp://198.18.0.11:2376',
  sshUser: 'root', sshPort: 22, labels: {}, engine: {labels: [], opts: [], env: [], insecureRegistries: [], registryMirrors: [], tlsSans: []},
  certFingerprint: '', caFingerprint: '', state: 'ready', createdAt: '', createdBy: ''}) as MachineRecord

/** A store as `create` and `kv create` leave it: CAs, client and etcd root certificates, signing key, two machines. */
function sourceStore(): {store: LocalStore; kv: {endpoints: string[]; clusterName: string; cacert: string; cert: string; key: string}} {
  const store = new LocalStore(join(tmp('share-a-'), 'store'))
  loadOrCreateAuthorities(store)
  loadOrCreateSigningKey(store.root)
  const root = etcdRootFiles(store)
  // A store older than the purpose CAs keeps its first client certificate one folder down.
  mkdirSync(join(store.certsDir, 'legacy'), {mode: 0o700})
  writeSecret(join(store.certsDir, 'legacy/key.pem'), 'legacy key\n')
  for (const n of ['n1', 'n2']) {
    store.claimMachineDir(n)
    store.saveMachine({record: record(n)})
    writeSecret(join(store.machineDir(n), 'id_ed25519'), `-----BEGIN OPENSSH PRIVATE KEY-----\n${n}\n`)
    writeFileSync(join(store.machineDir(n), 'id_ed25519.pub'), `ssh-ed25519 AAAA ${n}\n`, {mode: 0o644})
    writeSecret(join(store.machineDir(n), 'known_hosts'), `198.18.0.11 ssh-ed25519 AAAAhost${n}\n`)
  }
  // A VM disk does not travel.
  writeFileSync(join(store.machineDir('n2'), 'disk.vmdk'), Buffer.alloc(MAX_MACHINE_FILE_BYTES + 1))
  const kv = {endpoints: ['https://198.18.0.22:2379', 'https://198.18.0.23:2379'], clusterName: 'team', ...root}
  store.writeConfig({clusterName: 'team', kv})
  return {store, kv}
}

/** Every file below dir with its mode and content, to compare before and after. */
function snapshotDir(dir: string): Record<string, string> {
  if (!existsSync(dir)) return {}
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const e of readdirSync(d, {withFileTypes: true})) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out[relative(dir, p)] = `${(statSync(p).mode & 0o777).toString(8)} ${readFileSync(p).toString('base64')}`
    }
  }
  walk(dir)
  return out
}

async function exported(cost = FAST) {
  const {store, kv} = sourceStore()
  const file = join(tmp('share-file-'), 'team.clusterstore')
  const r = await exportStore({store, kv, file, passphrase: async () => PASS, createdBy: 'alice@laptop', cost})
  return {store, kv, file, r}
}

const importInto = (root: string, file: string, passphrase = PASS) =>
  importStore({store: new LocalStore(root), file, data: readExportFile(file), passphrase})

test('round trip: an empty store gets the keys, machines and etcd settings, paths rewritten, modes kept', async () => {
  const {store, file, r} = await exported()
  assert.equal(statSync(file).mode & 0o777, 0o600)
  assert.deepEqual(r.machines, ['n1', 'n2'])
  assert.deepEqual(r.leftOut.map(l => l.path), ['machines/n2/disk.vmdk'])
  const dest = join(tmp('share-b-'), 'store')
  const got = importInto(dest, file)
  assert.equal(got.clusterName, 'team')
  assert.equal(got.createdBy, 'alice@laptop')
  assert.deepEqual(got.machines, ['n1', 'n2'])

  const before = snapshotDir(store.root)
  const after = snapshotDir(dest)
  delete before['machines/n2/disk.vmdk']
  delete before['config.json']
  const {['config.json']: config, ...rest} = after
  assert.deepEqual(rest, before)
  assert.ok(config.startsWith('600 '))
  assert.deepEqual(new LocalStore(dest).readConfig(), {clusterName: 'team', kv: {endpoints: ['https://198.18.0.22:2379', 'https://198.18.0.23:2379'],
    cacert: join(dest, 'certs/etcd-member-ca.pem'), cert: join(dest, 'certs/etcd-root.pem'), key: join(dest, 'certs/etcd-root-key.pem')}})
  for (const secret of ['certs/legacy/key.pem', 'certs/ca-key.pem', 'certs/key.pem', 'certs/etcd-root-key.pem', 'certs/docker-client-ca-key.pem', 'certs/etcd-client-ca-key.pem', 'certs/etcd-member-ca-key.pem', 'signing.key', 'machines/n1/id_ed25519', 'machines/n1/known_hosts', 'machines/n1/machine.json']) {
    assert.equal(statSync(join(dest, secret)).mode & 0o777, 0o600, secret)
  }
  assert.equal(statSync(join(dest, 'machines/n1')).mode & 0o777, 0o700)
  assert.deepEqual(new LocalStore(dest).getMachine('n1').record, record('n1'))

  // Importing again into the same store: the same cluster, every file unchanged.
  const again = importInto(dest, file)
  assert.equal(again.writes.length, 0)
  assert.equal(again.unchanged, got.writes.length)
})

test('the default scrypt cost round-trips too (and the export is small)', async () => {
  const started = Date.now()
  const {file, r} = await exported(DEFAULT_COST)
  const dest = join(tmp('share-b-'), 'store')
  importInto(dest, file)
  assert.ok(existsSync(join(dest, 'signing.key')))
  console.log(`export ${r.bytes} bytes; export + import at N=2^${DEFAULT_COST.log2N}: ${Date.now() - started} ms`)
})

test('a wrong passphrase: one error, nothing written', async () => {
  const {file} = await exported()
  const dest = join(tmp('share-b-'), 'store')
  assert.throws(() => importInto(dest, file, 'not the passphrase'), (e: Error) =>
    e instanceof ClusterError && /^.*team\.clusterstore: the passphrase does not open this file; nothing was written: /.test(e.oneLine()) && !e.oneLine().includes('\n'))
  assert.equal(existsSync(dest), false)
})

test('a changed byte anywhere, or a truncated file: refused, nothing written', async () => {
  const {file} = await exported()
  const good = readFileSync(file)
  const dest = join(tmp('share-b-'), 'store')
  const cases: [string, (b: Buffer) => Buffer, RegExp][] = [
    ['ciphertext byte', b => flip(b, 100), /damaged or truncated/],
    ['tag byte', b => flip(b, b.length - 1), /damaged or truncated/],
    ['nonce byte', b => flip(b, 30), /damaged or truncated/],
    ['salt byte', b => flip(b, 13), /passphrase does not open this file/],
    ['scrypt cost', b => { const c = Buffer.from(b); c[9] = 40; return c }, /header is not one this cluster writes/],
    ['version', b => { const c = Buffer.from(b); c[8] = 2; return c }, /export format 2; this cluster reads format 1/],
    ['magic', b => flip(b, 0), /not a cluster store export/],
    ['last byte cut', b => b.subarray(0, b.length - 1), /damaged or truncated/],
    ['cut in the middle', b => b.subarray(0, Math.floor(b.length / 2)), /damaged or truncated/],
    ['cut in the header', b => b.subarray(0, 30), /truncated/],
    ['appended byte', b => Buffer.concat([b, Buffer.from([0])]), /damaged or truncated/],
  ]
  for (const [what, change, message] of cases) {
    writeFileSync(file, change(good))
    assert.throws(() => importInto(dest, file), (e: Error) => e instanceof ClusterError && message.test(e.message) && /nothing was written/.test(e.message), what)
    assert.equal(existsSync(dest), false, what)
  }
  writeFileSync(file, good)
  importInto(dest, file)
})

test('the membership memory travels: an empty store gets it; a store with its own keeps both sides\' revocations, less those spent', async () => {
  const {store, kv} = sourceStore()
  const {secretKey, publicKey} = loadOrCreateSigningKey(store.root)
  const revoke = (m: Membership, name: string, before: string) => addRevocation(m, signRevocation(name, new Date(before), secretKey), publicKey)
  const theirs: Membership = {revocations: new Map(), newest: new Map()}
  revoke(theirs, 'gone1', '2026-11-20T10:00:00.000Z')
  revoke(theirs, 'gone2', '2026-11-20T10:00:00.000Z')
  revoke(theirs, 'gone3', '2026-11-20T10:00:00.000Z')
  addIssued(theirs, 'n1', '2026-11-19T10:00:00.000Z')
  saveMembership(store.root, theirs)
  // A forged entry in the exporter's file does not travel.
  const saved = JSON.parse(readFileSync(join(store.root, 'membership.json'), 'utf8')) as {revocations: unknown[]}
  saved.revocations.push(signRevocation('n2', new Date(), loadOrCreateSigningKey(tmp('other-key-')).secretKey))
  writeFileSync(join(store.root, 'membership.json'), JSON.stringify(saved))
  const file = join(tmp('share-file-'), 'team.clusterstore')
  await exportStore({store, kv, file, passphrase: async () => PASS, createdBy: '', cost: FAST})

  const dest = join(tmp('share-b-'), 'store')
  assert.equal(importInto(dest, file).revocations, 3)
  assert.equal(statSync(join(dest, 'membership.json')).mode & 0o777, 0o600)
  const got = loadMembership(dest, publicKey)
  assert.deepEqual([...got.revocations.keys()].sort(), ['gone1', 'gone2', 'gone3'])
  assert.deepEqual(Object.fromEntries(got.newest), {n1: '2026-11-19T10:00:00.000Z'})

  // The importer then learns on its own: gone4 revoked, gone2 revoked again later, gone3 created again.
  const ours = loadMembership(dest, publicKey)
  revoke(ours, 'gone4', '2026-11-21T10:00:00.000Z')
  revoke(ours, 'gone2', '2026-11-22T10:00:00.000Z')
  addIssued(ours, 'gone3', '2026-11-21T10:00:00.000Z')
  saveMembership(dest, ours)
  const merged = importInto(dest, file)
  assert.equal(merged.revocations, 3)
  const after = loadMembership(dest, publicKey)
  assert.deepEqual([...after.revocations.keys()].sort(), ['gone1', 'gone2', 'gone4'], 'gone3 was created again here: the exporter\'s revocation is spent')
  assert.equal(after.revocations.get('gone2')!.revocation.before, '2026-11-22T10:00:00.000Z', 'the later revocation of a name wins')
  assert.equal(after.newest.get('gone3'), '2026-11-21T10:00:00.000Z')
  // Importing the same export again changes nothing; an export without membership leaves the store's file alone.
  const before = snapshotDir(dest)
  assert.equal(importInto(dest, file).writes.length, 0)
  const bare = join(tmp('share-file-'), 'bare.clusterstore')
  rmSync(join(store.root, 'membership.json'))
  await exportStore({store, kv, file: bare, passphrase: async () => PASS, createdBy: '', cost: FAST})
  assert.equal(importInto(dest, bare).revocations, 3, 'the store\'s own count')
  assert.deepEqual(snapshotDir(dest), before)
})

test('an export whose membership is not the file\'s shape is refused, nothing written', () => {
  const bundle = {format: 1, clusterName: 'team', createdAt: '', createdBy: '', files: [], config: {kv: {endpoints: ['http://198.18.0.2:2379']}},
    membership: {revocations: 'all'}} as unknown as StoreBundle
  const file = join(tmp('share-file-'), 'odd')
  writeFileSync(file, seal(encodeBundle(bundle), PASS, FAST))
  const dest = join(tmp('share-b-'), 'store')
  assert.throws(() => importInto(dest, file), /the export's content is not valid \(membership\)/)
  assert.equal(existsSync(dest), false)
})

const flip = (b: Buffer, at: number) => {
  const c = Buffer.from(b)
  c[at] ^= 0x01
  return c
}

test('a store of another cluster is refused, and left as it was', async () => {
  const {file} = await exported()
  const other = sourceStore().store
  const before = snapshotDir(other.root)
  assert.throws(() => importInto(other.root, file), oneLine(/belongs to another cluster \(its certs\/ca\.pem differs from the export's\); nothing was written: import into an empty folder/))
  assert.deepEqual(snapshotDir(other.root), before)
  // A store set to another cluster name, even without keys.
  const named = new LocalStore(join(tmp('share-b-'), 'store'))
  named.writeConfig({clusterName: 'prod'})
  assert.throws(() => importInto(named.root, file), /is set to cluster "prod", the export holds cluster "team"/)
})

test('a write that fails half-way leaves no file behind', async () => {
  const {file} = await exported()
  const dest = join(tmp('share-b-'), 'store')
  // machines/n2 is a file, so the machine's folder cannot be made: certs/ was staged first.
  mkdirSync(join(dest, 'machines'), {recursive: true})
  writeFileSync(join(dest, 'machines/n2'), 'in the way')
  const before = snapshotDir(dest)
  assert.throws(() => importInto(dest, file), /cannot write into the store .*; nothing was imported/)
  assert.deepEqual(snapshotDir(dest), before)
})

test('an export whose content names a path outside the store is refused, nothing written', async () => {
  const bundle: StoreBundle = {format: 1, clusterName: 'team', createdAt: '', createdBy: '', files: [{path: '../escape', mode: 0o600, data: ''}],
    config: {kv: {endpoints: ['http://198.18.0.2:2379']}}}
  const file = join(tmp('share-file-'), 'evil')
  writeFileSync(file, seal(encodeBundle(bundle), PASS, FAST))
  const dest = join(tmp('share-b-'), 'store')
  assert.throws(() => importInto(dest, file), /the export's content is not valid \(file \.\.\/escape\)/)
  assert.equal(existsSync(dest), false)
  for (const p of ['certs/ca.pem', 'certs/legacy/key.pem', 'signing.key', 'machines/n1/id_ed25519']) assert.ok(isBundlePath(p), p)
  for (const p of ['config.json', '../x', 'certs/../x', 'certs/.hidden', 'certs/../../x', 'certs/a/b/c', 'machines/-bad/x', 'machines/n1/sub/x', '/etc/passwd', 'cache/tls']) assert.ok(!isBundlePath(p), p)
})

test('export refuses a store with no cluster, or no etcd endpoint; not a file: one line', async () => {
  const empty = new LocalStore(join(tmp('share-a-'), 'store'))
  const file = join(tmp('share-file-'), 'x')
  await assert.rejects(() => exportStore({store: empty, kv: {endpoints: ['http://198.18.0.2:2379'], clusterName: 'c'}, file, passphrase: () => assert.fail('asked for a passphrase'), createdBy: ''}),
    /holds no cluster CA and signing key/)
  const {store} = sourceStore()
  await assert.rejects(() => exportStore({store, kv: {endpoints: [], clusterName: 'c'}, file, passphrase: () => assert.fail('asked for a passphrase'), createdBy: ''}), InputError)
  assert.equal(existsSync(file), false)
  writeFileSync(file, 'SQLite format 3\0 not ours')
  assert.throws(() => readExportFile(file), oneLine(/: not a cluster store export; nothing was written: name a file written by `cluster store export`$/))
  assert.throws(() => readExportFile(join(file, 'nope')), InputError)
})

test('an http etcd exports no TLS files in the config; an https one with files outside the store carries them', async () => {
  const {store, kv} = sourceStore()
  const dir = tmp('share-file-')
  const plain = await exportStore({store, kv: {...kv, endpoints: ['http://198.18.0.2:2379']}, file: join(dir, 'a'), passphrase: async () => PASS, createdBy: '', cost: FAST})
  assert.deepEqual(plain.endpoints, ['http://198.18.0.2:2379'])
  const d1 = join(tmp('share-b-'), 'store')
  importInto(d1, join(dir, 'a'))
  assert.deepEqual(new LocalStore(d1).readConfig().kv, {endpoints: ['http://198.18.0.2:2379']})

  const outside = join(dir, 'my-etcd-ca.pem')
  writeFileSync(outside, readFileSync(kv.cacert))
  await exportStore({store, kv: {...kv, cacert: outside}, file: join(dir, 'b'), passphrase: async () => PASS, createdBy: '', cost: FAST})
  const d2 = join(tmp('share-b-'), 'store')
  importInto(d2, join(dir, 'b'))
  const cfg = new LocalStore(d2).readConfig().kv!
  assert.equal(cfg.cacert, join(d2, 'certs/kv-cacert-my-etcd-ca.pem'))
  assert.deepEqual(readFileSync(cfg.cacert), readFileSync(outside))
})

test('sealed: the header is bound to the ciphertext; each seal has its own salt and nonce', async () => {
  const a = seal(Buffer.from('x'), PASS, FAST)
  const b = seal(Buffer.from('x'), PASS, FAST)
  assert.notDeepEqual(a.subarray(12, 40), b.subarray(12, 40))
  assert.equal(unseal(a, PASS).toString(), 'x')
  assert.throws(() => unseal(a, 'nope'), (e: Error) => e instanceof SealedError && e.reason === 'passphrase')
})

test('passphrase: file first line, then the environment, then a prompt; export asks twice and wants 12 characters', async () => {
  const file = join(tmp('share-pass-'), 'p')
  writeFileSync(file, `${PASS}\nignored\n`)
  assert.equal(await readPassphrase({file, env: {[PASSPHRASE_ENV]: 'other'}, confirm: true}), PASS)
  assert.equal(await readPassphrase({env: {[PASSPHRASE_ENV]: PASS}, confirm: true}), PASS)
  const answers = (...a: string[]) => async () => a.shift()!
  assert.equal(await readPassphrase({env: {}, confirm: true, prompt: answers(PASS, PASS)}), PASS)
  await assert.rejects(readPassphrase({env: {}, confirm: true, prompt: answers(PASS, 'typo')}), /the two passphrases differ/)
  await assert.rejects(readPassphrase({env: {[PASSPHRASE_ENV]: 'short'}, confirm: true}), oneLine(/has 5 characters.*at least 12/))
  assert.equal(await readPassphrase({env: {[PASSPHRASE_ENV]: 'short'}, confirm: false}), 'short')
  await assert.rejects(readPassphrase({env: {[PASSPHRASE_ENV]: ''}, confirm: false}), /empty/)
  await assert.rejects(readPassphrase({file: join(file, 'no'), env: {}, confirm: false}), InputError)
  if (!process.stdin.isTTY) await assert.rejects(readPassphrase({env: {}, confirm: false}), oneLine(/no passphrase given and no terminal to ask on: set CLUSTER_STORE_PASSPHRASE/))
})
