/**
 * Whether the word under the cursor is a machine name, decided from the command line typed so
 * far and the oclif manifest (the commands' arguments and flags). Pure: the shells' completion
 * functions ask `cluster __complete LINE` (src/completion/names.ts), which asks this.
 */

/** The part of oclif.manifest.json this reads. */
export interface ManifestCommand {
  args: Record<string, unknown>
  flags: Record<string, {type: 'boolean' | 'option'; char?: string}>
}
export type Manifest = Record<string, ManifestCommand>

/** Arguments that take existing machines: oclif's `name` / `names` … */
const MACHINE_ARGS = new Set(['name', 'names'])
/** … except where the name is a new machine's (create) or a DNS label (dns add/rm). */
const OTHER_NAMES = new Set(['create', 'dns:add', 'dns:rm'])

/** The words of LINE after the program (`cluster`, or a path to it); the last is the word being typed ('' after a space). */
export function lineWords(line: string, bin: string): string[] {
  const words = line.split(/\s+/).filter(Boolean).map(w => w.replace(/^(['"])(.*)\1$/, '$2'))
  if (line === '' || /\s$/.test(line)) words.push('')
  const program = words.findIndex(w => w === bin || w.endsWith(`/${bin}`))
  return words.slice(program + 1)
}

/**
 * The prefix of a machine name being typed, or undefined when the cursor is on a command,
 * a flag, a flag's value or an argument that is not an existing machine.
 */
export function machineNamePrefix(words: string[], manifest: Manifest): string | undefined {
  const current = words.at(-1) ?? ''
  const typed = words.slice(0, -1)
  // The longest run of leading words that is a command id or a topic of one (`kv add`).
  const path: string[] = []
  for (const word of typed) {
    const id = [...path, word].join(':')
    if (!Object.keys(manifest).some(c => c === id || c.startsWith(`${id}:`))) break
    path.push(word)
  }
  const id = path.join(':')
  const command = manifest[id]
  if (!command || OTHER_NAMES.has(id)) return undefined
  let positionals = 0
  let wantsValue = false
  let afterDashes = false
  for (const word of typed.slice(path.length)) {
    if (wantsValue) wantsValue = false
    else if (afterDashes || !word.startsWith('-') || word === '-') positionals++
    else if (word === '--') afterDashes = true
    else wantsValue = takesValue(word, command)
  }
  if (wantsValue || (!afterDashes && current.startsWith('-'))) return undefined
  const keys = Object.keys(command.args)
  // A list argument (`names`, last) takes every word from its place on.
  const key = positionals < keys.length ? keys[positionals] : keys.at(-1) === 'names' ? 'names' : undefined
  return key !== undefined && MACHINE_ARGS.has(key) ? current : undefined
}

/** Whether a flag word (`--kv-endpoint`, `-f`) waits for its value in the next word. */
function takesValue(word: string, command: ManifestCommand): boolean {
  if (word.includes('=')) return false
  const flag = word.startsWith('--')
    ? command.flags[word.slice(2)]
    : Object.values(command.flags).find(f => f.char === word.slice(1, 2))
  // A short option given with its value attached (`-sbash`) waits for nothing.
  return flag?.type === 'option' && (word.startsWith('--') || word.length === 2)
}

/**
 * What the shells need to decide without node (src/completion/shells.ts): per command id, where
 * its machine names go — `one` (the first positional), `list` (every positional) or `none` —
 * and the flag words (`--format`, `-f`) that take the next word as their value. Machine
 * arguments always come first; a command that put one later would need the shells' code to
 * change, so it throws rather than complete wrongly.
 */
export interface MachineArgSpec {
  id: string
  machines: 'one' | 'list' | 'none'
  valueFlags: string[]
}

export function machineArgSpecs(manifest: Manifest): MachineArgSpec[] {
  return Object.entries(manifest).sort(([a], [b]) => a.localeCompare(b)).map(([id, command]) => {
    const keys = Object.keys(command.args)
    const at = keys.findIndex(k => MACHINE_ARGS.has(k))
    if (at > 0 && !OTHER_NAMES.has(id)) throw new Error(`completion: ${id}'s machine argument '${keys[at]}' is not its first; src/completion/shells.ts completes only a first one`)
    const machines = at !== 0 || OTHER_NAMES.has(id) ? 'none' : keys[0] === 'names' ? 'list' : 'one'
    const valueFlags = Object.entries(command.flags).filter(([, f]) => f.type === 'option')
      .flatMap(([name, f]) => [`--${name}`, ...(f.char ? [`-${f.char}`] : [])])
    return {id, machines, valueFlags}
  })
}
