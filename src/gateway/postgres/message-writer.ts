/** Builds protocol messages: a type byte (or none, for startup packets), a length, then the fields. */
export class MessageWriter {
  private parts: Buffer[] = [];
  private size = 0;

  private add(b: Buffer): this {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }

  int16(v: number): this {
    const b = Buffer.allocUnsafe(2);
    b.writeInt16BE(v);
    return this.add(b);
  }

  int32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(v);
    return this.add(b);
  }

  byte(v: number): this {
    return this.add(Buffer.from([v]));
  }

  /** A NUL-terminated string; a NUL inside would end it early on the other side, so it is refused here. */
  cstring(s: string): this {
    if (s.includes('\u0000')) throw new RangeError('a protocol string cannot contain NUL');
    return this.add(Buffer.from(`${s}\u0000`, 'utf8'));
  }

  bytes(b: Buffer): this {
    return this.add(b);
  }

  /** The finished message; `type` undefined for a startup packet. */
  finish(type?: string): Buffer {
    const body = Buffer.concat(this.parts, this.size);
    const head = Buffer.allocUnsafe(type === undefined ? 4 : 5);
    if (type === undefined) head.writeInt32BE(body.length + 4, 0);
    else {
      head[0] = type.charCodeAt(0);
      head.writeInt32BE(body.length + 4, 1);
    }
    return Buffer.concat([head, body]);
  }
}
