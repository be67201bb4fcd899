/**
 * RFC 9457 problem details: one rendering for every error the API returns. Domain errors carry a stable `code`;
 * anything unexpected becomes a bare 500 (`internal`) whose cause is logged, never returned.
 */
import type { FastifyError, FastifyReply } from 'fastify';
import { HTTP_STATUS, isPhigateError } from '../lib/errors.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

const TITLE: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: string;
  readonly [extension: string]: unknown;
}

export function problem(status: number, code: string, detail: string, extensions: object = {}): Problem {
  return {
    ...extensions,
    type: `https://phigate.dev/problems/${code}`,
    title: TITLE[status] ?? 'Error',
    status,
    detail,
    code,
  };
}

/** At most this many violations are itemised: enough to fix a request, bounded for a hostile one. */
const MAX_REPORTED_VIOLATIONS = 20;

type Violation = NonNullable<FastifyError['validation']>[number];

/** One schema violation as a client can act on it: where (`body/patientIds/3`) and what is wrong there. */
function describeViolation(context: string, v: Violation): { field: string; message: string } {
  const where = `${context}${v.instancePath}`;
  const extra =
    v.params && 'additionalProperty' in v.params ? String(v.params.additionalProperty) : undefined;
  // "must be equal to one of the allowed values" helps only if it says which they are.
  const allowed =
    v.keyword === 'enum' && v.params && 'allowedValues' in v.params
      ? `: ${(v.params.allowedValues as unknown[]).map(String).join(', ')}`
      : '';
  // Patterns only ever exclude control characters; echoing the regular expression would help nobody.
  const message =
    v.keyword === 'pattern'
      ? 'must not contain control characters'
      : `${v.message ?? 'is invalid'}${allowed}`;
  return {
    field: extra === undefined ? where : `${where}/${extra}`,
    message: `${where} ${message}${extra === undefined ? '' : ` (${extra})`}`,
  };
}

/** Fastify's own client errors (body, content type, JSON syntax, schema validation). */
function fromFastify(err: FastifyError): Problem | undefined {
  if (err.validation) {
    const context = err.validationContext ?? 'body';
    const all = err.validation.map((v) => describeViolation(context, v));
    const errors = all.slice(0, MAX_REPORTED_VIOLATIONS);
    const more = all.length - errors.length;
    const detail = `${errors.map((e) => e.message).join('; ')}${more > 0 ? `; and ${more} more` : ''}`;
    // `field` names the first, as before; `errors` lists every one (RFC 9457 extension members).
    return problem(400, 'request.invalid', detail, {
      field: errors[0]?.field ?? context,
      errors,
    });
  }
  switch (err.code) {
    case 'FST_ERR_BAD_URL':
      return problem(400, 'request.bad-url', 'the URL is not validly percent-encoded');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      // An id longer than any id phigate issues names nothing: the same answer as any unknown id.
      return problem(404, 'route.not-found', 'no such resource');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem(413, 'request.too-large', 'the request body is larger than allowed');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problem(415, 'request.unsupported-media-type', 'send request bodies as application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return problem(400, 'request.malformed-json', 'the request body is not valid JSON');
  }
  if (err instanceof SyntaxError)
    return problem(400, 'request.malformed-json', 'the request body is not valid JSON');
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return problem(err.statusCode, 'request.invalid', 'the request could not be processed');
  }
  return undefined;
}

export function toProblem(err: unknown): Problem | undefined {
  if (isPhigateError(err)) {
    const status = HTTP_STATUS[err.kind];
    return problem(status, err.code, err.message, err.details);
  }
  return fromFastify(err as FastifyError);
}

/** `instance` names this occurrence by the request id that the server's log lines carry, so a report can be traced. */
export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  if (p.status === 401)
    reply.header('www-authenticate', `Bearer error="invalid_token", error_description="${p.code}"`);
  if (p.status === 429 && typeof p['retryAfterSeconds'] === 'number')
    reply.header('retry-after', String(p['retryAfterSeconds']));
  return reply
    .code(p.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send({ ...p, instance: `urn:phigate:request:${reply.request.id}` });
}
