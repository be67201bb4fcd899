/**
 * Idempotency keys on mutations (ATTACKS 21): the first answer to a key is stored with a fingerprint of the call;
 * the same call again gets that answer (`replayed: true`), another call under the same key is a conflict.
 */
import { createHash } from 'node:crypto';
import { HTTP_STATUS, PhigateError, type ErrorKind } from '../lib/errors.js';
import { reviveRequestView } from './request-view.js';
import type { AccessRequestView } from './types.js';

const KEY = /^[\x21-\x7e]{1,200}$/;

export function validateIdempotencyKey(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || !KEY.test(key)) {
    throw new PhigateError(
      'invalid',
      'idempotency.key-invalid',
      'an idempotency key is 1 to 200 printable ASCII characters',
      { maxLength: 200 },
    );
  }
  return key;
}

/** Hash of what the call does: the action, its target and its body, canonically encoded. */
export function fingerprint(action: string, target: string | undefined, body: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify([action, target ?? null, canonical(body)]))
    .digest('hex');
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, canonical(v)]),
    );
  }
  return value;
}

export type StoredAnswer =
  | { readonly ok: true; readonly request: unknown }
  | {
      readonly ok: false;
      readonly error: {
        readonly kind: ErrorKind;
        readonly code: string;
        readonly message: string;
        readonly details: unknown;
      };
    };

export function answerOf(outcome: { request: AccessRequestView; created: boolean } | PhigateError): {
  statusCode: number;
  body: StoredAnswer;
} {
  if (outcome instanceof PhigateError) {
    return {
      statusCode: HTTP_STATUS[outcome.kind],
      body: {
        ok: false,
        error: { kind: outcome.kind, code: outcome.code, message: outcome.message, details: outcome.details },
      },
    };
  }
  return { statusCode: outcome.created ? 201 : 200, body: { ok: true, request: outcome.request } };
}

/** The stored answer again: the view, or the same error thrown again. */
export function replayAnswer(body: unknown): AccessRequestView {
  const answer = body as StoredAnswer;
  if (answer.ok) return reviveRequestView(answer.request);
  const { kind, code, message, details } = answer.error;
  throw new PhigateError(kind, code, message, { ...(details as Record<string, unknown>), replayed: true });
}
