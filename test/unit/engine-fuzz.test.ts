/**
 * Fuzz of every engine flag: a value is either refused in one line (InputError, exit 2)
 * or lands as exactly one literal value in the file it reaches: the docker.service drop-in
 * (read back with a systemd-compatible unquoter), daemon.json (JSON.parse), the server
 * certificate's SANs, and the shell line of `dockerd --validate` (run through sh).
 */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {checkEngineOptions, engineFiles} from '../../src/provision/engine-files.js'
import {certSans, createCa, generateRsaKey, issueServerCert} from '../../src/tls/certs.js'
import {shq} from '../../src/ssh/shell.js'
import {InputError} from '../../core/errors.js'
import type {EngineOptions} from '../../core/model.js'

const EXEC = '/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS'
const NONE: EngineOptions = {labels: [], opts: [], env: [], insecureRegistries: [], registryMirrors: [], tlsSans: []}
const SEED = Number(process.env.FUZZ_SEED ?? 20261202)
const PER_FLAG = 400

/** mulberry32: a small seeded generator, so a failure can be replayed with FUZZ_SEED. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const PIECES = ['\n', '\r', '\t', '\0', '\x1b', '\x7f', '\x85', '"', '\'', '\\', '\\n', '$(reboot)', '`id`', '${HOME}', '$HOME', '$$',
  '%', '%n', '%%', ';', ' ', '=', ':', '/', '.', '-', '*', 'é', '€', '\u2028', 'x', 'web1', '198.18.0.5', ':5000', '\\x0a', '#', '[Service]']

function junk(r: () => number): string {
  if (r() < 0.04) return 'a'.repeat(4000 + Math.floor(r() * 200)) // around the length limit
  let s = ''
  const n = 1 + Math.floor(r() * 6)
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(r() * PIECES.length)]
  return s
}

/** Per flag: a plausible prefix, so some values pass and reach the file. */
const FLAGS: Array<{key: keyof EngineOptions; make: (j: string, r: () => number) => string}> = [
  {key: 'opts', make: (j, r) => (r() < 0.8 ? `log-opt=tag=${j}` : j)},
  {key: 'env', make: (j, r) => (r() < 0.8 ? `HTTP_PROXY=${j}` : j)},
  {key: 'labels', make: (j, r) => (r() < 0.8 ? `zone=${j}` : j)},
  {key: 'insecureRegistries', make: (j, r) => (r() < 0.5 ? `reg${j}` : j)},
  {key: 'registryMirrors', make: (j, r) => (r() < 0.8 ? `https://mirror.example/${j}` : j)},
  {key: 'tlsSans', make: (j, r) => (r() < 0.5 ? `h${j.replace(/[^A-Za-z0-9.-]/g, '')}0.example` : j)},
]

// ---- a systemd-compatible reader of the drop-in (extract_first_word with UNQUOTE|CUNESCAPE) ----

const C_ESCAPES: Record<string, string> = {'\\': '\\', '"': '"', '\'': '\'', n: '\n', t: '\t', r: '\r', s: ' ', a: '\x07', b: '\b', f: '\f', v: '\v'}

function systemdWords(line: string): string[] {
  const words: string[] = []
  let i = 0
  for (;;) {
    while (i < line.length && /[ \t]/.test(line[i])) i++
    if (i >= line.length) return words
    let word = ''
    let quote: string | undefined
    for (; i < line.length; i++) {
      const c = line[i]
      if (c === '\\') {
        const e = line[++i]
        if (e === 'x') {
          assert.match(line.slice(i + 1, i + 3), /^[0-9a-f]{2}$/i, `bad \\x escape in ${line}`)
          word += String.fromCharCode(parseInt(line.slice(i + 1, i + 3), 16))
          i += 2
        } else {
          assert.ok(e !== undefined && e in C_ESCAPES, `systemd refuses the escape \\${e} in ${JSON.stringify(line)}`)
          word += C_ESCAPES[e]
        }
      } else if (quote) {
        if (c === quote) quote = undefined
        else word += c
      } else if (c === '"' || c === '\'') {
        quote = c
      } else if (c === ' ' || c === '\t') {
        break
      } else {
        word += c
      }
    }
    assert.equal(quote, undefined, `unterminated quote in ${JSON.stringify(line)}`)
    words.push(word)
  }
}

/** Specifiers (both settings) and, in ExecStart, $-expansion: only the escapes may be present. */
function resolve(word: string, inExec: boolean): string {
  if (inExec && word === '$DOCKER_OPTS') return word // the unit's own variable, meant to expand
  let out = ''
  for (let i = 0; i < word.length; i++) {
    const c = word[i]
    if (c === '%' || (inExec && c === '$')) {
      assert.equal(word[i + 1], c, `unescaped ${c} would expand in ${JSON.stringify(word)}`)
      i++
    }
    out += c
  }
  return out
}

