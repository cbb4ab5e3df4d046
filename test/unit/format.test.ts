import {test} from 'node:test'
import assert from 'node:assert/strict'
import {oneLine} from '../support/errors.js'
import {renderTable, renderTemplate, compileTemplate, parseFilters, matchesFilters} from '../../src/cli/format.js'

test('table columns align to the widest cell', () => {
  assert.equal(renderTable(['NAME', 'STATE'], [['n1', 'Running'], ['longer-name', 'Stopped']]),
    'NAME          STATE\nn1            Running\nlonger-name   Stopped\n')
})

test('templates: fields, tabs, table header, unknown field error', () => {
  const rows = [{Name: 'n1', URL: 'tcp://a:2376'}, {Name: 'n2', URL: ''}]
  assert.equal(renderTemplate('{{.Name}}={{ .URL }}', rows), 'n1=tcp://a:2376\nn2=\n')
  assert.equal(renderTemplate('table {{.Name}}\\t{{.URL}}', rows), 'NAME\tURL\nn1\ttcp://a:2376\nn2\t\n')
  assert.throws(() => renderTemplate('{{.Nope}}', rows), oneLine(/unknown field \.Nope in --format: use one of \.Name \.URL/))
})

test('templates are parsed before any row: unclosed action, non-field action, unknown field fail in one line, also with no rows', () => {
  const fields = ['Name', 'URL']
  assert.throws(() => compileTemplate('{{.Name', fields), oneLine(/^--format has a "\{\{" at character 1 that is never closed: close each action with "\}\}", e\.g\. \{\{\.Name\}\}$/))
  assert.throws(() => compileTemplate('table {{.Name}}\\t{{.URL', fields), oneLine(/never closed/))
  assert.throws(() => compileTemplate('{{range .}}x{{end}}', fields), oneLine(/^--format action "\{\{range \.\}\}" is not a field/))
  assert.throws(() => compileTemplate('{{.Nope}}', fields), oneLine(/^unknown field \.Nope in --format: use one of \.Name \.URL$/))
  assert.throws(() => renderTemplate('{{.Name', []), oneLine(/never closed/))
  assert.equal(compileTemplate('{{.Name}}', fields)([]), '')
  assert.equal(compileTemplate('a}}b {{ .Name }}', fields)([{Name: 'n1'}]), 'a}}b n1\n')
})

test('filters: ORed within a key, ANDed across keys; bad filter is an error', () => {
  const f = parseFilters(['driver=generic', 'driver=digitalocean', 'state=Running'], ['name', 'driver', 'state', 'label'])
  const m = (d: string, s: string) => matchesFilters(f, (k, v) => (k === 'driver' ? d === v : s === v))
  assert.equal(m('generic', 'Running'), true)
  assert.equal(m('digitalocean', 'Running'), true)
  assert.equal(m('virtualbox', 'Running'), false)
  assert.equal(m('generic', 'Stopped'), false)
  assert.throws(() => parseFilters(['colour=red'], ['name']), /invalid filter "colour=red"/)
  assert.throws(() => parseFilters(['name'], ['name']), /invalid filter/)
})
