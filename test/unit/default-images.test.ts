/**
 * Every built-in driver's default image is one the provisioner accepts: the OS and version are
 * read from the default's name (a DigitalOcean slug such as ubuntu-24-04-x64, a cloud image file
 * such as debian-13-genericcloud-amd64.qcow2 or noble-server-cloudimg-amd64.img) and fed to the
 * same selectProvisioner that OS detection uses on a live host. Drivers without an image flag
 * (generic adopts a host) have nothing to check.
 */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {getDriver, listDrivers} from '../../src/drivers/registry.js'
import {selectProvisioner} from '../../src/provision/provisioner.js'
import type {OsRelease} from '../../src/provision/os-release.js'
import {ProvisionError} from '../../core/errors.js'

const UBUNTU_CODENAMES: Record<string, string> = {jammy: '22.04', noble: '24.04'}

/** The OS an image name announces, as /etc/os-release would say it; undefined if the name says none. */
function osOfImageName(image: string): OsRelease | undefined {
  const name = image.split('/').pop()!
  const versioned = /^(debian|ubuntu)-(\d+)(?:-(\d\d))?(?=[-.]|$)/.exec(name)
  if (versioned) {
    const [, id, major, minor] = versioned
    const versionId = minor ? `${major}.${minor}` : major!
    return {id: id!, idLike: id === 'ubuntu' ? ['debian'] : [], versionId, codename: '', prettyName: `${id} ${versionId}`}
  }
  const cloudimg = /^([a-z]+)-server-cloudimg-/.exec(name)
  if (cloudimg) {
    const codename = cloudimg[1]!
    return {id: 'ubuntu', idLike: ['debian'], versionId: UBUNTU_CODENAMES[codename] ?? '', codename, prettyName: `Ubuntu ${codename}`}
  }
  return undefined
}

/** The default of the driver's image flag (`<driver>-image` or `<driver>-image-url`), if it has one. */
async function defaultImage(driver: string): Promise<string | undefined> {
  const factory = await getDriver(driver, {})
  const flag = factory.flags.find(f => f.name === `${driver}-image` || f.name === `${driver}-image-url`)
  return flag?.default === undefined ? undefined : String(flag.default)
}

test('every built-in driver that boots an image defaults to one the provisioner accepts', async () => {
  const builtIn = (await listDrivers({CLUSTER_DRIVER_PATH: ''})).filter(d => d.source === 'built-in').map(d => d.name)
  const checked: string[] = []
  for (const driver of builtIn) {
    const image = await defaultImage(driver)
    if (driver === 'generic') {
      assert.equal(image, undefined, 'generic adopts a running host: it has no image')
      continue
    }
    assert.ok(image, `${driver} has a default image`)
    const os = osOfImageName(image)
    assert.ok(os, `${driver}'s default image ${image} names its OS and version`)
    const provisioner = selectProvisioner(os)
    checked.push(`${driver}: ${image} → ${provisioner.name}`)
  }
  assert.deepEqual(checked.map(c => c.split(':')[0]), ['digitalocean', 'virtualbox'])
  console.log(checked.join('\n'))
})

test('the name reading tells supported images from the rest', () => {
  const accepted = (image: string) => {
    const os = osOfImageName(image)
    if (!os) return undefined
    try {
      return selectProvisioner(os).name
    } catch (error) {
      assert.ok(error instanceof ProvisionError)
      return 'unsupported'
    }
  }
  assert.equal(accepted('ubuntu-24-04-x64'), 'Ubuntu 24.04 LTS (noble)')
  assert.equal(accepted('ubuntu-22-04-x64'), 'Ubuntu 22.04 LTS (jammy)')
  assert.equal(accepted('debian-12-x64'), 'Debian 12 (bookworm)')
  assert.equal(accepted('https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2'), 'Debian 13 (trixie)')
  assert.equal(accepted('/tmp/noble-server-cloudimg-amd64.img'), 'Ubuntu 24.04 LTS (noble)')
  assert.equal(accepted('ubuntu-20-04-x64'), 'unsupported')
  assert.equal(accepted('debian-11-genericcloud-amd64.qcow2'), 'unsupported')
  assert.equal(accepted('https://github.com/boot2docker/boot2docker/releases/download/v19.03.12/boot2docker.iso'), undefined)
})
