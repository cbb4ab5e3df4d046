/**
 * DNS over TCP frames each message with a two-byte length (RFC 1035 4.2.2, RFC 7766).
 * This is only that framing; the messages themselves are left to dns-packet.
 */

export function frame(message: Buffer): Buffer {
  const length = Buffer.alloc(2)
  length.writeUInt16BE(message.length)
  return Buffer.concat([length, message])
}

/** Collects a byte stream into whole messages. */
export class TcpFramer {
  private pending: Buffer = Buffer.alloc(0)

  constructor(private readonly maxMessage: number) {}

  /** The messages completed by this chunk, or undefined when a frame announces more than maxMessage. */
  push(chunk: Buffer): Buffer[] | undefined {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk])
    const messages: Buffer[] = []
    while (this.pending.length >= 2) {
      const length = this.pending.readUInt16BE(0)
      if (length > this.maxMessage) return undefined
      if (this.pending.length < 2 + length) break
      messages.push(this.pending.subarray(2, 2 + length))
      this.pending = this.pending.subarray(2 + length)
    }
    return messages
  }
}
