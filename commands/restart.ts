import {powerCommand} from '../src/cli/power-command.js'

export default powerCommand('restart', 'Restart machines')
