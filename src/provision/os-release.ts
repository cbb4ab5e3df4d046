/** Parsing /etc/os-release (freedesktop.org format: KEY=value lines, shell-style quoting). */

export interface OsRelease {
  /** `debian`, `ubuntu`… (lower case). */
  id: string
  /** Families this OS derives from (`ID_LIKE`), e.g. ["debian"] on Ubuntu. */
  idLike: string[]
  /** `12`, `22.04`; empty on rolling releases such as Debian testing. */
  versionId: string
  /** `bookworm`, `noble`; empty when the file does not say. */
  codename: string
  /** What to show a user: `Debian GNU/Linux 12 (bookworm)`. */
  prettyName: string
}

export function parseOsRelease(text: string): OsRelease {
  const fields = new Map<string, string>()
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const eq = line.indexOf('=')
    if (eq <= 0) continue
    fields.set(line.slice(0, eq), unquote(line.slice(eq + 1)))
  }
  const id = (fields.get('ID') ?? 'linux').toLowerCase()
  const versionId = fields.get('VERSION_ID') ?? ''
  return {
    id,
    idLike: (fields.get('ID_LIKE') ?? '').toLowerCase().split(/\s+/).filter(Boolean),
    versionId,
    codename: fields.get('VERSION_CODENAME') ?? fields.get('UBUNTU_CODENAME') ?? codenameFromVersion(fields.get('VERSION') ?? ''),
    prettyName: fields.get('PRETTY_NAME') ?? (`${fields.get('NAME') ?? id} ${versionId}`).trim(),
  }
}

/** Values may be bare, 'single' or "double" quoted; in double quotes \" \\ \$ \` are escapes. */
function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) return value.slice(1, -1)
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    return value.slice(1, -1).replace(/\\(["\\$`])/g, '$1')
  }
  return value
}

/** Older files name the codename only inside VERSION: `12 (bookworm)`. */
function codenameFromVersion(version: string): string {
  return /\(([a-z]+)\)/.exec(version)?.[1] ?? ''
}
