/**
 * Where a passphrase comes from: --passphrase-file, else $CLUSTER_STORE_PASSPHRASE (for
 * scripts), else a prompt on the terminal with echo off. Never from a flag's value: it
 * would stay in the shell history and in `ps`.
 */
import {readFileSync} from 'node:fs'
import {ClusterError, InputError} from '../../core/errors.js'

export const PASSPHRASE_ENV = 'CLUSTER_STORE_PASSPHRASE'
/** An export holds the cluster's CA key: a short passphrase would be its weak point. */
export const MIN_PASSPHRASE_CHARS = 12

export interface PassphraseSource {
  file?: string
  env: NodeJS.ProcessEnv
  /** Ask twice (export): a typo would make the file useless. */
  confirm: boolean
  prompt?: (question: string) => Promise<string>
}

export async function readPassphrase(src: PassphraseSource): Promise<string> {
  let passphrase: string
  if (src.file !== undefined) {
    try {
      passphrase = readFileSync(src.file, 'utf8').split(/\r?\n/)[0]
    } catch (error) {
      throw new InputError(`cannot read the passphrase file ${src.file}: ${(error as Error).message}`, 'name a readable file whose first line is the passphrase')
    }
  } else if (src.env[PASSPHRASE_ENV] !== undefined) {
    passphrase = src.env[PASSPHRASE_ENV]!
  } else {
    const prompt = src.prompt ?? (process.stdin.isTTY ? promptHidden : undefined)
    if (!prompt) throw new InputError('no passphrase given and no terminal to ask on', `set ${PASSPHRASE_ENV} or pass --passphrase-file FILE`)
    passphrase = await prompt('Passphrase: ')
    if (src.confirm && (await prompt('Passphrase again: ')) !== passphrase) throw new InputError('the two passphrases differ', 'type the same passphrase twice')
  }
  if (passphrase.length === 0) throw new InputError('the passphrase is empty', 'give a passphrase')
  if (src.confirm && passphrase.length < MIN_PASSPHRASE_CHARS) {
    throw new InputError(`the passphrase has ${passphrase.length} characters; an export holds the cluster's keys`, `use at least ${MIN_PASSPHRASE_CHARS} characters (a few random words)`)
  }
  return passphrase
}

/** Reads one line from the terminal without echoing it; Ctrl-C ends the command (exit 130). */
function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin
  process.stderr.write(question)
  return new Promise((resolve, reject) => {
    let line = ''
    const done = (error?: Error) => {
      stdin.setRawMode(false)
      stdin.pause()
      stdin.off('data', onData)
      process.stderr.write('\n')
      if (error) reject(error)
      else resolve(line)
    }
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done()
        if (ch === '\u0003') return done(new ClusterError('interrupted', {exitCode: 130}))
        if (ch === '\u0004' && line === '') return done(new InputError('no passphrase typed', 'type the passphrase and press Enter'))
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1)
        else if (ch >= ' ') line += ch
      }
    }
    stdin.setRawMode(true)
    stdin.resume()
    stdin.on('data', onData)
  })
}
