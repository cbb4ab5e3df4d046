// Bundles the router agent (router/main.ts and what it imports, etcd3 and gRPC included)
// into one CommonJS file, dist/router.cjs, that runs on the Node.js Debian ships (18 in
// Debian 12, 20 in Debian 13). The provisioner uploads that single file to each host.
//
// etcd3 reads its .proto files from disk next to its own sources at load time; a bundle
// has no such files, so the protocol description is inlined as JSON (protobufjs's own
// format) and handed to @grpc/proto-loader's fromJSON instead.
import {build} from 'esbuild'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(join(root, 'package.json'))

const etcd3Dir = dirname(require.resolve('etcd3/package.json'))
const protobuf = createRequire(require.resolve('@grpc/proto-loader'))('protobufjs')
// keepCase as etcd3 asks of proto-loader: its code uses the .proto's snake_case field names.
const etcdProtocol = JSON.stringify(new protobuf.Root().loadSync(join(etcd3Dir, 'proto', 'rpc.proto'), {keepCase: true}).toJSON())

const LOAD_PROTO = /\(0, proto_loader_1\.loadSync\)\(`\$\{__dirname\}\/\.\.\/proto\/rpc\.proto`,/

const inlineEtcdProtocol = {
  name: 'inline-etcd3-protocol',
  setup(b) {
    b.onLoad({filter: /etcd3[\\/]lib[\\/]connection-pool\.js$/}, async args => {
      const {readFile} = await import('node:fs/promises')
      const source = await readFile(args.path, 'utf8')
      if (!LOAD_PROTO.test(source)) throw new Error(`etcd3 changed how it loads rpc.proto (${args.path}); update scripts/bundle-router.mjs`)
      return {contents: source.replace(LOAD_PROTO, `(0, proto_loader_1.fromJSON)(${etcdProtocol},`), loader: 'js'}
    })
  },
}

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
  plugins: [inlineEtcdProtocol],
  logLevel: 'warning',
  metafile: true,
})
const bytes = Object.values(result.metafile.outputs)[0].bytes
console.log(`dist/router.cjs: ${(bytes / 1024).toFixed(0)} KiB in ${Date.now() - started} ms`)
