import {powerCommand} from '../src/cli/power-command.js'

export default powerCommand('start', 'Start machines')
