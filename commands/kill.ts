import {powerCommand} from '../src/cli/power-command.js'

export default powerCommand('kill', 'Power machines off at once')
