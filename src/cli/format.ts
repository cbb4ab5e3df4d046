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

/** A piece of a parsed template: literal text, or the name of a field. */
type Piece = {text: string} | {field: string}

/**
 * A small subset of Go templates: `{{.Field}}`, `\t`, `\n`; `table` prints a header row.
 * Parsed before any row exists, so a broken template (an unclosed `{{`, an action that is
 * not a field, a field not in `fields`) fails in one line even when there is nothing to
 * print. `fields` undefined: any field name is accepted (rows of no fixed shape).
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
    const m = /^\.(\w+)$/.exec(action)
    if (!m) throw new InputError(`--format action "{{${action}}}" is not a field`, 'write fields as {{.Name}}; no other actions are supported')
    if (fields && !fields.includes(m[1])) {
      throw new InputError(`unknown field .${m[1]} in --format`, `use one of ${fields.map(k => `.${k}`).join(' ')}`)
    }
    pieces.push({field: m[1]})
    at = close + 2
  }
  const fill = (value: (field: string) => string) => pieces.map(p => ('text' in p ? p.text : value(p.field))).join('')
  return rows => {
    const out = rows.map(row => fill(f => String(row[f] ?? '')))
    if (isTable) out.unshift(fill(f => f.replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase()))
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
