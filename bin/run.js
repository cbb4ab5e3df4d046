#!/usr/bin/env node
// `cluster env` runs inside every `eval`; it skips loading oclif (which costs more than
// node's own start). Everything else, and `env --help`, goes through oclif.
const argv = process.argv.slice(2)
if (argv[0] === 'env' && !argv.includes('--help') && !argv.includes('-h')) {
  const {envMain} = await import('../dist/src/env-command.js')
  process.exitCode = envMain(argv.slice(1))
} else {
  const {execute} = await import('@oclif/core')
  await execute({dir: import.meta.url})
}
