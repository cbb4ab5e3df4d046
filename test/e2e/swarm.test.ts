/**
 * Swarm mode end to end, on three fresh trixie lab hosts of our own: a master and two
 * workers made with `cluster create --swarm`, judged with the stock docker client through
 * `cluster env --swarm`, packet captures on the lab network, etcd's raw contents and
 * `cluster rm`.
 *
 * The lab kernel has no IPVS, so swarm's virtual IPs (and the ingress routing mesh) cannot
 * work here: services use `--endpoint-mode dnsrr`, which needs none.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {Etcd3} from 'etcd3'
import {ETCD_ENDPOINT, IMAGES, SSH_KEY, exec, execOk, loadImage, removeHost, run, startHost, type LabHost} from '../lab/lab.js'
import {cli, cliOk, newCliEnv, CLUSTER_BIN, type CliEnv} from '../support/cli.js'
import {openTokens} from '../../src/swarm/tokens.js'
import {waitFor} from '../support/wait.js'

const CLUSTER = `e2e-swarm-${process.pid}`
const env: CliEnv = newCliEnv(CLUSTER, ETCD_ENDPOINT)
const prefix = `/cluster/${CLUSTER}/`
const NET = ['--overlay-range', '198.19.0.0/16']
/** Swarm's own networks (ingress, overlays) from the lab's range too: Docker's default is 10.0.0.0/8. */
const POOL = ['--swarm-opt', 'default-addr-pool=198.18.224.0/20']
const MARKER = 'swarm-marker-7f3a91'

const hosts: Record<'queenbee' | 'workerbee1' | 'workerbee2' | 'queenbee2', LabHost> = {} as never
const etcd = new Etcd3({hosts: ETCD_ENDPOINT})

function createArgs(name: keyof typeof hosts, ...extra: string[]): string[] {
  return ['create', '-d', 'generic', '--generic-ip-address', hosts[name].ip, '--generic-ssh-key', SSH_KEY, ...NET, '--swarm', ...extra, name]
}

/** The docker CLI of this machine after `eval "$(cluster env --swarm NAME)"`. */
async function swarmDocker(name: string, dockerArgs: string): Promise<string> {
  const r = await run('bash', ['-c', `eval "$(CLUSTER_STORAGE_PATH=${env.storage} ${process.execPath} ${CLUSTER_BIN} env --swarm ${name})" && echo "DOCKER_HOST=$DOCKER_HOST" >&2 && docker ${dockerArgs}`], {timeoutMs: 120_000})
  if (r.code !== 0) throw new Error(`docker ${dockerArgs} via ${name}: ${r.stderr}`)
  return r.stdout
}

interface Task {
  node: string
  container: string
  ip: string
}

/** Running tasks of a service: the node, container and address, read on each lab host. */
async function tasksOf(service: string, network: string): Promise<Task[]> {
  const out: Task[] = []
  for (const h of Object.values(hosts)) {
    const r = await exec(h.name, ['sh', '-c', `for c in $(docker ps -q -f label=com.docker.swarm.service.name=${service}); do echo "$c $(docker inspect -f '{{(index .NetworkSettings.Networks "${network}").IPAddress}}' $c)"; done`])
    for (const line of r.stdout.trim().split('\n').filter(Boolean)) {
      const [container, ip] = line.split(' ')
      out.push({node: h.name, container: container!, ip: ip!})
    }
  }
  return out
}

/** Runs `cmd` inside a task container on its lab host. */
function inTask(t: Task, cmd: string): Promise<string> {
  return execOk(t.node, ['docker', 'exec', t.container, 'sh', '-c', cmd], {timeoutMs: 60_000})
}

const WEB = `${IMAGES.busybox} sh -c 'mkdir -p /w && echo ${MARKER}-$(hostname) > /w/index.html && head -c 300000 /dev/zero | tr "\\\\0" x > /w/pad && httpd -f -p 80 -h /w'`

