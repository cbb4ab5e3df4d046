import {test} from 'node:test'
import assert from 'node:assert/strict'
import {parseOsRelease} from '../../src/provision/os-release.js'
import {
  nodeIsRecentEnough, parseInstalledPackages, parsePackageVersions, parseToolVersions, selectProvisioner, PROVISIONERS,
} from '../../src/provision/provisioner.js'
import {ProvisionError} from '../../core/errors.js'

// Verbatim /etc/os-release of each supported release.
const BOOKWORM = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`
const TRIXIE = `PRETTY_NAME="Debian GNU/Linux 13 (trixie)"
NAME="Debian GNU/Linux"
VERSION_ID="13"
VERSION="13 (trixie)"
VERSION_CODENAME=trixie
DEBIAN_VERSION_FULL=13.1
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`
const JAMMY = `PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=jammy
`
const NOBLE = `PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.1 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo
`
const ALPINE = `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.20.3
PRETTY_NAME="Alpine Linux v3.20"
HOME_URL="https://alpinelinux.org/"
`

test('parseOsRelease reads Debian 12 and 13', () => {
  assert.deepEqual(parseOsRelease(BOOKWORM), {id: 'debian', idLike: [], versionId: '12', codename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)'})
  assert.deepEqual(parseOsRelease(TRIXIE), {id: 'debian', idLike: [], versionId: '13', codename: 'trixie', prettyName: 'Debian GNU/Linux 13 (trixie)'})
})

test('parseOsRelease reads Ubuntu 22.04 and 24.04', () => {
  assert.deepEqual(parseOsRelease(JAMMY), {id: 'ubuntu', idLike: ['debian'], versionId: '22.04', codename: 'jammy', prettyName: 'Ubuntu 22.04.4 LTS'})
  assert.deepEqual(parseOsRelease(NOBLE), {id: 'ubuntu', idLike: ['debian'], versionId: '24.04', codename: 'noble', prettyName: 'Ubuntu 24.04.1 LTS'})
})

test('parseOsRelease handles quoting, escapes, comments and a codename only in VERSION', () => {
  const os = parseOsRelease(`# comment\nID='Debian'\nVERSION="12 (bookworm)"\nNAME="say \\"hi\\" \\$x"\n\nnot a line\n`)
  assert.equal(os.id, 'debian')
  assert.equal(os.codename, 'bookworm')
  assert.equal(os.prettyName, 'say "hi" $x')
  assert.equal(os.versionId, '')
})

test('each supported release gets its provisioner and package names', () => {
  assert.equal(selectProvisioner(parseOsRelease(BOOKWORM)).name, 'Debian 12 (bookworm)')
  const trixie = selectProvisioner(parseOsRelease(TRIXIE))
  assert.equal(trixie.name, 'Debian 13 (trixie)')
  assert.deepEqual(trixie.dockerPackages, ['docker.io', 'docker-cli'])
  assert.deepEqual(selectProvisioner(parseOsRelease(BOOKWORM)).dockerPackages, ['docker.io'])
  assert.deepEqual(trixie.wireguardPackages, ['wireguard-tools', 'wireguard-go'])
  const jammy = selectProvisioner(parseOsRelease(JAMMY))
  assert.equal(jammy.name, 'Ubuntu 22.04 LTS (jammy)')
  assert.match(jammy.nodeRepositorySetup ?? '', /deb\.nodesource\.com\/node_20\.x/)
  const noble = selectProvisioner(parseOsRelease(NOBLE))
  assert.equal(noble.name, 'Ubuntu 24.04 LTS (noble)')
  assert.equal(noble.nodeRepositorySetup, undefined)
  for (const p of PROVISIONERS) assert.equal(p.serviceManager, 'systemd')
})

test('a Debian without VERSION_ID is matched by codename; an unknown release is refused with the supported list', () => {
  assert.equal(selectProvisioner({id: 'debian', idLike: [], versionId: '', codename: 'trixie', prettyName: 'x'}).name, 'Debian 13 (trixie)')
  for (const [text, named] of [[ALPINE, 'Alpine Linux v3.20 (alpine 3.20.3)'], [BOOKWORM.replace('VERSION_ID="12"', 'VERSION_ID="11"'), 'Debian GNU/Linux 12 (bookworm) (debian 11)']]) {
    assert.throws(() => selectProvisioner(parseOsRelease(text)), (err: unknown) => {
      assert.ok(err instanceof ProvisionError)
      assert.equal(err.oneLine(), `unsupported operating system ${named}: use one of: Debian 12 (bookworm), Debian 13 (trixie), Ubuntu 22.04 LTS (jammy), Ubuntu 24.04 LTS (noble)`)
      return true
    })
  }
})

test('install and query commands quote package names and never prompt', () => {
  const p = selectProvisioner(parseOsRelease(TRIXIE))
  assert.equal(p.installCommand(['docker.io', 'docker-cli']),
    'export DEBIAN_FRONTEND=noninteractive && apt-get -o DPkg::Lock::Timeout=300 -q update && apt-get -o DPkg::Lock::Timeout=300 -q install -y --no-install-recommends docker.io docker-cli')
  assert.equal(p.queryPackagesCommand(['nodejs', "x'y"]), `dpkg-query -W -f='\${Package} \${db:Status-Status} \${Version}\\n' nodejs 'x'\\''y' 2>/dev/null || true`)
  // upgrade: only what is installed (--only-upgrade), no prompt about changed config files.
  assert.equal(p.upgradeCommand(['docker.io', 'docker-cli']),
    'export DEBIAN_FRONTEND=noninteractive && apt-get -o DPkg::Lock::Timeout=300 -q install -y --only-upgrade --no-install-recommends -o Dpkg::Options::=--force-confold docker.io docker-cli')
  assert.equal(p.refreshCommand, 'apt-get -o DPkg::Lock::Timeout=300 -q update')
})

test('parsePackageVersions gives the version of each installed package', () => {
  const out = 'docker.io installed 26.1.5+dfsg1-9+deb13u1+b1\ndocker-cli installed 26.1.5+dfsg1-9+deb13u1+b1\nnodejs not-installed \nlibc6:amd64 installed 2.41-12\n'
  assert.deepEqual([...parsePackageVersions(out)], [['docker.io', '26.1.5+dfsg1-9+deb13u1+b1'], ['docker-cli', '26.1.5+dfsg1-9+deb13u1+b1'], ['libc6', '2.41-12']])
})

test('parseInstalledPackages keeps only installed ones and strips the architecture', () => {
  const out = 'docker.io installed\nnodejs not-installed\nlibc6:amd64 installed\nwireguard-go config-files\n'
  assert.deepEqual([...parseInstalledPackages(out)].sort(), ['docker.io', 'libc6'])
})

test('parseToolVersions reads dockerd and node versions; missing tools stay undefined', () => {
  assert.deepEqual(parseToolVersions('docker=Docker version 26.1.5+dfsg1, build a72d7cd\nnode=v20.19.2\n'), {docker: '26.1.5', node: '20.19.2'})
  assert.deepEqual(parseToolVersions('docker=Docker version 20.10.24+dfsg1, build 297e128\nnode=\n'), {docker: '20.10.24', node: undefined})
  assert.deepEqual(parseToolVersions('docker=\nnode=v12.22.9\n'), {docker: undefined, node: '12.22.9'})
  assert.equal(nodeIsRecentEnough('12.22.9'), false)
  assert.equal(nodeIsRecentEnough('18.19.0'), true)
  assert.equal(nodeIsRecentEnough(undefined), false)
})
