/**
 * DNS over TCP frames each message with a two-byte length (RFC 1035 4.2.2, RFC 7766).
 * This is only that framing; the messages themselves are left to dns-packet.
 */
import type {FrameFormat} from '../framing.js'

export const DNS_TCP: FrameFormat = {
  headerBytes: 2,
  header: length => {
    const head = Buffer.alloc(2)
    head.writeUInt16BE(length)
    return head
  },
  lengthOf: header => header.readUInt16BE(0),
}
