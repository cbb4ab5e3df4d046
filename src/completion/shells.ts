/**
 * Machine-name completion added to the scripts oclif's autocomplete plugin writes
 * (`cluster autocomplete [bash|zsh|powershell]`). The plugin completes commands and flags
 * from the manifest, and arguments as files; where a machine name goes (the store's, which
 * the plugin cannot know) each shell asks `cluster __complete LINE` (src/completion/names.ts)
 * and falls back to the plugin's completion when it exits 1.
 */
import {readFileSync, existsSync} from 'node:fs'
import {join} from 'node:path'
import {writeFileSafe} from '../../core/files.js'

const MARK = 'machine names from the local store'

export function bashWithMachineNames(script: string, bin: string): string {
  if (script.includes(MARK)) return script
  return `${script}
# ${bin}: ${MARK} (\`${bin} __complete\` reads it: no network).
_${bin}_complete()
{
  local names IFS=$'\\n'
  if names=$(${bin} __complete "\${COMP_LINE:0:COMP_POINT}" 2>/dev/null); then
    COMPREPLY=($names)
    return 0
  fi
  _${bin}_autocomplete
}
complete -F _${bin}_complete ${bin}
`
}

/** The plugin gives every command's arguments `"*: :_files"`: they go through ours first. */
export function zshWithMachineNames(script: string, bin: string): string {
  if (script.includes(MARK)) return script
  const [first, ...rest] = script.split('\n')
  return [first, `
# ${bin}: ${MARK} (\`${bin} __complete\` reads it: no network).
_${bin}_machine_args() {
  local out
  out=$(${bin} __complete "$LBUFFER" 2>/dev/null) || { _files "$@"; return }
  local -a names
  names=(\${(f)out})
  compadd "$@" -a names
}`, ...rest].join('\n').replaceAll('"*: :_files"', `"*: :_${bin}_machine_args"`)
}

/** The plugin registers $scriptblock; ours, registered after it, replaces it and calls it back. */
export function powershellWithMachineNames(script: string, bin: string): string {
  if (script.includes(MARK)) return script
  return `${script}
# ${bin}: ${MARK} (\`${bin} __complete\` reads it: no network).
$pluginCompleter = $scriptblock
$scriptblock = {
    param($WordToComplete, $CommandAst, $CursorPosition)
    $Offset = $CursorPosition - $CommandAst.Extent.StartOffset
    $Line = $CommandAst.Extent.Text.PadRight($Offset).Substring(0, $Offset)
    $Names = & ${bin} __complete $Line 2>$null
    if ($LASTEXITCODE -eq 0) {
        @($Names) | Where-Object { $_ } | ForEach-Object {
            [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
        }
    } else {
        & $pluginCompleter $WordToComplete $CommandAst $CursorPosition
    }
}.GetNewClosure()
Register-ArgumentCompleter -Native -CommandName ${bin} -ScriptBlock $scriptblock
`
}

/** Where the plugin writes each shell's completion function, under its cache folder. */
export function completionFiles(cacheDir: string, bin: string): Array<{path: string; add: (script: string, bin: string) => string}> {
  const functions = join(cacheDir, 'autocomplete', 'functions')
  return [
    {path: join(functions, 'bash', `${bin}.bash`), add: bashWithMachineNames},
    {path: join(functions, 'zsh', `_${bin}`), add: zshWithMachineNames},
    {path: join(functions, 'powershell', `${bin}.ps1`), add: powershellWithMachineNames},
  ]
}

/** Adds machine-name completion to the files the plugin has just written. */
export function addMachineNames(cacheDir: string, bin: string): void {
  for (const {path, add} of completionFiles(cacheDir, bin)) {
    if (existsSync(path)) writeFileSafe(path, add(readFileSync(path, 'utf8'), bin), 0o644)
  }
}
