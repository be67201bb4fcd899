/**
 * Cuts a byte stream into protocol messages, whatever the TCP segmentation: a message may arrive one byte at a time
 * or many in one read. Lengths are checked from the header before anything is buffered for the body, so a peer that
 * declares gigabytes is refused at once instead of being waited for.
 *
 * Two phases, as in the protocol: before startup completes, packets have no type byte (StartupMessage, SSLRequest,
 * GSSENCRequest, CancelRequest; at most 10,000 bytes, as PostgreSQL itself allows); after it, every message is a
 * type byte and a length.
 */
import { ProtocolError } from './protocol-error.js';

export interface Frame {
  /** The type byte, or undefined for a startup-phase packet. */
  readonly type: number | undefined;
  /** The message body, without type byte and length. */
  readonly body: Buffer;
  /** The whole message as received (header included), for relaying it without rebuilding it. */
  readonly raw: Buffer;
}

export const STARTUP_MAX_BYTES = 10_000;
export const DEFAULT_MESSAGE_MAX_BYTES = 64 * 1024 * 1024;

export class MessageFramer {
  private chunks: Buffer[] = [];
  private size = 0;
  private typed = false;

  constructor(private readonly messageMaxBytes = DEFAULT_MESSAGE_MAX_BYTES) {}

  /** Startup is over: from now on every message has a type byte. */
  startTyped(): void {
    this.typed = true;
  }

  /** Bytes received and not yet part of a returned frame (must be 0 when TLS starts: ATTACKS 23). */
  get buffered(): number {
    return this.size;
  }

  /** Adds bytes; returns every message they complete, in order. A malformed header throws ProtocolError. */
  push(chunk: Buffer): Frame[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      const headerBytes = this.typed ? 5 : 4;
      if (this.size < headerBytes) return frames;
      const header = this.peek(headerBytes);
      const type = this.typed ? header[0]! : undefined;
      const length = header.readInt32BE(this.typed ? 1 : 0);
      if (this.typed) {
        if (length < 4) throw new ProtocolError(`message length ${length} is impossible`);
        if (length > this.messageMaxBytes) {
          throw new ProtocolError(`message of ${length} bytes exceeds the limit of ${this.messageMaxBytes}`);
        }
      } else if (length < 8 || length > STARTUP_MAX_BYTES) {
        throw new ProtocolError(`startup packet length ${length} is outside 8–${STARTUP_MAX_BYTES}`);
      }
      const total = (this.typed ? 1 : 0) + length;
      if (this.size < total) return frames;
      const message = this.take(total);
      frames.push({ type, body: message.subarray(headerBytes), raw: message });
    }
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.chunks, Math.min(this.size, Math.max(n, first.length))).subarray(0, n);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.size -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const use = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, use);
      filled += use;
      if (use === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(use);
    }
    this.size -= n;
    return out;
  }
}
