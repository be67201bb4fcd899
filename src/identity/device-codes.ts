/**
 * Pending device authorizations (RFC 8628) of the development issuer, held in memory: a restart simply makes
 * the CLI start over. Bounded in number and lifetime so that a script hammering the endpoint cannot grow it.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { Clock } from '../lib/clock.js';

/** RFC 8628 §6.1: consonants only (no vowels, so no words), easy to read aloud and type. */
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const USER_CODE_LENGTH = 8;

export interface DeviceAuthorization {
  readonly deviceCode: string;
  /** Formatted for people: `XXXX-XXXX`. */
  readonly userCode: string;
  readonly expiresInSeconds: number;
  readonly intervalSeconds: number;
}

export type PollResult =
  | { readonly status: 'approved'; readonly username: string }
  | { readonly status: 'pending' | 'slow_down' | 'expired' | 'invalid' };

export interface DeviceCodeStore {
  /** Undefined when too many authorizations are pending. */
  create(clientId: string): DeviceAuthorization | undefined;
  /** True when the user code names a pending, unexpired authorization (any separators and case accepted). */
  isPending(userCode: string): boolean;
  approve(userCode: string, username: string): boolean;
  /** The device code works once: an approved poll consumes it. */
  poll(deviceCode: string, clientId: string): PollResult;
}

interface Entry {
  readonly deviceCode: string;
  readonly userCode: string;
  readonly clientId: string;
  readonly expiresAt: number;
  lastPollAt: number | undefined;
  username: string | undefined;
}

export function normalizeUserCode(text: string): string {
  return text.toUpperCase().replace(/[^A-Z]/g, '');
}

export function createDeviceCodeStore(options: {
  readonly clock: Clock;
  readonly ttlSeconds: number;
  readonly intervalSeconds: number;
  readonly maxPending: number;
}): DeviceCodeStore {
  const { clock, ttlSeconds, intervalSeconds, maxPending } = options;
  const byDeviceCode = new Map<string, Entry>();
  const byUserCode = new Map<string, Entry>();
  const now = (): number => clock.now().getTime();

  const remove = (entry: Entry): void => {
    byDeviceCode.delete(entry.deviceCode);
    byUserCode.delete(entry.userCode);
  };
  const prune = (): void => {
    const t = now();
    for (const entry of byDeviceCode.values()) if (entry.expiresAt <= t) remove(entry);
  };
  const live = (userCode: string): Entry | undefined => {
    const entry = byUserCode.get(normalizeUserCode(userCode));
    return entry && entry.expiresAt > now() && entry.username === undefined ? entry : undefined;
  };

  return {
    create(clientId) {
      prune();
      if (byDeviceCode.size >= maxPending) return undefined;
      let userCode: string;
      do {
        userCode = Array.from({ length: USER_CODE_LENGTH }, () => USER_CODE_ALPHABET[randomInt(20)]).join('');
      } while (byUserCode.has(userCode));
      const entry: Entry = {
        deviceCode: randomBytes(32).toString('base64url'),
        userCode,
        clientId,
        expiresAt: now() + ttlSeconds * 1000,
        lastPollAt: undefined,
        username: undefined,
      };
      byDeviceCode.set(entry.deviceCode, entry);
      byUserCode.set(userCode, entry);
      return {
        deviceCode: entry.deviceCode,
        userCode: `${userCode.slice(0, 4)}-${userCode.slice(4)}`,
        expiresInSeconds: ttlSeconds,
        intervalSeconds,
      };
    },
    isPending: (userCode) => live(userCode) !== undefined,
    approve(userCode, username) {
      const entry = live(userCode);
      if (!entry) return false;
      entry.username = username;
      return true;
    },
    poll(deviceCode, clientId) {
      const entry = byDeviceCode.get(deviceCode);
      if (!entry || entry.clientId !== clientId) return { status: 'invalid' };
      const t = now();
      if (entry.expiresAt <= t) {
        remove(entry);
        return { status: 'expired' };
      }
      if (entry.username !== undefined) {
        remove(entry);
        return { status: 'approved', username: entry.username };
      }
      // Half the interval of slack: timers fire a little early or late, and a polite client must not be punished.
      const tooSoon = entry.lastPollAt !== undefined && t - entry.lastPollAt < (intervalSeconds * 1000) / 2;
      entry.lastPollAt = t;
      return { status: tooSoon ? 'slow_down' : 'pending' };
    },
  };
}
