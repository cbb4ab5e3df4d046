/** Step-by-step progress on stderr, so stdout stays clean for --json and scripts. */
export interface Progress {
  step(message: string): void
}

export function stderrProgress(prefix: string, quiet = false): Progress {
  const start = Date.now()
  return {
    step(message: string) {
      if (quiet) return
      const s = ((Date.now() - start) / 1000).toFixed(1).padStart(5)
      process.stderr.write(`[${s}s] (${prefix}) ${message}\n`)
    },
  }
}

export const silentProgress: Progress = {step() {}}
