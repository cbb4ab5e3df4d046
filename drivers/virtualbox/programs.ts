/** Finding and running the helper programs the driver needs besides VBoxManage (qemu-img, an ISO maker). */
import {execFile} from 'node:child_process'
import {accessSync, constants} from 'node:fs'
import {delimiter, join} from 'node:path'
import {DriverError} from '../sdk/index.js'

/** The first of `names` found as an executable on PATH, as [name, path]. */
export function findProgram(names: readonly string[], path: string = process.env.PATH ?? ''): [string, string] | undefined {
  for (const name of names) {
    for (const dir of path.split(delimiter).filter(Boolean)) {
      const file = join(dir, name)
      try {
        accessSync(file, constants.X_OK)
        return [name, file]
      } catch {
        // not here: try the next folder
      }
    }
  }
  return undefined
}

/** Runs a program to completion; a failure is one line naming the program and its first error line. */
export function runProgram(file: string, args: string[], signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, {maxBuffer: 16 * 1024 * 1024, signal}, (error, stdout, stderr) => {
      if (!error) return resolve(stdout)
      const line = stderr.split('\n').map(l => l.trim()).find(Boolean) ?? error.message
      reject(new DriverError(`${file} ${args[0] ?? ''} failed: ${line}`, {cause: error}))
    })
  })
}
