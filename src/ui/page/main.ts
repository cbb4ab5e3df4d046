/**
 * The page of `cluster ui`, bundled with cytoscape into dist/ui-page.js (no CDN: it works
 * offline). It keeps the server's View up to date from the update stream (applyPatch), and
 * draws it twice: a graph (cytoscape: machines on a circle, each machine's containers in a
 * grid below it, overlay links coloured by health; past a dozen machines the full mesh
 * would hide everything, so healthy links are then hidden unless asked for) and lists
 * beside it (machines with their containers, links), which also serve keyboard and
 * screen-reader users and the tests.
 * Layout runs only when machines or a machine's containers come or go; a change of health
 * only restyles the elements it touches.
 */
import cytoscape, {type Core, type EdgeCollection, type ElementDefinition} from 'cytoscape'
import {applyPatch, type View, type ViewEdge, type ViewNode, type ViewPatch} from '../view-model.js'
import type {UiUpdate} from '../live.js'
import './style.css'

/** What the page measures about itself, read by bench/ui: per update, server change → drawn, and the page's own work. */
interface Timing {
  seq: number
  nodes: number
  edges: number
  latencyMs: number
  handleMs: number
}
declare global {
  interface Window {
    clusterUi: {timings: Timing[]; longTasks: number[]}
  }
}
window.clusterUi = {timings: [], longTasks: []}
try {
  new PerformanceObserver(list => { for (const e of list.getEntries()) window.clusterUi.longTasks.push(e.duration) }).observe({type: 'longtask'})
} catch {
  // Long-task timing is not in every browser; the update timings still are.
}

const COLORS = {healthy: '#2e7d32', slow: '#ef8f00', broken: '#d32f2f', unknown: '#9e9e9e', machine: '#1f6feb', container: '#8250df'}

const app = document.getElementById('app')!
app.innerHTML = `
<header><h1>cluster <span id="cluster"></span></h1><span id="etcd" data-up="">connecting…</span><span id="counts" class="muted"></span>
<label><input type="checkbox" id="show-healthy" checked> healthy links in the graph</label>
<span class="legend"><span><i style="background:${COLORS.healthy}"></i>healthy</span><span><i style="background:${COLORS.slow}"></i>slow</span><span><i style="background:${COLORS.broken}"></i>broken</span><span><i style="background:${COLORS.unknown}"></i>unknown</span></span></header>
<div id="graph"></div>
<aside><h2>Details</h2><div id="details" class="muted">Click a machine, a container or a link.</div>
<h2>Links <span id="link-counts" class="muted"></span></h2><ul id="links"></ul>
<h2>Machines</h2><ul id="machines"></ul></aside>`

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T
const graph = cytoscape({
  container: byId('graph'),
  minZoom: 0.01,
  maxZoom: 4,
  textureOnViewport: true,
  // Each frame redraws every element (7,000 at 100 machines): one canvas pixel per CSS
  // pixel halves and more the work on a high-density screen. For the same reason a
  // container has no edge to its machine: its place below it shows where it runs.
  pixelRatio: 1,
  hideEdgesOnViewport: true,
  style: [
    {selector: 'node[kind="machine"]', style: {
      shape: 'round-rectangle', width: 56, height: 34, 'background-color': COLORS.machine, label: 'data(label)',
      color: '#fff', 'text-valign': 'center', 'font-size': 11, 'font-weight': 'bold', 'min-zoomed-font-size': 5,
    }},
    {selector: 'node[kind="machine"][health="unknown"]', style: {'background-color': COLORS.unknown}},
    {selector: 'node[kind="container"]', style: {
      width: 12, height: 12, 'background-color': COLORS.container, label: 'data(label)', 'font-size': 8,
      'text-valign': 'bottom', 'text-margin-y': 2, 'min-zoomed-font-size': 7, color: '#333',
    }},
    {selector: 'edge[kind="link"]', style: {
      width: 3, 'curve-style': 'haystack', 'line-color': 'data(color)',
    }},
    {selector: 'edge.labelled, edge:selected', style: {
      label: 'data(label)', 'font-size': 9, 'min-zoomed-font-size': 8, 'text-background-color': '#fff', 'text-background-opacity': 0.8, 'text-background-padding': '1px',
    }},
    {selector: 'edge.hidden', style: {display: 'none'}},
    {selector: 'edge[health="broken"]', style: {width: 5, 'z-index': 10}},
    {selector: 'edge[health="unknown"]', style: {'line-style': 'dashed'}},
    {selector: ':selected', style: {'overlay-color': '#0969da', 'overlay-opacity': 0.25, 'overlay-padding': 6}},
  ],
})

let view: View | undefined
let restart = true
let selected: string | undefined
const listItems = new Map<string, HTMLElement>()

