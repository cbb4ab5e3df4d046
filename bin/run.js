#!/usr/bin/env node
// `cluster env` runs inside every `eval`, and `cluster __complete LINE` on every <TAB> of a
// shell's completion (src/completion/names.ts): both skip loading oclif (which costs more
// than node's own start). Everything else, and `env --help`, goes through oclif.
const argv = process.argv.slice(2)
if (argv[0] === 'env' && !argv.includes('--help') && !argv.includes('-h')) {
  const {envMain} = await import('../dist/src/env-command.js')
  process.exitCode = await envMain(argv.slice(1))
} else if (argv[0] === '__complete') {
  const {createRequire} = await import('node:module')
  const {completeMain} = createRequire(import.meta.url)('../dist/complete.cjs')
  process.exitCode = completeMain(argv[1] ?? '', new URL('../oclif.manifest.json', import.meta.url))
} else {
  // `cluster ssh NAME WORDS…`: the words belong to ssh (Docker Machine's way), `-h` included;
  // a `--` before NAME keeps oclif from reading them as its flags or as a help request.
  // `-v`/`--version` as Docker Machine has them: the same line as `cluster version`.
  const args = argv[0] === 'ssh' && argv.length > 1 && !argv[1].startsWith('-') ? ['ssh', '--', ...argv.slice(1)]
    : argv.length === 1 && (argv[0] === '-v' || argv[0] === '--version') ? ['version'] : argv
  const {execute} = await import('@oclif/core')
  await execute({dir: import.meta.url, args})
}
