/**
 * What a test file needs from the machine, checked first thing in the file
 * (before anything is spawned): when something is missing the file fails at once with one
 * line per missing thing naming it and how to get it, instead of slow ENOENT spawn errors.
 * CI provides all of them (test/lab/install-deps.sh; test/lab/uml/up.sh for the UML tier).
 */
import {accessSync, constants} from 'node:fs'
import {basename, delimiter, isAbsolute, join} from 'node:path'
import {umlHosts} from '../lab/uml.js'

type Need = 'etcd' | 'sshd' | 'ssh' | 'dnsmasq' | 'dig' | 'zsh' | 'chromium' | 'root' | 'uml'

const CHECKS: Record<Need, {present: () => boolean; missing: string}> = {
  etcd: {present: () => onPath('etcd'), missing: 'needs etcd on PATH (apt-get install etcd-server)'},
  // The tests start /usr/sbin/sshd by its full path: sshd refuses to run from a relative one.
  sshd: {present: () => onPath('/usr/sbin/sshd'), missing: 'needs /usr/sbin/sshd (apt-get install openssh-server)'},
  ssh: {present: () => onPath('ssh') && onPath('ssh-keygen'), missing: 'needs ssh and ssh-keygen on PATH (apt-get install openssh-client)'},
  dnsmasq: {present: () => onPath('dnsmasq'), missing: 'needs dnsmasq on PATH (apt-get install dnsmasq-base)'},
  dig: {present: () => onPath('dig'), missing: 'needs dig on PATH (apt-get install bind9-dnsutils)'},
  zsh: {present: () => onPath('zsh'), missing: 'needs zsh on PATH (apt-get install zsh)'},
  chromium: {present: () => onPath('chromium'), missing: 'needs chromium on PATH (apt-get install chromium)'},
  root: {present: () => process.getuid?.() === 0, missing: 'needs root: run the tests as root'},
  uml: {present: () => umlHosts().length >= 2, missing: 'needs two UML hosts running (a kernel built for ARCH=um): bash test/lab/uml/up.sh 2'},
}

/** Ends this test file (exit 1, one line per missing need on stderr) unless all are present. */
export function needs(...what: Need[]): void {
  const missing = what.filter(need => !CHECKS[need].present())
  if (missing.length === 0) return
  const file = basename(process.argv[1] ?? 'this test')
  for (const need of missing) console.error(`${file} ${CHECKS[need].missing}`)
  process.exit(1)
}

function onPath(program: string): boolean {
  const candidates = isAbsolute(program) ? [program] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map(dir => join(dir, program))
  return candidates.some(path => {
    try {
      accessSync(path, constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}
