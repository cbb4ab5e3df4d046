/**
 * Prints the router's node flags, as its systemd unit starts it (src/agent/unit.ts), one line
 * of words for the shell benches: `node $(node dist/bench/scale/router-flags.js) SCRIPT` runs
 * SCRIPT as the router runs (bench/dns, the plan bench).
 */
import {UNIT} from '../../src/agent/unit.js'
import {unitCommand} from './unit-command.js'

process.stdout.write(`${unitCommand(UNIT).nodeFlags.join(' ')}\n`)
