/** Pure rendering of the scale bench's results: a text table and an SVG plot of each figure against N. */

export interface ScaleRow {
  backend: string
  /** Routers running. */
  n: number
  /** Seconds from the joining router's start until every router has every peer (p50, p95 over `joins`). */
  joinP50: number
  joinP95: number
  joins: number
  /** One router's reconcile for a join or leave (its log's `applied … ms`), p50 and p95 over all routers and rounds, ms. */
  applyP50Ms: number
  applyP95Ms: number
  /** How busy the whole machine was during the joins and leaves, % of all its cores. */
  machineBusyPct: number
  /**
   * CPU each of the other routers spent per membership change (half of one leave and join
   * round, idle time included), ms, children included: N routers share this machine's cores,
   * so N times it bounds how fast a change can converge here.
   */
  cpuMsPerChange: number
  /** Seconds from `rm`'s etcd step until no router has the removed peer. */
  leaveP50: number
  leaveP95: number
  /** etcd gRPC messages received per second per router while idle. */
  idleReqPerRouter: number
  /** etcd watchers while idle, per router. */
  watchersPerRouter: number
  /** etcd gRPC messages received during one join (its start until converged), per router. */
  joinReqPerRouter: number
  /** Mean router RSS, MB. */
  rssMb: number
  /** Mean router RSS over an idle node started the same way in the same run, MB. */
  ownMb: number
  /** Of ownMb, the router's own anonymous memory (heap, V8's spaces): private to it. */
  ownAnonMb: number
  /** Of ownMb, pages of node's binary and other mapped files the router uses beyond an idle node: clean, shared. */
  ownFileMb: number
  /** Mean idle CPU per router, percent of one core (children included). */
  cpuPct: number
  /** The part of cpuPct spent in the router's children (ip, iptables, sysctl). */
  childCpuPct: number
  /** etcd's own idle CPU, percent of one core. */
  etcdCpuPct: number
}

interface Column {
  head: string
  cell: (r: ScaleRow) => string
}

const f = (digits: number) => (x: number) => (Number.isFinite(x) ? x.toFixed(digits) : '-')

const COLUMNS: Column[] = [
  {head: 'backend', cell: r => r.backend},
  {head: 'N', cell: r => String(r.n)},
  {head: 'join p50 s', cell: r => f(2)(r.joinP50)},
  {head: 'join p95 s', cell: r => f(2)(r.joinP95)},
  {head: 'apply p50 ms', cell: r => f(0)(r.applyP50Ms)},
  {head: 'apply p95 ms', cell: r => f(0)(r.applyP95Ms)},
  {head: 'machine busy %', cell: r => f(0)(r.machineBusyPct)},
  {head: 'CPU ms/change/router', cell: r => f(1)(r.cpuMsPerChange)},
  {head: 'leave p50 s', cell: r => f(2)(r.leaveP50)},
  {head: 'leave p95 s', cell: r => f(2)(r.leaveP95)},
  {head: 'rounds', cell: r => String(r.joins)},
  {head: 'etcd idle msg/s/router', cell: r => f(3)(r.idleReqPerRouter)},
  {head: 'watchers/router', cell: r => f(2)(r.watchersPerRouter)},
  {head: 'etcd msg/join/router', cell: r => f(1)(r.joinReqPerRouter)},
  {head: 'RSS MB', cell: r => f(1)(r.rssMb)},
  {head: 'own MB', cell: r => f(1)(r.ownMb)},
  {head: 'of it anon MB', cell: r => f(1)(r.ownAnonMb)},
  {head: 'of it file MB', cell: r => f(1)(r.ownFileMb)},
  {head: 'idle CPU %', cell: r => f(2)(r.cpuPct)},
  {head: 'of it children %', cell: r => f(2)(r.childCpuPct)},
  {head: 'etcd CPU %', cell: r => f(2)(r.etcdCpuPct)},
]

/** A Markdown table (readable as text, pasteable into the README). */
export function renderTable(rows: ScaleRow[]): string {
  const cells = [COLUMNS.map(c => c.head), ...rows.map(r => COLUMNS.map(c => c.cell(r)))]
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map(row => row[i]!.length)))
  const line = (row: string[]) => `| ${row.map((c, i) => c.padStart(widths[i]!)).join(' | ')} |`
  return [line(cells[0]!), `|${widths.map(w => '-'.repeat(w + 1) + ':').join('|')}|`, ...cells.slice(1).map(line)].join('\n')
}

export interface Panel {
  title: string
  unit: string
  /** One line per series (e.g. p50 and p95), each a value per row. */
  series: Array<{label: string; value: (r: ScaleRow) => number}>
  /** Drawn as a dashed line. */
  target?: number
}