/** tcpdump on `capturer`'s lab interface while `send` runs: the text seen and the packet count. */
async function capture(capturer: string, filter: string, send: () => Promise<unknown>): Promise<{text: string; packets: number}> {
  const child = spawn('docker', ['exec', capturer, 'timeout', '8', 'tcpdump', '-i', 'eth0', '-l', '-n', '-A', '-s', '0', ...filter.split(' ')])
  let text = ''
  let log = ''
  child.stdout.on('data', (d: Buffer) => (text += d.toString('latin1')))
  child.stderr.on('data', (d: Buffer) => (log += d.toString()))
  const exited = new Promise<void>(resolve => child.on('close', () => resolve()))
  await waitFor('tcpdump listening', async () => log.includes('listening') || undefined, 5000)
  await send()
  await exited
  return {text, packets: text.split('\n').filter(l => /^\d\d:\d\d:\d\d\.\d+ /.test(l)).length}
}

before(async () => {
  const names = Object.keys({queenbee: 0, workerbee1: 0, workerbee2: 0, queenbee2: 0}) as (keyof typeof hosts)[]
  const started = await Promise.all(names.map(n => startHost({name: `e2e-swarm-${n}`, image: 'trixie'})))
  names.forEach((n, i) => (hosts[n] = started[i]!))
  await Promise.all(started.map(h => loadImage(h.name, IMAGES.busybox)))
})

after(async () => {
  for (const n of ['workerbee2', 'workerbee1', 'queenbee', 'queenbee2']) await cli(env, ['rm', '-f', '-y', n])
  await Promise.all(Object.values(hosts).map(h => removeHost(h.name)))
  await etcd.delete().prefix(prefix).exec()
  etcd.close()
})

test('bad swarm flags fail at once with one line, and make nothing', async () => {
  const cases: [string[], RegExp][] = [
    [['create', '-d', 'generic', '--generic-ip-address', '198.18.0.254', '--swarm-master', 'x1'], /^Error: --swarm-master and --swarm-opt need --swarm: add --swarm$/],
    [['create', '-d', 'generic', '--generic-ip-address', '198.18.0.254', '--swarm', '--swarm-master', '--swarm-opt', 'bogus=1', 'x2'], /^Error: invalid --swarm-opt "bogus=1": use key=value with a key among /],
    [['create', '-d', 'generic', '--generic-ip-address', '198.18.0.254', ...NET, '--swarm', 'x3'], /^Error: cluster e2e-swarm-\d+ has no swarm master yet: create the first swarm host with --swarm --swarm-master$/],
  ]
  for (const [args, re] of cases) {
    const r = await cli(env, args, {timeoutMs: 60_000})
    assert.notEqual(r.code, 0, args.join(' '))
    assert.match(r.stderr.trim().split('\n').pop()!, re, r.stderr)
  }
  assert.deepEqual(Object.keys(await etcd.getAll().prefix(prefix).strings()), [], 'not even the cluster settings')
})

