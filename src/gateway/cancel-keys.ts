/**
 * Cancel keys: PostgreSQL clients cancel a running query by opening a new connection and sending the (process id,
 * secret) pair the server gave them. The gateway never hands out the database's pair — a client could otherwise
 * cancel other people's queries on the database directly — but random ones of its own, mapped to the session.
 * 64 random bits per key; a guess is refused silently, like PostgreSQL does.
 */
import { randomBytes } from 'node:crypto';

export interface CancelKey {
  readonly processId: number;
  readonly secretKey: number;
}

export class CancelKeys<T> {
  private readonly byProcessId = new Map<number, { readonly secretKey: number; readonly target: T }>();

  /** A fresh key for `target`; release it when the session ends. */
  issue(target: T): CancelKey {
    for (;;) {
      const bytes = randomBytes(8);
      // Positive 31-bit process ids, as clients print and parse them.
      const processId = bytes.readUInt32BE(0) & 0x7fffffff;
      const secretKey = bytes.readInt32BE(4);
      if (processId === 0 || this.byProcessId.has(processId)) continue;
      this.byProcessId.set(processId, { secretKey, target });
      return { processId, secretKey };
    }
  }

  /** The session a cancel request names, if both halves of its key match. */
  find(processId: number, secretKey: number): T | undefined {
    const entry = this.byProcessId.get(processId);
    return entry !== undefined && entry.secretKey === secretKey ? entry.target : undefined;
  }

  release(key: CancelKey): void {
    if (this.byProcessId.get(key.processId)?.secretKey === key.secretKey)
      this.byProcessId.delete(key.processId);
  }

  get size(): number {
    return this.byProcessId.size;
  }
}
