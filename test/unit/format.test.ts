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

test('templates as Docker Machine\'s inspect has them: nested fields, json and prettyjson, errors for anything else', () => {
  const host = [{DriverName: 'generic', Driver: {IPAddress: '198.18.0.11', SSHUser: 'root'}, HostOptions: {EngineOptions: {Labels: ['a=b']}}}]
  assert.equal(renderTemplate('{{.DriverName}}', host), 'generic\n')
  assert.equal(renderTemplate('{{.Driver.IPAddress}} {{ .Driver.SSHUser }}', host), '198.18.0.11 root\n')
  assert.equal(renderTemplate('{{json .DriverName}}', host), '"generic"\n')
  assert.equal(renderTemplate('{{json .HostOptions.EngineOptions.Labels}}', host), '["a=b"]\n')
  assert.equal(renderTemplate('{{prettyjson .Driver}}', host), '{\n    "IPAddress": "198.18.0.11",\n    "SSHUser": "root"\n}\n')
  assert.equal(renderTemplate('{{.HostOptions.EngineOptions}}', host), '{"Labels":["a=b"]}\n')
  assert.equal(JSON.parse(renderTemplate('{{json .}}', host)).DriverName, 'generic')
  assert.equal(renderTemplate('table {{.Driver.IPAddress}}', host), 'IPADDRESS\n198.18.0.11\n')
  assert.throws(() => renderTemplate('{{.Driver.Nope}}', host), oneLine(/^unknown field \.Driver\.Nope in --format: fields there: \.IPAddress \.SSHUser$/))
  assert.throws(() => renderTemplate('{{nosuch .DriverName}}', host), oneLine(/^--format action "\{\{nosuch \.DriverName\}\}" is not a field/))
  assert.throws(() => renderTemplate('{{.DriverName', host), oneLine(/never closed/))
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
