/**
 * The cloud image a VM boots: fetched (http/https) or read from a path, recognised by its
 * first bytes, and made once into a VDI kept in the store's cache (one per image), which each
 * machine clones. VirtualBox reads VDI, VMDK and VHD itself (`clonemedium`) and raw disks
 * through `convertfromraw`; it cannot read qcow2, the format Debian and Ubuntu publish first,
 * so qcow2 goes through `qemu-img convert -O vdi` (Debian's qemu-utils, Homebrew's qemu).
 */
import {createHash} from 'node:crypto'
import {closeSync, createWriteStream, existsSync, mkdirSync, openSync, readSync, realpathSync, renameSync, rmSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {fileURLToPath} from 'node:url'
import {DriverError, InputError} from '../sdk/index.js'
import {findProgram, runProgram} from './programs.js'
import type {VBoxManage} from './vboxmanage.js'

export type ImageFormat = 'qcow2' | 'vdi' | 'vmdk' | 'vhd' | 'raw'

const FLAG = '--virtualbox-image-url (VIRTUALBOX_IMAGE_URL)'

/** How much of an image detectFormat reads: an ISO 9660 volume descriptor sits at 32 KiB. */
const HEAD_BYTES = 0x8006

/** The format from an image's first bytes (HEAD_BYTES); a file that is none of them is refused with what it looks like. */
export function detectFormat(head: Buffer, source: string): ImageFormat {
  const at = (offset: number, text: string) => head.subarray(offset, offset + text.length).toString('latin1') === text
  // Before the raw check: boot2docker's ISO is a hybrid one, its first sector a signed MBR.
  if (at(0x8001, 'CD001')) {
    throw new InputError(`image ${source} is an ISO (boot2docker's, or an installer), which the provisioner cannot set up`,
      `pass a Debian or Ubuntu cloud disk image with ${FLAG}, e.g. debian-13-genericcloud-amd64.qcow2`)
  }
  if (at(0, 'QFI\xfb')) return 'qcow2'
  if (head.length >= 0x44 && head.readUInt32LE(0x40) === 0xbeda107f) return 'vdi'
  if (at(0, 'KDMV') || at(0, '# Disk DescriptorFile')) return 'vmdk'
  if (at(0, 'conectix')) return 'vhd'
  const packed = at(0, '\xfd7zXZ\0') ? 'xz' : at(0, '\x1f\x8b') ? 'gzip' : at(0, 'BZh') ? 'bzip2' : undefined
  if (packed) throw new InputError(`image ${source} is ${packed}-compressed`, `unpack it first, or pass the .qcow2 or .raw image with ${FLAG}`)
  // A raw disk starts with a boot sector (MBR or GPT's protective MBR) signed 55 AA.
  if (head.length >= 512 && head[510] === 0x55 && head[511] === 0xaa) return 'raw'
  throw new InputError(`${source} is not a disk image (not qcow2, VDI, VMDK, VHD or a raw disk)`,
    `pass a Debian or Ubuntu cloud image with ${FLAG}, e.g. debian-13-genericcloud-amd64.qcow2`)
}

export function readHead(path: string): Buffer {
  const fd = openSync(path, 'r')
  try {
    const head = Buffer.alloc(HEAD_BYTES)
    return head.subarray(0, readSync(fd, head, 0, head.length, 0))
  } finally {
    closeSync(fd)
  }
}

export function isRemote(source: string): boolean {
  return /^https?:\/\//i.test(source)
}

/** A local source's path; refused at once if it does not exist. */
export function localPath(source: string): string {
  const path = source.startsWith('file://') ? fileURLToPath(source) : source
  if (!existsSync(path)) throw new InputError(`image ${path} does not exist`, `pass an existing file or an http(s) URL with ${FLAG}`)
  return path
}

/**
 * The cache's name for an image: a URL by its text, a file by its real path, size and
 * modification time (a file replaced in place is a new image).
 */
export function cacheKey(source: string): string {
  let identity = source
  if (!isRemote(source)) {
    const path = realpathSync(localPath(source))
    const st = statSync(path)
    identity = `${path}\n${st.size}\n${st.mtimeMs}`
  }
  return createHash('sha256').update(identity).digest('hex').slice(0, 24)
}

export interface BaseDiskOptions {
  source: string
  cacheDir: string
  vbox: VBoxManage
  progress(step: string): void
  signal: AbortSignal
}

/** A VDI of the image in the cache, made now if there is none yet: what each machine clones. */
export async function baseDisk(o: BaseDiskOptions): Promise<string> {
  mkdirSync(o.cacheDir, {recursive: true, mode: 0o700})
  const key = cacheKey(o.source)
  const vdi = join(o.cacheDir, `${key}.vdi`)
  if (existsSync(vdi)) {
    o.progress(`Using the cached image ${vdi}`)
    return vdi
  }
  const input = isRemote(o.source) ? join(o.cacheDir, `${key}.download`) : localPath(o.source)
  try {
    if (isRemote(o.source)) {
      o.progress(`Downloading ${o.source}`)
      await download(o.source, input, o.signal)
    }
    const format = detectFormat(readHead(input), o.source)
    // Written beside and renamed: an interrupted conversion never looks like a cached image.
    const partial = join(o.cacheDir, `${key}.partial-${process.pid}.vdi`)
    rmSync(partial, {force: true})
    o.progress(`Converting the ${format} image to VDI in ${o.cacheDir}`)
    try {
      await convert(format, input, partial, o)
      renameSync(partial, vdi)
    } finally {
      rmSync(partial, {force: true})
    }
    return vdi
  } finally {
    if (isRemote(o.source)) rmSync(input, {force: true})
  }
}

/**
 * Before anything is made: a local image exists and is a disk image, and qemu-img is there for
 * qcow2 (a URL's format is known only once downloaded; it is checked then).
 */
export function checkImage(source: string): void {
  if (isRemote(source)) return
  const path = localPath(source)
  if (detectFormat(readHead(path), path) === 'qcow2') qemuImg(source)
}

function qemuImg(source: string): string {
  const found = findProgram(['qemu-img'])
  if (!found) {
    throw new DriverError(`image ${source} is qcow2, which VirtualBox cannot read, and qemu-img is not on PATH`,
      {hint: 'install qemu-img (apt-get install qemu-utils; brew install qemu), or pass a raw image (Debian publishes …-genericcloud-amd64.raw)'})
  }
  return found[1]
}

async function convert(format: ImageFormat, input: string, out: string, o: BaseDiskOptions): Promise<void> {
  if (format === 'qcow2') {
    await runProgram(qemuImg(o.source), ['convert', '-O', 'vdi', input, out], o.signal)
  } else if (format === 'raw') {
    await o.vbox.run(['convertfromraw', input, out, '--format', 'VDI'])
  } else {
    await o.vbox.run(['clonemedium', 'disk', input, out, '--format', 'VDI'])
    // clonemedium registered the source and the copy with VirtualBox: the cache is not a VM's disk.
    await o.vbox.run(['closemedium', 'disk', out])
  }
}

async function download(url: string, dest: string, signal: AbortSignal): Promise<void> {
  const response = await fetch(url, {signal})
  if (!response.ok || !response.body) {
    throw new DriverError(`downloading ${url} failed (${response.status} ${response.statusText})`,
      {hint: `check ${FLAG}, or download the image and pass its path`})
  }
  await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), createWriteStream(dest, {mode: 0o600}), {signal})
}
