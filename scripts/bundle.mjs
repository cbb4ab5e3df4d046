// Two single-file CommonJS bundles, made with esbuild:
// - dist/router.cjs: the router agent (router/main.ts and what it imports: core/ and Node's own
//   modules, nothing else), for the Node.js Debian ships (18 in Debian 12, 20 in Debian 13). The
//   provisioner uploads that single file to each host. Its first line names the version
//   (`/* cluster-router 0.1.0 */`): `cluster upgrade` reads it back from each host
//   (src/agent/router-version.ts).
// - dist/complete.cjs: the shells' <TAB> on a machine name (src/completion/names.ts), which
//   bin/run.js loads without oclif; one file starts faster than the ES modules it is made of.
// - dist/ui-page.js and dist/ui-page.css: the page `cluster ui` serves (src/ui/page/), with
//   cytoscape inside: the page loads nothing from elsewhere, so it works offline.
import {build} from 'esbuild'
import {readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const {version} = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

async function bundle(entry, out, options = {}) {
  const started = Date.now()
  const result = await build({
    entryPoints: [join(root, entry)],
    outfile: join(root, 'dist', out),
    bundle: true,
    platform: 'node',
    target: 'node18',
    format: 'cjs',
    logLevel: 'warning',
    metafile: true,
    ...options,
  })
  for (const [file, {bytes}] of Object.entries(result.metafile.outputs)) {
    console.log(`${file.slice(file.indexOf('dist/'))}: ${(bytes / 1024).toFixed(0)} KiB in ${Date.now() - started} ms`)
  }
}

await bundle('router/main.ts', 'router.cjs', {
  minify: true, keepNames: true, legalComments: 'inline', banner: {js: `/* cluster-router ${version} */`},
})
await bundle('src/completion/names.ts', 'complete.cjs')
await bundle('src/ui/page/main.ts', 'ui-page.js', {platform: 'browser', target: 'chrome110', format: 'iife', minify: true, legalComments: 'inline'})
