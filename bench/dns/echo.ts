/**
 * The floor under our server: Node's UDP socket sending every packet straight back, with no
 * DNS work at all. Its latency is what the runtime and the machine cost by themselves.
 *
 *   node dist/bench/dns/echo.js ADDRESS PORT
 */
import {createSocket} from 'node:dgram'

const [address, port] = process.argv.slice(2)
const socket = createSocket('udp4')
socket.on('message', (msg, from) => socket.send(msg, from.port, from.address))
socket.bind(Number(port), address, () => process.stdout.write(`ready: echo on ${address}:${port}\n`))
