/**
 * The layers and their one direction (README, docs/drivers.md): commands/ → src/ → core/ ←
 * router/, src/ → drivers/, drivers/<name>/ → drivers/sdk/ → core/. Reads the TypeScript
 * sources (every import, `import type`, `export … from` and literal `import()`) and fails on
 * an import against the direction and on any file-level import cycle.
 */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readdirSync, readFileSync, statSync} from 'node:fs'
import {dirname, join, relative, resolve, sep} from 'node:path'
import {fileURLToPath} from 'node:url'
import ts from 'typescript'

const LAYERED = ['core', 'router', 'drivers', 'src', 'commands']

/** The repository root: the first folder above this file (source or compiled) that holds core/ and package.json. */
function repoRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'core'))) return dir
  }
  throw new Error(`no repository root (package.json beside core/) above ${fileURLToPath(import.meta.url)}`)
}

/** The layer a repository path belongs to: its top folder, or drivers/<name> for drivers. */
function layerOf(path: string): string {
  const parts = path.split('/')
  return parts[0] === 'drivers' && parts.length > 2 ? `drivers/${parts[1]}` : parts[0]
}

/** Why `from` may not import `to` (both repository paths), or undefined when it may. */
function ruleBroken(from: string, to: string): string | undefined {
  const a = layerOf(from)
  const b = layerOf(to)
  if (a === b) return undefined
  if (a === 'core') return 'core/ imports only core/ (and node: or npm packages)'
  if (a === 'router') return b === 'core' ? undefined : 'router/ imports only router/ and core/'
  if (a === 'drivers/sdk') return b === 'core' ? undefined : 'drivers/sdk/ imports only drivers/sdk/ and core/'
  if (a.startsWith('drivers/')) return b === 'drivers/sdk' ? undefined : `${a}/ imports only its own folder and drivers/sdk/`
  if (a === 'src') return b === 'core' || b.startsWith('drivers/') ? undefined : 'src/ imports only src/, core/ and drivers/'
  if (a === 'commands') return b === 'src' || b === 'core' ? undefined : 'commands/ import only commands/, src/ and core/'
  return `${a}/ is in no layer: give it a place and a rule in test/unit/layers.test.ts`
}

/** The module names one source file imports, in any form. */
function importsOf(fileName: string, text: string): string[] {
  const found: string[] = []
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push(node.moduleSpecifier.text)
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments
      // import(someVariable) (a third-party driver's path) names no file of ours.
      if (arg && ts.isStringLiteralLike(arg)) found.push(arg.text)
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push(node.argument.literal.text)
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      found.push(node.moduleReference.expression.text)
    }
    ts.forEachChild(node, visit)
  }
  visit(ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS))
  return found
}

/** Files (repository paths, '/'-separated) and the files each imports; packages are left out. */
interface Graph {
  edges: Map<string, string[]>
  unresolved: string[]
}

function sourceFiles(root: string, dir: string): string[] {
  return readdirSync(join(root, dir), {withFileTypes: true}).flatMap(e => {
    const path = `${dir}/${e.name}`
    if (e.isDirectory()) return sourceFiles(root, path)
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : []
  })
}

function importGraph(root: string): Graph {
  const edges = new Map<string, string[]>()
  const unresolved: string[] = []
  for (const file of LAYERED.flatMap(dir => sourceFiles(root, dir))) {
    const targets: string[] = []
    for (const spec of importsOf(file, readFileSync(join(root, file), 'utf8'))) {
      if (!spec.startsWith('.')) continue // node: built-ins and npm packages
      const abs = resolve(root, dirname(file), spec)
      const candidates = [abs.replace(/\.js$/, '.ts'), abs.replace(/\.mjs$/, '.mts'), abs, `${abs}.ts`, join(abs, 'index.ts')]
      const hit = candidates.find(c => existsSync(c) && statSync(c).isFile())
      if (!hit) unresolved.push(`${file}: "${spec}" names no file`)
      else targets.push(relative(root, hit).split(sep).join('/'))
    }
    edges.set(file, targets)
  }
  return {edges, unresolved}
}

/** Every import against the direction, as one line naming the file, the import and the rule. */
function violations(edges: Map<string, string[]>): string[] {
  const out: string[] = []
  for (const [from, targets] of edges) {
    for (const to of targets) {
      const rule = ruleBroken(from, to)
      if (rule) out.push(`${from} imports ${to}: ${rule}`)
    }
  }
  return out
}

/** The import cycles: each strongly connected group of files (Tarjan), shown as one path around it. */
function cycles(edges: Map<string, string[]>): string[] {
  let next = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const groups: string[][] = []
  const connect = (v: string): void => {
    index.set(v, next)
    low.set(v, next++)
    stack.push(v)
    onStack.add(v)
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!))
      }
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = []
      let w: string
      do {
        w = stack.pop()!
        onStack.delete(w)
        group.push(w)
      } while (w !== v)
      if (group.length > 1 || (edges.get(v) ?? []).includes(v)) groups.push(group)
    }
  }
  for (const v of edges.keys()) if (!index.has(v)) connect(v)
  return groups.map(group => pathAround(group, edges))
}

