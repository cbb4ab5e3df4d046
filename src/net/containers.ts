/** `cluster net ps`: the containers on the overlay, read from each host's Docker over SSH. */
/** One container on the overlay, for `cluster net ps`. */
export interface OverlayContainer {
  host: string
  name: string
  ip: string
  image: string
}

/** Lists running containers with their address on the default bridge (the overlay): name|image|ip per line. */
export const LIST_CONTAINERS = `docker ps -q | xargs -r docker inspect --format '{{.Name}}|{{.Config.Image}}|{{with index .NetworkSettings.Networks "bridge"}}{{.IPAddress}}{{end}}'`

export function parseContainers(host: string, output: string): OverlayContainer[] {
  return output.split('\n').filter(Boolean).flatMap(line => {
    const [name = '', image = '', ip = ''] = line.split('|')
    return ip ? [{host, name: name.replace(/^\//, ''), ip, image}] : []
  })
}
