/**
 * Pulls whole protocol messages off a socket, one `next()` at a time, with a deadline: a peer that stops mid-message
 * or never speaks (SSLRequest followed by silence, ATTACKS 23) is cut off, not waited for.
 */
import type { Duplex } from 'node:stream';
import { MessageFramer, type Frame } from './message-framer.js';
import { ProtocolError } from './protocol-error.js';

export class PacketReader {
  readonly framer: MessageFramer;
  private readonly frames: Frame[] = [];
  private waiter: { resolve: (f: Frame) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;
  private readonly onData = (chunk: Buffer): void => {
    try {
      this.frames.push(...this.framer.push(chunk));
    } catch (err) {
      this.fail(err instanceof Error ? err : new ProtocolError('unreadable message'));
      return;
    }
    this.deliver();
  };
  private readonly onEnd = (): void =>
    this.fail(new ProtocolError('the client closed the connection', '08006'));

  constructor(
    private readonly socket: Duplex,
    messageMaxBytes?: number,
  ) {
    this.framer = new MessageFramer(messageMaxBytes);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onEnd);
  }

  /** Frames received but not yet taken (must be none when TLS starts). */
  get pending(): number {
    return this.frames.length + this.framer.buffered;
  }

  next(timeoutMs: number): Promise<Frame> {
    if (this.frames.length > 0) return Promise.resolve(this.frames.shift()!);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new ProtocolError('timed out waiting for the client', '08006'));
      }, timeoutMs);
      this.waiter = {
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /** Stops listening (before the socket is handed to TLS or to the relay). */
  detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onEnd);
  }

  private deliver(): void {
    if (this.waiter && this.frames.length > 0) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(this.frames.shift()!);
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(this.failure);
  }
}
