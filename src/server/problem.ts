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

/** Fastify's own client errors (body, content type, JSON syntax, schema validation). */
function fromFastify(err: FastifyError): Problem | undefined {
  if (err.validation) {
    const first = err.validation[0];
    const where = `${err.validationContext ?? 'body'}${first?.instancePath ?? ''}`;
    const extra =
      first?.params && 'additionalProperty' in first.params
        ? String(first.params.additionalProperty)
        : undefined;
    // "must be equal to one of the allowed values" helps only if it says which they are.
    const allowed =
      first?.keyword === 'enum' && first.params && 'allowedValues' in first.params
        ? `: ${(first.params.allowedValues as unknown[]).map(String).join(', ')}`
        : '';
    // Patterns only ever exclude control characters; echoing the regular expression would help nobody.
    const message =
      first?.keyword === 'pattern'
        ? 'must not contain control characters'
        : `${first?.message ?? 'is invalid'}${allowed}`;
    return problem(400, 'request.invalid', `${where} ${message}${extra === undefined ? '' : ` (${extra})`}`, {
      field: extra === undefined ? where : `${where}/${extra}`,
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
