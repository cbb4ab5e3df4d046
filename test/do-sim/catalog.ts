/** The regions, sizes and images the simulator offers: a few real slugs, enough to validate against. */
import type {Region, Size} from '../../drivers/digitalocean/types.js'

const SIZES: Omit<Size, 'regions' | 'available'>[] = [
  {slug: 's-1vcpu-512mb-10gb', memory: 512, vcpus: 1, disk: 10, price_monthly: 4},
  {slug: 's-1vcpu-1gb', memory: 1024, vcpus: 1, disk: 25, price_monthly: 6},
  {slug: 's-1vcpu-2gb', memory: 2048, vcpus: 1, disk: 50, price_monthly: 12},
  {slug: 's-2vcpu-2gb', memory: 2048, vcpus: 2, disk: 60, price_monthly: 18},
  {slug: 's-2vcpu-4gb', memory: 4096, vcpus: 2, disk: 80, price_monthly: 24},
  {slug: 's-4vcpu-8gb', memory: 8192, vcpus: 4, disk: 160, price_monthly: 48},
]

const REGION_NAMES: Record<string, string> = {
  nyc1: 'New York 1', nyc3: 'New York 3', sfo3: 'San Francisco 3', ams3: 'Amsterdam 3',
  fra1: 'Frankfurt 1', lon1: 'London 1', sgp1: 'Singapore 1', tor1: 'Toronto 1',
}

/** nyc1 is listed but unavailable, like a region closed to new droplets. */
const UNAVAILABLE_REGIONS = new Set(['nyc1'])

export const IMAGES = new Set(['ubuntu-24-04-x64', 'ubuntu-22-04-x64', 'debian-12-x64', 'debian-13-x64', 'docker-20-04'])

export function regions(): Region[] {
  return Object.entries(REGION_NAMES).map(([slug, name]) => ({
    slug, name,
    sizes: SIZES.map(s => s.slug),
    available: !UNAVAILABLE_REGIONS.has(slug),
    features: ['backups', 'ipv6', 'metadata', 'install_agent', 'image_transfer'],
  }))
}

export function sizes(): Size[] {
  return SIZES.map(s => ({...s, regions: Object.keys(REGION_NAMES), available: true}))
}