test('a master and two workers form one swarm; env --swarm points at the master; docker info shows 3 nodes', async () => {
  const t0 = Date.now()
  await cliOk(env, createArgs('queenbee', '--swarm-master', ...POOL))
  const tMaster = Date.now() - t0
  await Promise.all([cliOk(env, createArgs('workerbee1')), cliOk(env, createArgs('workerbee2'))])
  console.log(`# master created in ${tMaster} ms, two workers in parallel in ${Date.now() - t0 - tMaster} ms`)

  const info = JSON.parse(await swarmDocker('workerbee1', 'info --format "{{json .Swarm}}"')) as {Nodes: number; Managers: number; NodeAddr: string; ControlAvailable: boolean}
  assert.equal(info.Nodes, 3)
  assert.equal(info.Managers, 1)
  assert.equal(info.ControlAvailable, true, 'env --swarm of a worker points at the manager')
  const ls = JSON.parse(await cliOk(env, ['ls', '--json'])) as {name: string; swarm: string}[]
  assert.deepEqual(ls.map(r => [r.name, r.swarm]), [['queenbee', 'queenbee (master)'], ['workerbee1', 'queenbee'], ['workerbee2', 'queenbee']])
  // Docker Machine's `ls --filter swarm=MASTER` (its/cli ls_test): the master and its members; a worker's name is no swarm.
  assert.deepEqual((await cliOk(env, ['ls', '-q', '--filter', 'swarm=queenbee'])).trim().split('\n'), ['queenbee', 'workerbee1', 'workerbee2'])
  assert.equal((await cliOk(env, ['ls', '-q', '--filter', 'swarm=workerbee1'])).trim(), '')
  assert.deepEqual((await cliOk(env, ['ls', '-q', '--filter', 'swarm=queenbee', '--filter', 'name=bee1$'])).trim().split('\n'), ['workerbee1'])
  // Every node advertises its overlay address (inside 198.19.0.0/16), never its lab address.
  const addrs = (await swarmDocker('queenbee', 'node ls -q')).trim().split('\n')
  for (const id of addrs) {
    const addr = (await swarmDocker('queenbee', `node inspect -f '{{.Status.Addr}}' ${id}`)).trim()
    assert.match(addr, /^198\.19\.\d+\.\d+$/, `node ${id} advertises ${addr}`)
  }
  const managerAddr = (await swarmDocker('queenbee', `info --format '{{range .Swarm.RemoteManagers}}{{.Addr}}{{end}}'`)).trim()
  assert.match(managerAddr, /^198\.19\.\d+\.\d+:2377$/)
  // dockerd binds 2377 on every address; from outside the overlay (this machine, on the lab
  // network) the router's firewall drops it, while the overlay address answers.
  const fromLab = await run('bash', ['-c', `timeout 3 bash -c '</dev/tcp/${hosts.queenbee.ip}/2377' && echo open || echo closed`])
  assert.equal(fromLab.stdout.trim(), 'closed')
  const fromOverlay = await exec(hosts.workerbee1.name, ['bash', '-c', `timeout 3 bash -c '</dev/tcp/${managerAddr.replace(':', '/')}' && echo open || echo closed`])
  assert.equal(fromOverlay.stdout.trim(), 'open')
})

test('etcd holds the join tokens only sealed: no SWMTKN anywhere, and the seal opens to the real token', async () => {
  const dump = await run('env', ['ETCDCTL_API=3', 'etcdctl', '--endpoints', ETCD_ENDPOINT, 'get', '--prefix', prefix])
  assert.equal(dump.code, 0, dump.stderr)
  assert.match(dump.stdout, /swarm\/tokens/)
  assert.doesNotMatch(dump.stdout, /SWMTKN/)
  const worker = (await swarmDocker('queenbee', 'swarm join-token -q worker')).trim()
  assert.match(worker, /^SWMTKN-1-/)
  const sealed = (await etcd.get(`${prefix}swarm/tokens`).string())!
  const signing = Buffer.from(readFileSync(join(env.storage, 'signing.key'), 'utf8').trim(), 'base64')
  assert.equal(openTokens(sealed, signing).worker, worker)
})

test('a 3-replica service on the cluster network spreads over the 3 nodes; its tasks have routable cluster IPs and a cluster DNS name', async () => {
  await swarmDocker('queenbee', `service create -d --name web --network bridge --replicas 3 --container-label cluster.dns.alias=web ${WEB}`)
  const tasks = await waitFor('3 running web tasks', async () => { const t = await tasksOf('web', 'bridge'); return t.length === 3 ? t : undefined }, 30_000, 500)
  assert.deepEqual(new Set(tasks.map(t => t.node)).size, 3, JSON.stringify(tasks))
  for (const t of tasks) assert.match(t.ip, /^198\.19\./, `${t.node}: ${t.ip} is a cluster address`)
  for (const from of tasks) {
    for (const to of tasks.filter(t => t !== from)) {
      const body = await waitFor(`${from.node} → ${to.ip}`, () => inTask(from, `wget -qO- -T 3 http://${to.ip}/`), 15_000, 500)
      assert.match(body, new RegExp(`^${MARKER}-`))
    }
  }
  // Cluster DNS (the router's resolver on the bridge address): the alias label names every task.
  const [first] = tasks as [Task]
  const answer = await waitFor('cluster DNS answers web with every task', async () => {
    const a = await inTask(first, 'nslookup web')
    return tasks.every(t => a.includes(t.ip)) ? a : undefined
  }, 20_000, 500)
  assert.ok(answer, answer)
  const seen = new Set<string>()
  for (let i = 0; i < tasks.length; i++) seen.add((await inTask(first, `wget -qO- -T 3 http://web.cluster.internal/`)).trim())
  assert.ok([...seen].every(b => b.startsWith(MARKER)), [...seen].join(', '))
})

