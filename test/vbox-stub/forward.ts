/**
 * The stand-in's NAT port-forward: what VirtualBox does for `--natpf1 ssh,tcp,127.0.0.1,PORT,,22`,
 * a listener on the host's loopback that relays each connection to the guest's port 22 (here a
 * lab host's). Started detached by startvm, killed by poweroff; writes READY_FILE once listening.
 *
 *   node forward.js LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT READY_FILE
 */
import {writeFileSync} from 'node:fs'
import {createConnection, createServer} from 'node:net'

const [listenHost, listenPort, targetHost, targetPort, readyFile] = process.argv.slice(2)
const server = createServer(client => {
  const guest = createConnection({host: targetHost!, port: Number(targetPort)})
  client.pipe(guest).pipe(client)
  client.on('error', () => guest.destroy())
  guest.on('error', () => client.destroy())
})
server.listen(Number(listenPort), listenHost, () => writeFileSync(readyFile!, String(process.pid)))
