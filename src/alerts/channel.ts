/** A delivery channel: takes one alert message to one destination, or throws. */
import type { AlertMessage } from './alert-message.js';

export type ChannelType = 'webhook' | 'syslog' | 'email';

export interface AlertChannel {
  readonly name: string;
  readonly type: ChannelType;
  /**
   * Resolves once the destination has accepted the message (a 2xx, the syslog stream closed cleanly, the SMTP
   * server's 250). `signal` aborts the attempt (time-out, shutdown).
   */
  deliver(message: AlertMessage, signal: AbortSignal): Promise<void>;
  close?(): Promise<void>;
}

/**
 * A failed attempt, described in words that may be stored and shown: no URL (a chat webhook's URL is its secret),
 * no response body (a receiver may echo anything), no credentials.
 */
export class DeliveryFailure extends Error {
  override readonly name = 'DeliveryFailure';
}

/** The storable description of any error an attempt threw. */
export function describeFailure(err: unknown, signal: AbortSignal): string {
  if (err instanceof DeliveryFailure) return err.message;
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    return reason instanceof Error && reason.name === 'TimeoutError' ? 'timed out' : 'aborted';
  }
  const code = errorCode(err);
  return code !== undefined ? `connection failed (${code})` : 'delivery failed';
}

function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z0-9_]{2,40}$/.test(code)) return code;
  }
  return undefined;
}
