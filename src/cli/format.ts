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

const FIELD = /\{\{\s*\.(\w+)\s*\}\}/g

/** A small subset of Go templates: `{{.Field}}`, `\t`, `\n`; `table` prints a header row. */
export function renderTemplate(template: string, rows: Record<string, unknown>[]): string {
  const isTable = template.startsWith('table')
  const body = (isTable ? template.slice(5).trimStart() : template).replace(/\\t/g, '\t').replace(/\\n/g, '\n')
  for (const m of body.matchAll(FIELD)) {
    if (rows.length && !(m[1] in rows[0])) {
      throw new InputError(`unknown field .${m[1]} in --format`, `use one of ${Object.keys(rows[0]).map(k => `.${k}`).join(' ')}`)
    }
  }
  const fill = (row: Record<string, unknown>) => body.replace(FIELD, (_, f: string) => String(row[f] ?? ''))
  const out = rows.map(fill)
  if (isTable) out.unshift(body.replace(FIELD, (_, f: string) => f.replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase()))
  return out.length ? out.join('\n') + '\n' : ''
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
