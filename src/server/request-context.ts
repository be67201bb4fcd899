/** What a route knows about its caller: the verified principal, and the options every mutation records. */
import type { FastifyRequest } from 'fastify';
import type { MutationOptions } from '../access/types.js';
import type { Principal } from '../identity/principal.js';
import { PhigateError } from '../lib/errors.js';
import { InputRefusal } from './input-refusal.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | undefined;
  }
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;

export function principalOf(req: FastifyRequest): Principal {
  // The auth hook runs before every non-public route; reaching here without a principal is a wiring bug: fail closed.
  if (!req.principal) throw new PhigateError('unauthenticated', 'token.missing', 'authentication required');
  return req.principal;
}

export function mutationOptions(req: FastifyRequest): MutationOptions {
  const raw = req.headers['idempotency-key'];
  if (Array.isArray(raw)) {
    throw new InputRefusal('idempotency.key-invalid', 'send one Idempotency-Key header');
  }
  if (raw !== undefined && !IDEMPOTENCY_KEY.test(raw)) {
    throw new InputRefusal(
      'idempotency.key-invalid',
      'Idempotency-Key must be 1–128 visible ASCII characters',
    );
  }
  return { idempotencyKey: raw, clientAddress: req.ip };
}