function readDropIn(dropIn: string): {env: string[]; exec: string[]} {
  const lines = dropIn.split('\n')
  const env: string[] = []
  let exec: string[] = []
  for (const line of lines) {
    // eslint-disable-next-line no-control-regex -- the check is for control characters
    assert.doesNotMatch(line, /[\x00-\x08\x0a-\x1f\x7f]/, 'a control character reached the drop-in')
    assert.ok(!/(^|[^\\])(\\\\)*\\$/.test(line), `line continues onto the next: ${JSON.stringify(line)}`)
    if (line.startsWith('Environment=')) env.push(...systemdWords(line.slice('Environment='.length)).map(w => resolve(w, false)))
    else if (line.startsWith('ExecStart=') && line !== 'ExecStart=') exec = systemdWords(line.slice('ExecStart='.length)).map(w => resolve(w, true))
    else assert.ok(line === '' || line.startsWith('#') || line === '[Service]' || line === 'ExecStart=', `unexpected line ${JSON.stringify(line)}`)
  }
  return {env, exec}
}

function refusedInOneLine(error: unknown): boolean {
  return error instanceof InputError && error.exitCode === 2 && !/[\n\r]/.test(error.oneLine())
}

test('fuzz: each engine flag value is refused in one line or lands as one literal value', () => {
  const r = rng(SEED)
  const ca = createCa('fuzz CA', {serverAuth: true})
  const key = generateRsaKey()
  const shellWords: string[] = []
  const acceptedSans: string[] = []
  for (const flag of FLAGS) {
    let accepted = 0
    let refused = 0
    for (let n = 0; n < PER_FLAG; n++) {
      const value = flag.make(junk(r), r)
      const engine: EngineOptions = {...NONE, [flag.key]: [value]}
      try {
        checkEngineOptions(engine)
      } catch (error) {
        assert.ok(refusedInOneLine(error), `${flag.key} ${JSON.stringify(value)}: ${String(error)}`)
        refused++
        continue
      }
      accepted++
      // eslint-disable-next-line no-control-regex -- the check is for control characters
      assert.doesNotMatch(value, /[\x00-\x1f\x7f-\x9f]/, `${flag.key} accepted a control character: ${JSON.stringify(value)}`)
      const files = engineFiles({engine, user: null, execStart: EXEC})
      const {env, exec} = readDropIn(files.dropIn)
      const daemon = JSON.parse(JSON.stringify(files.daemonJson, null, 2)) as Record<string, unknown>
      assert.deepEqual(exec, files.dockerdArgs, 'ExecStart reads back as the planned words')
      if (flag.key === 'opts') {
        assert.equal(exec.length, 4, 'one word for the option')
        assert.equal(exec[3], `--${value}`)
        shellWords.push(exec[3])
      } else {
        assert.equal(exec.length, 3)
      }
      assert.deepEqual(env, flag.key === 'env' ? [value] : [])
      assert.deepEqual(daemon.labels, flag.key === 'labels' ? [value] : undefined)
      assert.deepEqual(daemon['insecure-registries'], flag.key === 'insecureRegistries' ? [value] : undefined)
      assert.deepEqual(daemon['registry-mirrors'], flag.key === 'registryMirrors' ? [value] : undefined)
      if (flag.key === 'tlsSans') acceptedSans.push(value)
    }
    // Both outcomes happen, so the generator reaches the files and the checks.
    assert.ok(accepted > 10 && refused > 10, `${flag.key}: ${accepted} accepted, ${refused} refused`)
  }
  const sans = certSans(issueServerCert(ca, key.publicKeyPem, 'fuzz', acceptedSans))
  for (const san of acceptedSans) assert.ok(sans.includes(san), `SAN ${san} is in the certificate`)
  // The `dockerd --validate` line quotes each flag with shq: sh must read back each word unchanged.
  const out = execFileSync('sh', ['-c', `printf '%s\\0' ${shellWords.map(shq).join(' ')}`], {maxBuffer: 64 << 20}).toString('utf8')
  assert.deepEqual(out.split('\0').slice(0, -1), shellWords)
})

test('a newline or any control character is refused before a file is computed, naming the flag', () => {
  for (const [key, flag, value] of [
    ['env', 'engine-env', 'A=b\nExecStartPre=/bin/sh -c reboot'], ['opts', 'engine-opt', 'log-level=debug\n[Service]'],
    ['labels', 'engine-label', 'k=v\r'], ['insecureRegistries', 'engine-insecure-registry', 'r:5000\t'],
    ['registryMirrors', 'engine-registry-mirror', 'https://m\x00'], ['tlsSans', 'tls-san', 'a\x1b.example'],
  ] as const) {
    assert.throws(() => checkEngineOptions({...NONE, [key]: [value]}),
      (e: unknown) => refusedInOneLine(e) && new RegExp(`^--${flag} ".*" contains a control character \\(U\\+00[01][0-9A-F]\\): give each value as one line of printable text$`).test((e as InputError).oneLine()))
  }
  assert.throws(() => checkEngineOptions({...NONE, env: [`A=${'x'.repeat(5000)}`]}), (e: unknown) => refusedInOneLine(e) && /too long/.test((e as InputError).oneLine()))
})
