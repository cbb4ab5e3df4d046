/** The virtualbox driver's factory: flags in, a VirtualBoxDriver out. */
import type {DriverContext, DriverData, DriverFactory, FlagValues} from '../sdk/index.js'
import {VirtualBoxDriver, DEFAULT_TUNING, type VboxData, type VboxTuning} from './driver.js'
import {VBOX_FLAGS, parseOptions} from './options.js'

export function createVirtualBoxFactory(tuning: VboxTuning = DEFAULT_TUNING): DriverFactory {
  return {
    name: 'virtualbox',
    description: 'create a VM in VirtualBox on this computer from a Debian or Ubuntu cloud image (tested only against a VBoxManage stand-in)',
    flags: VBOX_FLAGS,
    fromFlags(flags: FlagValues, ctx: DriverContext) {
      const o = parseOptions(flags)
      const data: VboxData = {vboxmanage: o.vboxmanage, vmName: ctx.machineName, uiType: o.uiType}
      return new VirtualBoxDriver(data, ctx, tuning, o)
    },
    load(data: DriverData, ctx: DriverContext) {
      return new VirtualBoxDriver(data as VboxData, ctx, tuning)
    },
  }
}

export const virtualboxDriver: DriverFactory = createVirtualBoxFactory()
