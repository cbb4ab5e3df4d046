/**
 * Machine-name completion added to the scripts oclif's autocomplete plugin writes
 * (`cluster autocomplete [bash|zsh|powershell]`). The plugin completes commands and flags
 * from the manifest, and arguments as files; where a machine name goes (the store's, which
 * the plugin cannot know) each shell lists the store's machines folder and falls back to the
 * plugin's completion elsewhere. bash and zsh decide in shell code written here from the
 * manifest (`_BIN_machine_names`, POSIX sh that both run): a <TAB> then starts no node, whose
 * bare start alone is over the 150 ms a <TAB> may take on a slow VM. PowerShell asks
 * `cluster __complete LINE` (src/completion/names.ts), which decides the same from the same
 * manifest (src/completion/position.ts) in node.
 */
import {readFileSync, existsSync} from 'node:fs'
import {join} from 'node:path'
import {writeFileSafe} from '../../core/files.js'
import {machineArgSpecs, type Manifest, type MachineArgSpec} from './position.js'

const MARK = 'machine names from the local store'

/**
 * `_BIN_machine_names LINE`: prints the store's machines that start with the word being typed
 * and returns 0 where a machine name goes, returns 1 elsewhere — machineNamePrefix's rules
 * (position.ts), unrolled into `case` tables from the manifest. POSIX sh, so bash runs it as
 * is and zsh under `emulate -L sh` (word splitting of $line, 1-based $@).
 */
export function posixMachineNames(bin: string, specs: MachineArgSpec[]): string {
  const arm = ({id, machines, valueFlags}: MachineArgSpec): string =>
    `      '${id.split(':').join(' ')}') spec='${machines === 'one' ? '1' : machines === 'list' ? '*' : '-'} ${valueFlags.join(' ')}' ;;`
  const topicCommands = specs.filter(s => s.id.includes(':'))
  if (specs.some(s => s.id.split(':').length > 2)) throw new Error('completion: commands nest two words deep at most here')
  return `_${bin}_machine_names() {
  [ -z "\${ZSH_VERSION:-}" ] || emulate -L sh
  local line="$1" IFS=' \t\n' typed w='' spec='' want='' dashes='' pos=0 cur='' d
  set -f; set -- $line; set +f
  # The word being typed is the last one, or '' after a space.
  case $line in ''|*[[:space:]]) typed=$# ;; *) typed=$(($# - 1)); eval "cur=\\\${$#}" ;; esac
  while [ "$typed" -gt 0 ]; do
    w=$1; shift; typed=$((typed - 1))
    case $w in ${bin}|*/${bin}) break ;; esac
  done
  case $w in ${bin}|*/${bin}) ;; *) return 1 ;; esac
  # A topic's command (\`kv add\`) before a command of one word.
  if [ "$typed" -ge 2 ]; then
    case "$1 $2" in
${topicCommands.map(arm).join('\n')}
    esac
    [ -z "$spec" ] || { shift 2; typed=$((typed - 2)); }
  fi
  if [ -z "$spec" ] && [ "$typed" -ge 1 ]; then
    case $1 in
${specs.filter(s => !s.id.includes(':')).map(arm).join('\n')}
    esac
    [ -z "$spec" ] || { shift; typed=$((typed - 1)); }
  fi
  case $spec in 1*|'*'*) ;; *) return 1 ;; esac
  # The flags that take the next word as their value; count the positional words.
  while [ "$typed" -gt 0 ]; do
    w=$1; shift; typed=$((typed - 1))
    if [ -n "$want" ]; then want=''
    elif [ -n "$dashes" ]; then pos=$((pos + 1))
    else
      case $w in
        --) dashes=1 ;;
        -) pos=$((pos + 1)) ;;
        --*=*) ;;
        -*) case " $spec " in *" $w "*) want=1 ;; esac ;;
        *) pos=$((pos + 1)) ;;
      esac
    fi
  done
  [ -z "$want" ] || return 1
  [ -n "$dashes" ] || case $cur in -*) return 1 ;; esac
  case $spec in 1*) [ "$pos" -eq 0 ] || return 1 ;; esac
  for d in "\${CLUSTER_STORAGE_PATH:-$HOME/.cluster}/machines/$cur"*; do
    [ -f "$d/machine.json" ] && printf '%s\\n' "\${d##*/}"
  done
  return 0
}`
}

export function bashWithMachineNames(script: string, bin: string, manifest: Manifest): string {
  if (script.includes(MARK)) return script
  return `${script}
# ${bin}: ${MARK} (the store's machines folder: no node, no network).
${posixMachineNames(bin, machineArgSpecs(manifest))}
_${bin}_complete()
{
  local names IFS=$'\\n'
  if names=$(_${bin}_machine_names "\${COMP_LINE:0:COMP_POINT}"); then
    COMPREPLY=($names)
    return 0
  fi
  _${bin}_autocomplete
}
complete -F _${bin}_complete ${bin}
`
}

/** The plugin gives every command's arguments `"*: :_files"`: they go through ours first. */
export function zshWithMachineNames(script: string, bin: string, manifest: Manifest): string {
  if (script.includes(MARK)) return script
  const [first, ...rest] = script.split('\n')
  return [first, `
# ${bin}: ${MARK} (the store's machines folder: no node, no network).
${posixMachineNames(bin, machineArgSpecs(manifest))}
_${bin}_machine_args() {
  local out
  out=$(_${bin}_machine_names "$LBUFFER") || { _files "$@"; return }
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
export function completionFiles(cacheDir: string, bin: string): Array<{path: string; add: (script: string, bin: string, manifest: Manifest) => string}> {
  const functions = join(cacheDir, 'autocomplete', 'functions')
  return [
    {path: join(functions, 'bash', `${bin}.bash`), add: bashWithMachineNames},
    {path: join(functions, 'zsh', `_${bin}`), add: zshWithMachineNames},
    {path: join(functions, 'powershell', `${bin}.ps1`), add: powershellWithMachineNames},
  ]
}

/** Adds machine-name completion to the files the plugin has just written. */
export function addMachineNames(cacheDir: string, bin: string, manifest: Manifest): void {
  for (const {path, add} of completionFiles(cacheDir, bin)) {
    if (existsSync(path)) writeFileSafe(path, add(readFileSync(path, 'utf8'), bin, manifest), 0o644)
  }
}
