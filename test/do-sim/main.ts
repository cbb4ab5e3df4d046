/**
 * The DigitalOcean API simulator as a program:
 *
 *   node dist/test/do-sim/main.js --port 8089 --token T [--backend lab|record] [--image bare|trixie]
 *
 * Droplets are real lab hosts by default (the lab network must be up: test/lab/up.sh).
 * Ctrl-C stops it and removes every droplet it made.
 */
import {parseArgs} from 'node:util'
import {DoSimulator} from './server.js'
import {RecordingBackend, type HostBackend} from './backend.js'
import {LabBackend} from './lab-backend.js'

const {values} = parseArgs({
  options: {
    port: {type: 'string', default: '0'},
    host: {type: 'string', default: '127.0.0.1'},
    token: {type: 'string'},
    backend: {type: 'string', default: 'lab'},
    image: {type: 'string', default: 'bare'},
  },
})

if (!values.token) {
  console.error('do-sim: --token is required (the bearer token clients must send)')
  process.exit(2)
}
if (values.image !== 'bare' && values.image !== 'trixie') {
  console.error('do-sim: --image must be bare or trixie (the lab image of every droplet)')
  process.exit(2)
}
const image = values.image
const backend: HostBackend = values.backend === 'record' ? new RecordingBackend() : new LabBackend({imageFor: () => image})
const sim = new DoSimulator({token: values.token, backend})
const url = await sim.listen(Number(values.port), values.host)
console.log(`do-sim listening on ${url}`)

const stop = () => {
  sim.close().then(() => process.exit(0), err => {
    console.error(err)
    process.exit(1)
  })
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
