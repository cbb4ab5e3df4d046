/**
 * Length-prefixed messages on a byte stream, as DNS over TCP (a 2-byte length) and gRPC (a
 * flag byte and a 4-byte length) send them: framing one message, and collecting a stream's
 * chunks back into whole messages across any split.
 */

/** How one protocol writes and reads the header in front of each message. */
export interface FrameFormat {
  headerBytes: number
  header(length: number): Buffer
  /** The length a header announces; throws when the protocol refuses the header. */
  lengthOf(header: Buffer): number
}

/** A frame whose header was refused, or that announced more than the reader takes. */
export class FrameError extends Error {}

export function frame(format: FrameFormat, message: Buffer): Buffer {
  return Buffer.concat([format.header(message.length), message])
}

export class Deframer {
  private pending: Buffer = Buffer.alloc(0)

  constructor(private readonly format: FrameFormat, private readonly maxMessage = Infinity) {}

  /** The messages this chunk completes; throws when a header is refused or announces over maxMessage. */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk])
    const {headerBytes} = this.format
    const messages: Buffer[] = []
    while (this.pending.length >= headerBytes) {
      const length = this.format.lengthOf(this.pending)
      if (length > this.maxMessage) throw new FrameError(`a frame announces ${length} bytes, over the ${this.maxMessage} taken`)
      if (this.pending.length < headerBytes + length) break
      messages.push(this.pending.subarray(headerBytes, headerBytes + length))
      this.pending = this.pending.subarray(headerBytes + length)
    }
    return messages
  }
}
