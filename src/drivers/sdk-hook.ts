/**
 * Module resolve hook (node:module register), installed by the registry before it loads a
 * third-party driver: the SDK's package name resolves to the SDK of the CLI doing the
 * loading, wherever the driver package lives. Runs on Node's hooks thread; imports nothing.
 */
import type {InitializeHook, ResolveHook} from 'node:module'

export interface SdkHookData {
  /** The name drivers import, e.g. `machine-cluster/driver-sdk`. */
  specifier: string
  /** file: URL of the CLI's own drivers/sdk/index.js. */
  url: string
}

let sdk: SdkHookData | undefined

export const initialize: InitializeHook<SdkHookData> = data => {
  sdk = data
}

export const resolve: ResolveHook = (specifier, context, next) =>
  sdk && specifier === sdk.specifier ? {url: sdk.url, shortCircuit: true} : next(specifier, context)
