/**
 * Output helpers shared by list-style commands: aligned tables, Docker-style `--format`
 * templates (`{{.Name}}`, with a `table` prefix for a header), and `--filter key=value`.
 */
import {InputError} from '../../core/errors.js'

export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('   ').trimEnd()
  return [line(headers), ...rows.map(line)].join('\n') + '\n'
}

/** A piece of a parsed template: literal text, or a field path (`.A.B`, `.`) with an optional function. */
type Piece = {text: string} | {path: string[]; fn?: 'json' | 'prettyjson'}

const ACTION = /^(?:(json|prettyjson)\s+)?\.((?:\w+(?:\.\w+)*)?)$/

/** Go's fmt for a value in a template; maps and lists as JSON, clearer than Go's map[...]. */
function show(v: unknown): string {
  if (v === undefined || v === null) return '<no value>'
  return typeof v === 'object' ? JSON.stringify(v) : String(v)
}

function lookup(row: unknown, path: string[]): unknown {
  let v = row
  for (const [i, key] of path.entries()) {
    if (v === null || typeof v !== 'object' || !(key in v)) {
      const known = v !== null && typeof v === 'object' ? Object.keys(v).map(k => `.${k}`).join(' ') : 'none'
      throw new InputError(`unknown field .${path.slice(0, i + 1).join('.')} in --format`, `fields there: ${known}`)
    }
    v = (v as Record<string, unknown>)[key]
  }
  return v
}

/**
 * A subset of Go templates as Docker Machine's --format had it: `{{.Field}}`, nested
 * `{{.A.B}}`, `{{.}}`, the functions `json` and `prettyjson`, `\t`, `\n`; `table` prints a
 * header row. Parsed before any row exists, so a broken template (an unclosed `{{`, an
 * action or function we do not have, a top-level field not in `fields`) fails in one line
 * even when there is nothing to print. `fields` undefined: any field name is accepted.
 */
export function compileTemplate(template: string, fields?: string[]): (rows: Record<string, unknown>[]) => string {
  const isTable = template.startsWith('table')
  const body = (isTable ? template.slice(5).trimStart() : template).replace(/\\t/g, '\t').replace(/\\n/g, '\n')
  const pieces: Piece[] = []
  for (let at = 0; at < body.length;) {
    const open = body.indexOf('{{', at)
    if (open < 0) {
      pieces.push({text: body.slice(at)})
      break
    }
    pieces.push({text: body.slice(at, open)})
    const close = body.indexOf('}}', open + 2)
    if (close < 0) throw new InputError(`--format has a "{{" at character ${open + 1} that is never closed`, 'close each action with "}}", e.g. {{.Name}}')
    const action = body.slice(open + 2, close).trim()
    const m = ACTION.exec(action)
    if (!m) throw new InputError(`--format action "{{${action}}}" is not a field`, 'write {{.Name}}, {{.A.B}}, {{json .Name}} or {{prettyjson .Name}}')
    const path = m[2] ? m[2].split('.') : []
    if (fields && path.length && !fields.includes(path[0])) {
      throw new InputError(`unknown field .${path[0]} in --format`, `use one of ${fields.map(k => `.${k}`).join(' ')}`)
    }
    pieces.push({path, fn: m[1] as 'json' | 'prettyjson' | undefined})
    at = close + 2
  }
  const value = (row: Record<string, unknown>, p: {path: string[]; fn?: string}) => {
    const v = lookup(row, p.path)
    return p.fn === 'json' ? JSON.stringify(v ?? null) : p.fn === 'prettyjson' ? JSON.stringify(v ?? null, null, 4) : show(v)
  }
  const header = (p: {path: string[]}) => (p.path.at(-1) ?? '').replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase()
  return rows => {
    const out = rows.map(row => pieces.map(p => ('text' in p ? p.text : value(row, p))).join(''))
    if (isTable) out.unshift(pieces.map(p => ('text' in p ? p.text : header(p))).join(''))
    return out.length ? out.join('\n') + '\n' : ''
  }
}

/** compileTemplate for rows at hand: the fields are the first row's. */
export function renderTemplate(template: string, rows: Record<string, unknown>[]): string {
  return compileTemplate(template, rows.length ? Object.keys(rows[0]) : undefined)(rows)
}

export type Filters = Map<string, string[]>

/** `--filter k=v` repeated: values of one key are ORed, different keys ANDed. */
export function parseFilters(values: string[] | undefined, allowed: string[]): Filters {
  const filters: Filters = new Map()
  for (const v of values ?? []) {
    const eq = v.indexOf('=')
    const key = eq > 0 ? v.slice(0, eq).toLowerCase() : ''
    if (!allowed.includes(key)) throw new InputError(`invalid filter "${v}"`, `use --filter KEY=VALUE with KEY one of ${allowed.join(', ')}`)
    filters.set(key, [...(filters.get(key) ?? []), v.slice(eq + 1)])
  }
  return filters
}

export function matchesFilters(filters: Filters, test: (key: string, value: string) => boolean): boolean {
  for (const [key, values] of filters) if (!values.some(v => test(key, v))) return false
  return true
}