function elementOf(e: ViewNode | ViewEdge): ElementDefinition {
  if ('source' in e) return {group: 'edges', data: {id: e.id, source: e.source, target: e.target, kind: 'link', health: e.health, color: COLORS[e.health], label: e.label}}
  return {group: 'nodes', data: {id: e.id, kind: e.kind, label: e.label, host: e.host, health: e.health}}
}

/** Applies the patch to the graph; returns the machines whose containers must be laid out again (or 'all'). */
function drawGraph(cy: Core, patch: ViewPatch): Set<string> | 'all' {
  let relayout: Set<string> | 'all' = new Set()
  const ring = (host: string) => { if (relayout !== 'all') relayout.add(host) }
  cy.batch(() => {
    for (const id of patch.removed) {
      const el = cy.getElementById(id)
      if (el.empty()) continue
      if (el.data('kind') === 'machine') relayout = 'all'
      else if (el.data('kind') === 'container') ring(el.data('host') as string)
      el.remove()
    }
    for (const e of [...patch.nodes, ...patch.edges]) {
      const def = elementOf(e)
      const el = cy.getElementById(e.id)
      if (el.nonempty()) {
        el.data(def.data)
        continue
      }
      cy.add(def)
      if ('kind' in e && e.kind === 'machine') relayout = 'all'
      if ('kind' in e && e.kind === 'container') ring(e.host!)
    }
  })
  return relayout
}

/** The grid a machine's containers are laid out in, below the machine: columns, rows, and its size. */
const CELL = {w: 64, h: 24}
function gridOf(count: number): {cols: number; rows: number; w: number; h: number} {
  const cols = Math.max(1, Math.min(count, Math.ceil(Math.sqrt(count * 1.5))))
  const rows = Math.max(1, Math.ceil(count / cols))
  return {cols, rows, w: cols * CELL.w, h: rows * CELL.h}
}

/** At this many machines the full mesh hides everything: healthy links are hidden unless asked for. */
const DENSE_MACHINES = 12
/** Up to this many machines each link shows its round-trip time. */
const LABELLED_MACHINES = 6

function layout(cy: Core, which: Set<string> | 'all'): void {
  const containersOf = (host: string) => cy.nodes().filter(n => n.data('kind') === 'container' && n.data('host') === host)
  const machines = cy.nodes('[kind="machine"]')
  if (which === 'all') {
    const widest = Math.max(CELL.w, ...machines.map(m => gridOf(containersOf(m.data('label') as string).length).w))
    const slot = widest + 100
    machines.layout({name: 'circle', radius: Math.max(120, (machines.length * slot) / (2 * Math.PI)), animate: false, fit: false}).run()
    cy.elements().toggleClass('labelled', machines.length <= LABELLED_MACHINES)
    byId<HTMLInputElement>('show-healthy').checked = machines.length <= DENSE_MACHINES
    showHealthy(cy.edges())
  }
  const hosts = which === 'all' ? machines.map(m => m.data('label') as string) : [...which]
  for (const host of hosts) {
    const machine = cy.getElementById(`m:${host}`)
    const containers = containersOf(host)
    if (machine.empty() || containers.empty()) continue
    const {x, y} = machine.position()
    const grid = gridOf(containers.length)
    // Below the machine, a grid of its containers: what runs where reads at a glance.
    containers.layout({
      name: 'grid', cols: grid.cols, rows: grid.rows, boundingBox: {x1: x - grid.w / 2, y1: y + 26, w: grid.w, h: grid.h},
      avoidOverlap: false, animate: false, fit: false,
    }).run()
  }
  if (which === 'all') {
    cy.fit(undefined, 30)
    // A small cluster would otherwise be blown up to fill the screen.
    if (cy.zoom() > 1.2) {
      cy.zoom(1.2)
      cy.center()
    }
  }
}

/** Healthy links drawn or not (the checkbox); the others always are. */
function showHealthy(edges: EdgeCollection): void {
  const show = byId<HTMLInputElement>('show-healthy').checked
  edges.forEach(e => { e.toggleClass('hidden', !show && e.data('health') === 'healthy') })
}

function drawHeader(v: View): void {
  byId('cluster').textContent = v.clusterName
  const etcd = byId('etcd')
  etcd.dataset.up = String(v.etcd.up)
  etcd.textContent = v.etcd.up ? 'etcd connected' : `etcd unreachable since ${new Date(v.etcd.since).toLocaleTimeString()}: ${v.etcd.error ?? ''} (showing the last known state)`
  const machines = v.nodes.filter(n => n.kind === 'machine').length
  byId('counts').textContent = `${machines} machines, ${v.nodes.length - machines} containers, ${v.edges.length} links`
  const health = (h: string) => v.edges.filter(e => e.health === h).length
  byId('link-counts').textContent = `${health('healthy')} healthy, ${health('slow')} slow, ${health('broken')} broken, ${health('unknown')} unknown`
}

