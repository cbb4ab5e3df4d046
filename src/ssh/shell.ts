/** Building POSIX shell command lines that are safe whatever the values contain. */

/** Quotes one word for a POSIX shell: 'it'\''s' survives any content, spaces and newlines included. */
export function shq(word: string): string {
  if (/^[\w@%+=:,./-]+$/.test(word)) return word
  return `'${word.replaceAll("'", `'\\''`)}'`
}

/** Runs `script` as root through `sudo -n` (never prompts: a sudo that wants a password fails at once). */
export function asRoot(script: string): string {
  return `sudo -n sh -c ${shq(script)}`
}