test('a 3-replica service on a swarm overlay network: spread, reachable by IP and by name (swarm DNS), VXLAN inside WireGuard', async () => {
  await swarmDocker('queenbee', 'network create -d overlay --opt com.docker.network.driver.mtu=1420 app')
  await swarmDocker('queenbee', `service create -d --name api --network app --endpoint-mode dnsrr --replicas 3 ${WEB}`)
  const tasks = await waitFor('3 running api tasks', async () => { const t = await tasksOf('api', 'app'); return t.length === 3 ? t : undefined }, 30_000, 500)
  assert.equal(new Set(tasks.map(t => t.node)).size, 3, JSON.stringify(tasks))
  const [a, b, c] = tasks as [Task, Task, Task]
  for (const to of [b, c]) {
    assert.match(await waitFor(`${a.node} → ${to.ip}`, () => inTask(a, `wget -qO- -T 3 http://${to.ip}/`), 15_000, 500), new RegExp(`^${MARKER}-`))
  }
  // By name: swarm's DNS answers the service name (dnsrr: every task) and tasks.<service>.
  for (const name of ['api', 'tasks.api']) {
    const answer = await inTask(a, `nslookup ${name} 127.0.0.11`)
    for (const t of tasks) assert.ok(answer.includes(t.ip), `${name} lists ${t.ip}:\n${answer}`)
  }
  assert.match(await inTask(a, 'wget -qO- -T 3 http://api/'), new RegExp(`^${MARKER}-`))

  // While tasks on workerbee1 fetch pages (marker + 300 KB) from the other nodes over both
  // networks, workerbee2's lab interface sees only WireGuard: no marker, no VXLAN, no gossip.
  const web = await tasksOf('web', 'bridge')
  const from = tasks.find(t => t.node === hosts.workerbee1.name)!
  const fromWeb = web.find(t => t.node === hosts.workerbee1.name)!
  const targets = [...tasks, ...web].filter(t => t.node === hosts.workerbee2.name)
  const seenOnWire = await capture(hosts.workerbee2.name, 'not tcp port 22 and not tcp port 2376', async () => {
    for (let i = 0; i < 3; i++) {
      await inTask(from, `wget -qO- -T 3 http://${targets[0]!.ip}/ && wget -qO /dev/null -T 3 http://${targets[0]!.ip}/pad`)
      await inTask(fromWeb, `wget -qO- -T 3 http://${targets[1]!.ip}/ && wget -qO /dev/null -T 3 http://${targets[1]!.ip}/pad`)
    }
  })
  assert.ok(seenOnWire.packets > 100, `the capture saw ${seenOnWire.packets} packets`)
  assert.ok(!seenOnWire.text.includes(MARKER), 'the marker crossed the lab network in plain text')
  const headers = seenOnWire.text.split('\n').filter(l => /^\d\d:\d\d:\d\d\.\d+ /.test(l))
  assert.deepEqual(headers.filter(l => /\.(4789|7946|2377)[: ]/.test(l)), [], 'swarm traffic (VXLAN, gossip or control) on the lab network')
  assert.ok(headers.filter(l => /\.51820[: ]/.test(l)).length > 100, 'WireGuard carried the traffic')
})

test('rm of the only manager while workers remain is refused without --force, and changes nothing', async () => {
  const r = await cli(env, ['rm', '-y', 'queenbee'])
  assert.notEqual(r.code, 0)
  assert.match(r.stderr.trim().split('\n').pop()!,
    /^Error: queenbee is the only manager of a swarm that still has 2 other nodes \(.+\): remove those first, add another manager .*, or pass --force to end the swarm$/)
  assert.equal(JSON.parse(await swarmDocker('queenbee', 'info --format "{{json .Swarm.Nodes}}"')), 3)
  assert.equal((await cliOk(env, ['ls', '-q'])).trim().split('\n').length, 3)
})

