/**
 * Bounds-checked reading of one message body. Every read checks what is left first, so a length field or a missing
 * terminator in hostile input becomes a ProtocolError, never an out-of-range read or a giant allocation.
 */
import { ProtocolError } from './protocol-error.js';

export class ByteReader {
  private at = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.buf.length - this.at;
  }

  private need(n: number): void {
    if (n < 0 || this.remaining < n) throw new ProtocolError(`${this.what}: message ends too early`);
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.at);
    this.at += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }

  byte(): number {
    this.need(1);
    return this.buf[this.at++]!;
  }

  /** A NUL-terminated string (UTF-8). */
  cstring(): string {
    const end = this.buf.indexOf(0, this.at);
    if (end === -1) throw new ProtocolError(`${this.what}: a string is not terminated`);
    const s = this.buf.toString('utf8', this.at, end);
    this.at = end + 1;
    return s;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return b;
  }

  /** A count of following items; refuses negatives and counts the rest of the message cannot hold. */
  count(minItemBytes: number): number {
    const n = this.int16();
    if (n < 0 || n * minItemBytes > this.remaining)
      throw new ProtocolError(`${this.what}: impossible count ${n}`);
    return n;
  }

  end(): void {
    if (this.remaining !== 0)
      throw new ProtocolError(`${this.what}: ${this.remaining} unexpected trailing bytes`);
  }
}
