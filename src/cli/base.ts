/**
 * The base of every command: the one place that turns any failure into a single line on
 * stderr and an exit code; and, for commands that talk to etcd, its connection flags.
 */
import {Command, Flags, Errors} from '@oclif/core'
import {ClusterError, describeCause} from '../../core/errors.js'
import {kvOverride, openKv, type Kv, type KvOptions} from '../kv/client.js'
import {LocalStore} from '../store/local.js'

export abstract class ClusterCommand extends Command {
  static baseFlags = {
    debug: Flags.boolean({description: 'print the cause chain of errors', helpGroup: 'GLOBAL'}),
  }

  /** For --json: print a typed result, one JSON document. */
  protected printJson(value: unknown): void {
    process.stdout.write(JSON.stringify(value, null, 2) + '\n')
  }

  /**
   * Ends the process once the answer is printed. Commands that probe hosts use it: a
   * connect to a dead address stays pending in the kernel (ARP, ~3 s) after we gave up on
   * it, and would hold the process past --timeout.
   */
  protected finishNow(): never {
    process.exit(process.exitCode ?? 0)
  }

  /** One line on stderr and the error's exit code; oclif's own formatter wraps and decorates. */
  protected fail(message: string, exitCode: number): never {
    process.stderr.write(`Error: ${message}\n`)
    this.exit(exitCode)
  }

  protected async catch(err: Error & {exitCode?: number}): Promise<never> {
    if (err instanceof Errors.ExitError) throw err
    if (process.argv.includes('--debug')) process.stderr.write(`${describeCause(err)}\n${err.stack ?? ''}\n`)
    if (err instanceof ClusterError) this.fail(err.oneLine(), err.exitCode)
    // oclif's own parse errors (unknown flag, missing argument): their first line, and where to look.
    if (err instanceof Errors.CLIError) {
      this.fail(`${parseErrorLine(err.message)}: see \`cluster ${this.id?.replaceAll(':', ' ') ?? ''} --help\``, 2)
    }
    throw err
  }
}

export const kvFlags = {
  'kv-endpoint': Flags.string({description: 'etcd endpoint (http(s)://host:port); repeatable [env: CLUSTER_KV_ENDPOINTS, comma-separated]', multiple: true, multipleNonGreedy: true, helpGroup: 'ETCD'}),
  'kv-cacert': Flags.string({description: 'CA certificate of a TLS etcd [env: CLUSTER_KV_CACERT]', helpGroup: 'ETCD'}),
  'kv-cert': Flags.string({description: 'client certificate for etcd [env: CLUSTER_KV_CERT]', helpGroup: 'ETCD'}),
  'kv-key': Flags.string({description: 'client key for etcd [env: CLUSTER_KV_KEY]', helpGroup: 'ETCD'}),
  'cluster-name': Flags.string({description: 'cluster to act on, when one etcd holds several [env: CLUSTER_NAME]', helpGroup: 'ETCD'}),
}

type KvFlagValues = {'kv-endpoint'?: string[]; 'kv-cacert'?: string; 'kv-cert'?: string; 'kv-key'?: string; 'cluster-name'?: string}

/** A command that talks to etcd. */
export abstract class KvCommand extends ClusterCommand {
  static baseFlags = {...ClusterCommand.baseFlags, ...kvFlags}
  private kv?: Kv

  /** The etcd options the user gave on the command line (env and local config fill the rest). */
  protected kvOptions(flags: KvFlagValues): KvOptions {
    const options = {endpoints: flags['kv-endpoint'], cacert: flags['kv-cacert'], cert: flags['kv-cert'], key: flags['kv-key'], clusterName: flags['cluster-name']}
    // Said once per command: the user is never silently on another etcd than config.json's.
    const override = this.overrideSaid ? undefined : kvOverride(options, process.env, new LocalStore().readConfig())
    if (override) process.stderr.write(`Note: ${override}\n`)
    this.overrideSaid = true
    return options
  }

  private overrideSaid = false

  /** Opens etcd once per command; closed in finally(). */
  protected async openKv(flags: KvFlagValues): Promise<Kv> {
    this.kv ??= await openKv(this.kvOptions(flags))
    return this.kv
  }

  protected kvClose(): void {
    this.kv?.close()
    this.kv = undefined
  }

  protected async finally(err: Error | undefined): Promise<void> {
    this.kvClose()
    return super.finally(err)
  }
}

/**
 * oclif's parse error as one line: "Missing 1 required arg:" is followed on the next line by
 * the argument's name and description; the name is what the line needs.
 */
export function parseErrorLine(message: string): string {
  const [first = '', next] = message.split('\n')
  return first.endsWith(':') && next?.trim() ? `${first} ${next.trim().split(/\s+/)[0]}` : first
}