test('rm of a worker drains it, leaves the swarm and drops it from the node list', async () => {
  const t0 = Date.now()
  await cliOk(env, ['rm', '-y', 'workerbee2'])
  console.log(`# worker removed in ${Date.now() - t0} ms`)
  const nodes = await swarmDocker('queenbee', 'node ls --format "{{.Hostname}} {{.Status}}"')
  assert.doesNotMatch(nodes, new RegExp(hosts.workerbee2.name), nodes)
  assert.equal(nodes.trim().split('\n').length, 2, nodes)
  assert.equal((await execOk(hosts.workerbee2.name, ['docker', 'info', '--format', '{{.Swarm.LocalNodeState}}'])).trim(), 'inactive')
  // Its web task was rescheduled on the two remaining nodes.
  const web = await waitFor('3 web tasks on 2 nodes', async () => { const t = await tasksOf('web', 'bridge'); return t.length === 3 ? t : undefined }, 30_000, 500)
  assert.ok(web.every(t => t.node !== hosts.workerbee2.name))
})

test('a host in a foreign swarm is refused and left alone; a second --swarm-master manages; rm of the master hands its role over; rm -f of the last manager ends the swarm', async () => {
  const initOnly = await cli(env, createArgs('queenbee2', '--swarm-master', ...POOL))
  assert.match(initOnly.stderr.trim().split('\n').pop()!, /^Error: --swarm-opt default-addr-pool sets up a new swarm, but this host joins the existing one: /)
  // A host already in a swarm of its own: create refuses it, rolls back, and leaves that swarm alone.
  await execOk(hosts.queenbee2.name, ['docker', 'swarm', 'init', '--advertise-addr', hosts.queenbee2.ip])
  const foreign = await cli(env, createArgs('queenbee2', '--swarm-master'))
  assert.notEqual(foreign.code, 0)
  assert.match(foreign.stderr.trim().split('\n').pop()!, /cannot add queenbee2 to the cluster's swarm: this Docker engine is already part of a swarm: run `docker swarm leave` on it first/)
  assert.equal((await execOk(hosts.queenbee2.name, ['docker', 'info', '--format', '{{.Swarm.LocalNodeState}}'])).trim(), 'active')
  assert.equal(await etcd.get(`${prefix}machines/queenbee2`).string(), null)
  assert.equal(await etcd.get(`${prefix}swarm/master`).string(), 'queenbee')
  await execOk(hosts.queenbee2.name, ['docker', 'swarm', 'leave', '--force'])

  await cliOk(env, createArgs('queenbee2', '--swarm-master'))
  const swarmCol = async () => Object.fromEntries((JSON.parse(await cliOk(env, ['ls', '--json'])) as {name: string; swarm: string}[]).map(r => [r.name, r.swarm]))
  assert.deepEqual(await swarmCol(), {queenbee: 'queenbee (master)', queenbee2: 'queenbee (manager)', workerbee1: 'queenbee'})
  assert.equal(JSON.parse(await swarmDocker('queenbee', 'info --format "{{json .Swarm.Managers}}"')), 2)

  const rmMaster = await cli(env, ['rm', '-y', 'queenbee'])
  assert.equal(rmMaster.code, 0, rmMaster.stderr)
  assert.deepEqual(await swarmCol(), {queenbee2: 'queenbee2 (master)', workerbee1: 'queenbee2'})
  const info = JSON.parse(await swarmDocker('workerbee1', 'info --format "{{json .Swarm}}"')) as {Nodes: number; Managers: number; ControlAvailable: boolean}
  assert.deepEqual([info.Nodes, info.Managers, info.ControlAvailable], [2, 1, true])
  assert.equal((await execOk(hosts.queenbee.name, ['docker', 'info', '--format', '{{.Swarm.LocalNodeState}}'])).trim(), 'inactive')

  const rmLast = await cli(env, ['rm', '-f', '-y', 'queenbee2'])
  assert.equal(rmLast.code, 0, rmLast.stderr)
  assert.deepEqual(Object.keys(await etcd.getAll().prefix(`${prefix}swarm/`).strings()), [], 'the ended swarm is forgotten')
  // Its worker left too, and its record says so: it can join a new swarm.
  assert.equal((await execOk(hosts.workerbee1.name, ['docker', 'info', '--format', '{{.Swarm.LocalNodeState}}'])).trim(), 'inactive')
  assert.deepEqual(await swarmCol(), {workerbee1: ''})
})
