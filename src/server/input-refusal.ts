/**
 * A request refused for its form by a route's own check (a query parameter, a header) rather than by a service —
 * services record their refusals themselves. The API's error handler records these in the audit log like Fastify's
 * own refusals (body too large, not JSON, off the schema): `api.reject`, bounded per client address and minute.
 */
import { PhigateError } from '../lib/errors.js';

export class InputRefusal extends PhigateError {
  constructor(code: string, message: string, details: Readonly<Record<string, unknown>> = {}) {
    super('invalid', code, message, details);
  }
}
