import {powerCommand} from '../src/cli/power-command.js'

export default powerCommand('stop', 'Stop machines gracefully')
