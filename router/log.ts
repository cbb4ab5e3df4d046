/** The router logs one line per event to stdout/stderr; systemd's journal keeps them. */
export interface Logger {
  info(msg: string): void
  warn(msg: string): void
}

export const log: Logger = {
  info: msg => process.stdout.write(`${msg}\n`),
  warn: msg => process.stderr.write(`warning: ${msg}\n`),
}