function listItem(e: ViewNode | ViewEdge): HTMLElement {
  const li = document.createElement('li')
  li.dataset.id = e.id
  if ('source' in e) {
    li.className = 'link'
    li.innerHTML = '<span class="dot"></span><span class="text"></span>'
  } else if (e.kind === 'machine') {
    li.className = 'machine'
    li.innerHTML = '<div class="row"><span class="dot"></span><span class="text"></span></div><ul class="containers"></ul>'
  } else {
    li.className = 'container'
    li.innerHTML = '<span class="text"></span><span class="ip"></span>'
  }
  return li
}

function fillItem(li: HTMLElement, e: ViewNode | ViewEdge): void {
  const text = li.querySelector('.text')!
  if ('source' in e) {
    li.dataset.link = e.id.slice(2)
    li.dataset.health = e.health
    text.textContent = `${e.details.link} ${e.health}${e.label ? `, ${e.label}` : ''}`
  } else if (e.kind === 'machine') {
    li.dataset.machine = e.label
    li.dataset.router = e.health ?? 'unknown'
    text.textContent = `${e.label} (${e.details.driver}, ${e.details['public address']}, subnet ${e.details.subnet}, router ${e.health})`
  } else {
    li.dataset.container = e.label
    li.dataset.host = e.host
    text.textContent = e.label
    li.querySelector('.ip')!.textContent = e.details['cluster IP'] ?? ''
  }
}

function drawLists(patch: ViewPatch): void {
  for (const id of patch.removed) {
    listItems.get(id)?.remove()
    listItems.delete(id)
  }
  for (const e of [...patch.nodes, ...patch.edges]) {
    let li = listItems.get(e.id)
    if (!li) {
      li = listItem(e)
      listItems.set(e.id, li)
      const parent = 'source' in e ? byId('links') : e.kind === 'machine' ? byId('machines') : listItems.get(`m:${e.host}`)?.querySelector('ul')
      parent?.append(li)
    }
    fillItem(li, e)
  }
}

function showDetails(id: string | undefined): void {
  selected = id
  const e = id === undefined ? undefined : [...view?.nodes ?? [], ...view?.edges ?? []].find(x => x.id === id)
  const box = byId('details')
  if (!e) {
    box.className = 'muted'
    box.textContent = id === undefined ? 'Click a machine, a container or a link.' : 'It is gone.'
    return
  }
  box.className = ''
  const table = document.createElement('table')
  for (const [k, v] of Object.entries(e.details)) {
    const row = table.insertRow()
    const th = document.createElement('th')
    th.textContent = k
    row.append(th)
    row.insertCell().textContent = v
  }
  box.replaceChildren(table)
}

byId('show-healthy').addEventListener('change', () => showHealthy(graph.edges()))
graph.on('tap', 'node, edge[kind="link"]', event => showDetails(event.target.id() as string))
byId('app').addEventListener('click', event => {
  const li = (event.target as HTMLElement).closest('li[data-id]') as HTMLElement | null
  if (!li || (li.classList.contains('machine') && !(event.target as HTMLElement).closest('.row'))) return
  const id = li.dataset.id!
  graph.elements(':selected').unselect()
  graph.getElementById(id).select()
  showDetails(id)
})

function onUpdate(update: UiUpdate): void {
  const started = performance.now()
  if (restart) {
    // A (re)connected stream starts with the whole picture: forget the old one.
    restart = false
    view = undefined
    graph.elements().remove()
    listItems.clear()
    byId('links').replaceChildren()
    byId('machines').replaceChildren()
  }
  view = applyPatch(view, update.patch)
  const relayout = drawGraph(graph, update.patch)
  if (relayout === 'all' || relayout.size > 0) layout(graph, relayout)
  if (relayout !== 'all') showHealthy(update.patch.edges.reduce((all, e) => all.union(graph.getElementById(e.id)), graph.collection()).edges())
  drawLists(update.patch)
  drawHeader(view)
  const touched = (id: string) => update.patch.removed.includes(id) || [...update.patch.nodes, ...update.patch.edges].some(e => e.id === id)
  if (selected !== undefined && touched(selected)) showDetails(selected)
  const handleMs = performance.now() - started
  // Drawn: after the next frame the browser has painted what this update changed.
  requestAnimationFrame(() => setTimeout(() => window.clusterUi.timings.push({
    seq: update.seq, nodes: update.patch.nodes.length, edges: update.patch.edges.length, latencyMs: Date.now() - update.changedAt, handleMs,
  })))
  document.body.dataset.seq = String(update.seq)
}

const events = new EventSource('/events')
events.onopen = () => { restart = true }
events.onmessage = message => onUpdate(JSON.parse(message.data as string) as UiUpdate)
events.onerror = () => {
  const etcd = byId('etcd')
  etcd.dataset.up = 'false'
  etcd.textContent = 'lost the connection to `cluster ui` (stopped?); retrying…'
}
