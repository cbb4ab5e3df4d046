// Bundles the router agent (router/main.ts and what it imports: core/ and Node's own
// modules, nothing else) into one CommonJS file, dist/router.cjs, that runs on the Node.js
// Debian ships (18 in Debian 12, 20 in Debian 13). The provisioner uploads that single file
// to each host.
// Its first line names the version (`/* cluster-router 0.1.0 */`): `cluster upgrade` reads
// it back from each host (src/agent/router-version.ts).
import {build} from 'esbuild'
import {readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const {version} = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

const started = Date.now()
const result = await build({
  entryPoints: [join(root, 'router', 'main.ts')],
  outfile: join(root, 'dist', 'router.cjs'),
  bundle: true,
  platform: 'node',
  target: 'node18',
  format: 'cjs',
  minify: true,
  keepNames: true,
  legalComments: 'inline',
  banner: {js: `/* cluster-router ${version} */`},
  logLevel: 'warning',
  metafile: true,
})
const bytes = Object.values(result.metafile.outputs)[0].bytes
console.log(`dist/router.cjs: ${(bytes / 1024).toFixed(0)} KiB in ${Date.now() - started} ms`)