/** A walk from the group's first file back to itself, staying inside the group. */
function pathAround(group: string[], edges: Map<string, string[]>): string {
  const inGroup = new Set(group)
  const start = [...group].sort()[0]
  const seen = new Map<string, string>()
  const queue = [start]
  while (queue.length) {
    const v = queue.shift()!
    for (const w of edges.get(v) ?? []) {
      if (!inGroup.has(w)) continue
      if (w === start) {
        const path = [start]
        for (let u = v; u !== start; u = seen.get(u)!) path.splice(1, 0, u)
        return `${[...path, start].join(' → ')} (a cycle: break it by moving what both need into a file of its own)`
      }
      if (!seen.has(w)) {
        seen.set(w, v)
        queue.push(w)
      }
    }
  }
  return group.join(' → ')
}

const root = repoRoot()
const graph = importGraph(root)

test('the check reads the whole source tree', () => {
  const layers = new Set([...graph.edges.keys()].map(layerOf))
  for (const layer of ['core', 'router', 'src', 'commands', 'drivers/sdk', 'drivers/generic']) assert.ok(layers.has(layer), `no files found in ${layer}/ under ${root}`)
  const edgeCount = [...graph.edges.values()].reduce((n, t) => n + t.length, 0)
  assert.ok(edgeCount > graph.edges.size, `only ${edgeCount} imports among ${graph.edges.size} files`)
  assert.deepEqual(graph.unresolved, [])
})

test('every import follows the layer direction', () => {
  const bad = violations(graph.edges)
  assert.equal(bad.length, 0, `imports against the direction:\n  ${bad.join('\n  ')}`)
})

test('no file-level import cycle', () => {
  const found = cycles(graph.edges)
  assert.equal(found.length, 0, `import cycles:\n  ${found.join('\n  ')}`)
})

test('the rules catch what they must', () => {
  assert.match(ruleBroken('core/keys.ts', 'src/ipam.ts')!, /^core\/ imports only core\//)
  assert.match(ruleBroken('router/kv.ts', 'src/ipam.ts')!, /^router\//)
  assert.match(ruleBroken('drivers/virtualbox/driver.ts', 'core/errors.ts')!, /^drivers\/virtualbox\/ imports only its own folder and drivers\/sdk\//)
  assert.match(ruleBroken('drivers/generic/index.ts', 'drivers/virtualbox/hostonly.ts')!, /^drivers\/generic\//)
  assert.match(ruleBroken('drivers/sdk/index.ts', 'src/ssh/keys.ts')!, /^drivers\/sdk\//)
  assert.match(ruleBroken('src/ipam.ts', 'router/plan.ts')!, /^src\//)
  assert.match(ruleBroken('src/ipam.ts', 'commands/ls.ts')!, /^src\//)
  assert.match(ruleBroken('commands/ls.ts', 'drivers/sdk/index.ts')!, /^commands\//)
  assert.match(ruleBroken('core/keys.ts', 'test/lab/lab.ts')!, /^core\//)
  assert.match(ruleBroken('misc/x.ts', 'core/keys.ts')!, /^misc\/ is in no layer/)
  for (const [from, to] of [['core/a.ts', 'core/b.ts'], ['router/a.ts', 'core/b.ts'], ['drivers/sdk/a.ts', 'core/b.ts'], ['drivers/generic/a.ts', 'drivers/sdk/b.ts'],
    ['src/a.ts', 'drivers/generic/b.ts'], ['src/a.ts', 'core/b.ts'], ['commands/a.ts', 'src/b.ts'], ['commands/a.ts', 'core/b.ts']]) {
    assert.equal(ruleBroken(from, to), undefined, `${from} → ${to}`)
  }
  assert.deepEqual(violations(new Map([['core/a.ts', ['src/b.ts']]])), ['core/a.ts imports src/b.ts: core/ imports only core/ (and node: or npm packages)'])
})

test('cycles are found and named, long or short', () => {
  const g = new Map([['src/a.ts', ['src/b.ts']], ['src/b.ts', ['src/c.ts']], ['src/c.ts', ['src/a.ts', 'core/d.ts']], ['core/d.ts', []], ['src/e.ts', ['src/e.ts']]])
  const found = cycles(g)
  assert.equal(found.length, 2)
  assert.ok(found.some(c => c.startsWith('src/a.ts → src/b.ts → src/c.ts → src/a.ts')), found.join('\n'))
  assert.ok(found.some(c => c.startsWith('src/e.ts → src/e.ts')), found.join('\n'))
  assert.deepEqual(cycles(new Map([['src/a.ts', ['src/b.ts']], ['src/b.ts', []]])), [])
})

test('every form of import is read', () => {
  const text = [
    "import {a} from './a.js'", "import type {B} from './b.js'", "export {c} from './c.js'", "export * from './d.js'",
    "const e = await import('./e.js')", "type F = import('./f.js').F", "import g = require('./g.js')", "import './h.js'",
    'const dynamic = await import(somePath)',
  ].join('\n')
  assert.deepEqual(importsOf('x.ts', text), ['./a.js', './b.js', './c.js', './d.js', './e.js', './f.js', './g.js', './h.js'])
})