export const PANELS: Panel[] = [
  {title: 'join converged everywhere', unit: 's', series: [{label: 'p50', value: r => r.joinP50}, {label: 'p95', value: r => r.joinP95}], target: 2},
  {title: 'etcd messages while idle, per router', unit: 'msg/s', series: [{label: 'per router', value: r => r.idleReqPerRouter}]},
  {title: 'idle CPU per router', unit: '% of a core', series: [{label: 'mean', value: r => r.cpuPct}], target: 0.5},
  {title: 'router memory over an idle node', unit: 'MB', series: [{label: 'own share', value: r => r.ownMb}, {label: 'of it anon', value: r => r.ownAnonMb}], target: 10},
]

const W = 380
const H = 240
const PAD = {left: 50, right: 15, top: 30, bottom: 35}
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c']

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** A round upper bound for an axis holding `max`: 1, 2 or 5 times a power of ten. */
export function niceCeiling(max: number): number {
  if (!(max > 0)) return 1
  const power = 10 ** Math.floor(Math.log10(max))
  return [1, 2, 5, 10].map(m => m * power).find(v => v >= max)!
}

function panelSvg(panel: Panel, rows: ScaleRow[], x0: number, y0: number): string {
  const ns = rows.map(r => r.n)
  const values = panel.series.flatMap(s => rows.map(s.value)).filter(Number.isFinite)
  const top = niceCeiling(Math.max(...values, panel.target ?? 0) * 1.1)
  const [minN, maxN] = [Math.min(...ns), Math.max(...ns)]
  const px = (n: number) => x0 + PAD.left + (maxN === minN ? 0.5 : (n - minN) / (maxN - minN)) * (W - PAD.left - PAD.right)
  const py = (v: number) => y0 + H - PAD.bottom - (v / top) * (H - PAD.top - PAD.bottom)
  const out: string[] = [
    `<text x="${x0 + W / 2}" y="${y0 + 18}" text-anchor="middle" font-size="13">${esc(panel.title)} (${esc(panel.unit)})</text>`,
    `<line x1="${px(minN) - 10}" y1="${py(0)}" x2="${x0 + W - PAD.right}" y2="${py(0)}" stroke="#000"/>`,
    `<line x1="${x0 + PAD.left - 10}" y1="${py(0)}" x2="${x0 + PAD.left - 10}" y2="${py(top)}" stroke="#000"/>`,
  ]
  for (const v of [0, top / 2, top]) {
    out.push(`<text x="${x0 + PAD.left - 14}" y="${py(v) + 4}" text-anchor="end" font-size="11">${+v.toPrecision(3)}</text>`)
  }
  for (const n of [...new Set(ns)]) out.push(`<text x="${px(n)}" y="${py(0) + 15}" text-anchor="middle" font-size="11">${n}</text>`)
  out.push(`<text x="${x0 + W / 2}" y="${y0 + H - 5}" text-anchor="middle" font-size="11">routers (N)</text>`)
  if (panel.target !== undefined) {
    out.push(`<line x1="${px(minN)}" y1="${py(panel.target)}" x2="${px(maxN)}" y2="${py(panel.target)}" stroke="#888" stroke-dasharray="5,4"/>`,
      `<text x="${px(maxN)}" y="${py(panel.target) - 4}" text-anchor="end" font-size="10" fill="#666">target ${panel.target}</text>`)
  }
  panel.series.forEach((s, i) => {
    const points = rows.filter(r => Number.isFinite(s.value(r))).map(r => [px(r.n), py(s.value(r))] as const)
    const colour = COLOURS[i % COLOURS.length]
    out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}"/>`)
    for (const [x, y] of points) out.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3" fill="${colour}"/>`)
    out.push(`<text x="${x0 + PAD.left + 5}" y="${y0 + PAD.top + 12 + 13 * i}" font-size="11" fill="${colour}">${esc(s.label)}</text>`)
  })
  return out.join('\n')
}

/** Every panel against N for one backend's rows, two panels a row. */
export function renderSvg(title: string, rows: ScaleRow[], panels: Panel[] = PANELS): string {
  if (rows.length === 0) throw new Error('no results to plot')
  const sorted = [...rows].sort((a, b) => a.n - b.n)
  const cols = 2
  const height = 30 + Math.ceil(panels.length / cols) * H
  const body = panels.map((p, i) => panelSvg(p, sorted, (i % cols) * W, 30 + Math.floor(i / cols) * H))
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${cols * W}" height="${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${W}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
    ...body,
    '</svg>',
  ].join('\n') + '\n'
}
