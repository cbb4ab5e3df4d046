// Puts COUNT synthetic machine records into etcd, copies of a real machine's record under
// other names, so `cluster ls` checks COUNT live engines; UNREACHABLE of them point at a lab
// address where nothing answers, to show they are marked within --timeout. A copy keeps the
// real record's signature, which does not cover its new name: ls checks each record's shape
// (core/records.ts) but no signature (only a store that never met a machine checks one, before
// SSH), so the copies list as the real machine does.
// usage: node seed.mjs ENDPOINT CLUSTER REAL_NAME COUNT UNREACHABLE STORE
import {Etcd3} from 'etcd3'
import {mkdirSync, writeFileSync, rmSync, readdirSync} from 'node:fs'
import {join} from 'node:path'

const [endpoint, cluster, real, count, unreachable, store] = process.argv.slice(2)
const etcd = new Etcd3({hosts: endpoint})
const prefix = `/cluster/${cluster}/machines/`
const base = JSON.parse(await etcd.get(prefix + real).string())
for (const k of await etcd.getAll().prefix(prefix + 'synthetic-').keys()) await etcd.delete().key(k)
for (const d of readdirSync(join(store, 'machines'))) if (d.startsWith('synthetic-')) rmSync(join(store, 'machines', d), {recursive: true})
for (let i = 1; i < Number(count); i++) {
  const name = `synthetic-${String(i).padStart(3, '0')}`
  const dead = i <= Number(unreachable)
  const ip = dead ? '198.18.0.251' : base.addresses.public
  const record = {...base, name, addresses: {public: ip}, dockerUrl: `tcp://${ip}:2376`, driverData: {...base.driverData, ip}}
  await etcd.put(prefix + name).value(JSON.stringify(record))
  mkdirSync(join(store, 'machines', name), {recursive: true})
  writeFileSync(join(store, 'machines', name, 'machine.json'), JSON.stringify({record}))
}
etcd.close()
