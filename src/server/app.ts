/**
 * The HTTP API. Public routes (health, readiness, metrics, OpenAPI, login settings, the demo's issuer) live at the
 * root; everything under /v1 except /v1/auth/config lives in one scope whose hooks authenticate and rate-limit.
 */
import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Registry } from 'prom-client';
import type { AccessService } from '../access/types.js';
import type { Principal } from '../identity/principal.js';
import { isPhigateError, PhigateError } from '../lib/errors.js';
import type { AuditService } from '../audit/audit-service.js';
import type { AuditWho } from '../audit/event.js';
import type { RefusalRecorder } from '../audit/refusal-recorder.js';
import type { Logger } from '../lib/logger.js';
import { limitConnectionsPerAddress } from './connection-limit.js';
import { InputRefusal } from './input-refusal.js';
import { createMetricsRegistry, instrumentHttp } from './metrics.js';
import { problem, sendProblem, toProblem } from './problem.js';
import { createRateLimiter } from './rate-limiter.js';
import { isStoreUnavailable } from './store-errors.js';
import './request-context.js';
import { auditRoutes } from './routes/audit.js';
import { connectionRoutes } from './routes/connections.js';
import { alertRoutes } from './routes/alerts.js';
import type { ConnectionService } from '../gateway/connection-service.js';
import { grantRoutes } from './routes/grants.js';
import { requestRoutes } from './routes/requests.js';
import { errorResponses, problemSchema, requestViewSchema } from './schemas.js';
import { createRouteMethods } from './route-methods.js';
import type { AlertService } from '../alerts/alert-service.js';

export interface AppDeps {
  readonly access: AccessService;
  /** The audit log's read side (auditors); its routes are absent when omitted. */
  readonly audit?: AuditService | undefined;
  /** The gateway's connection details (`phigate connect`); its route is absent when the gateway is off. */
  readonly connections?: ConnectionService | undefined;
  /** Alerts and their delivery (auditors); its routes are absent when omitted. */
  readonly alerts?: AlertService | undefined;
  readonly verifier: { verify(token: string): Promise<Principal> };
  readonly logger: Logger;
  readonly bodyLimitBytes: number;
  /** Per principal; before authentication, per client address with ten times the allowance. */
  readonly rateLimit: { readonly max: number; readonly windowMs: number };
  /** Open connections one client address may hold (default 256). */
  readonly maxConnectionsPerAddress?: number | undefined;
  /** Readiness: the store answers and overdue grants have been expired. */
  readonly ready: () => Promise<boolean>;
  /** What `phigate login` needs to know; undefined when no issuer is configured. */
  readonly authInfo:
    { readonly issuer: string; readonly audience: string; readonly cliClientId: string } | undefined;
  /** The demo's development issuer, mounted at its prefix. */
  readonly devIssuer?: { readonly plugin: FastifyPluginAsync; readonly prefix: string } | undefined;
  readonly publicUrl: string;
  /** Where the API's metrics go, next to any the caller registers; a fresh registry when omitted. */
  readonly metrics?: Registry | undefined;
  readonly now?: () => number;
  /** Audits refused authentication attempts (`auth.reject`, bounded per client address and minute). */
  readonly authRefusals?: Pick<RefusalRecorder, 'record'> | undefined;
  /**
   * Audits requests refused for their form before any service saw them — bodies too large, not JSON or off the
   * schema, bad URLs, a route's own input checks (`api.reject`, bounded per client address and minute).
   */
  readonly apiRefusals?: Pick<RefusalRecorder, 'record'> | undefined;
}

/** Refusals no service has recorded: Fastify's own (body, media type, schema, URL) and routes' input checks. */
function unrecorded(err: unknown, status: number): boolean {
  if (status < 400 || status >= 500) return false;
  return !isPhigateError(err) || err instanceof InputRefusal;
}

function refuser(p: Principal | undefined): AuditWho | undefined {
  return p === undefined
    ? undefined
    : { actor: p.id, issuer: p.issuer, subject: p.subject, name: p.displayName };
}

const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

function bearerToken(header: string | undefined): string {
  if (header === undefined || header === '') {
    throw new PhigateError(
      'unauthenticated',
      'token.missing',
      'send an OIDC access token: Authorization: Bearer …',
    );
  }
  const m = BEARER.exec(header);
  if (!m?.[1])
    throw new PhigateError(
      'unauthenticated',
      'token.malformed',
      'the Authorization header is not a Bearer token',
    );
  return m[1];
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const now = deps.now ?? Date.now;
  const onError = async (err: unknown, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const p = toProblem(err);
    if (p) {
      if (unrecorded(err, p.status)) {
        // So that an auditor sees probing: who (once authenticated), from where, on which route, refused why.
        await deps.apiRefusals?.record({
          reasonCode: p.code,
          clientAddress: req.ip,
          method: req.method,
          route: req.routeOptions.url ?? 'unmatched',
          status: p.status,
          who: refuser(req.principal),
        });
      }
      return sendProblem(reply, p);
    }
    if (isStoreUnavailable(err)) {
      req.log.error({ err }, 'the store is unavailable');
      return sendProblem(
        reply,
        problem(503, 'store.unavailable', 'the access store is unavailable; try again later'),
      );
    }
    req.log.error({ err }, 'unhandled error');
    return sendProblem(reply, problem(500, 'internal', 'an unexpected error occurred'));
  };
  const app = Fastify({
    // pino's Logger is Fastify's logger; the cast only reconciles two declarations of the same shape.
    loggerInstance: deps.logger as unknown as FastifyBaseLogger,
    bodyLimit: deps.bodyLimitBytes,
    // Fastify's default (0) would let a client trickle a body forever; Node answers 408 and closes instead.
    requestTimeout: 30_000,
    // The socket's address, never X-Forwarded-For: a header would let anyone choose their rate-limit bucket.
    trustProxy: false,
    // Unguessable, so that a problem's `instance` reveals nothing about traffic volume.
    genReqId: () => randomUUID(),
    // Bad percent-encoding and over-long path segments are answered by the router itself; keep one error shape.
    frameworkErrors: (err, req, reply) => void onError(err, req, reply),
    // Every schema violation in one answer, so that a client fixes its request once, not once per field.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: true } },
  });
  limitConnectionsPerAddress(app.server, deps.maxConnectionsPerAddress ?? 256);
  app.addHook('onSend', async (_req, reply) => {
    reply.header('x-content-type-options', 'nosniff');
  });
  // Bodies are JSON only: Fastify's text/plain parser would hand a string to routes that expect an object.
  app.removeContentTypeParser('text/plain');
  const metrics = deps.metrics ?? createMetricsRegistry();
  instrumentHttp(app, metrics);

  app.setErrorHandler(onError);
  const routeMethods = createRouteMethods();
  app.addHook('onRoute', (route) => {
    routeMethods.add(route.method, route.url);
    // The demo issuer's endpoints are OIDC protocol, not phigate's API: public, documented by the OIDC specs.
    if (deps.devIssuer && route.url.startsWith(`${deps.devIssuer.prefix}/`)) {
      route.schema = { ...route.schema, hide: true };
    }
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    const allowed = routeMethods.allowed(path);
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '));
      return sendProblem(
        reply,
        problem(
          405,
          'method.not-allowed',
          `${path} does not answer ${req.method}; it answers ${allowed.join(', ')}`,
        ),
      );
    }
    return sendProblem(reply, problem(404, 'route.not-found', `no route ${req.method} ${path}`));
  });

  app.addSchema(problemSchema);
  app.addSchema(requestViewSchema);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'phigate API',
        version: '1',
        description: 'Just-in-time, policy-driven, audited access to protected health information.',
        license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' },
      },
      servers: [{ url: deps.publicUrl }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearer: [] }],
    },
    // Shared schemas keep their `$id` as their component name (`Problem`, not `def-0`).
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json['$id'] === 'string' ? json['$id'] : `def-${i}`,
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get(
    '/healthz',
    {
      schema: {
        tags: ['health'],
        operationId: 'getHealth',
        summary: 'Liveness: the process answers',
        security: [],
        response: {
          200: { type: 'object', properties: { status: { type: 'string' } } },
          405: errorResponses[405],
        },
      },
    },
    async () => ({ status: 'ok' }),
  );
  const readiness = {
    tags: ['health'],
    operationId: 'getReadiness',
    summary: 'Readiness: the store answers and overdue grants have been expired',
    security: [],
    response: {
      200: { type: 'object', properties: { status: { type: 'string' } } },
      405: errorResponses[405],
      503: errorResponses[503],
    },
  };
  app.get('/readyz', { schema: readiness }, async (_req, reply) => {
    if (await deps.ready().catch(() => false)) return { status: 'ready' };
    return sendProblem(reply, problem(503, 'not-ready', 'phigate is starting or its store is unreachable'));
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) =>
    reply.type(metrics.contentType).send(await metrics.metrics()),
  );
  const authConfig = {
    tags: ['identity'],
    operationId: 'getAuthConfig',
    summary: 'What a client needs to sign in: the issuer, audience and the CLI’s client id',
    security: [],
    response: {
      200: {
        type: 'object',
        properties: {
          issuer: { type: 'string', nullable: true },
          audience: { type: 'string', nullable: true },
          cliClientId: { type: 'string', nullable: true },
          devIssuer: { type: 'boolean' },
        },
      },
      405: errorResponses[405],
    },
  };
  app.get('/v1/auth/config', { schema: authConfig }, async () => ({
    issuer: deps.authInfo?.issuer ?? null,
    audience: deps.authInfo?.audience ?? null,
    cliClientId: deps.authInfo?.cliClientId ?? null,
    devIssuer: deps.devIssuer !== undefined,
  }));
  if (deps.devIssuer) await app.register(deps.devIssuer.plugin, { prefix: deps.devIssuer.prefix });

  const perAddress = createRateLimiter({ max: deps.rateLimit.max * 10, windowMs: deps.rateLimit.windowMs });
  const perPrincipal = createRateLimiter(deps.rateLimit);
  const limited = (wait: number): PhigateError =>
    new PhigateError('rate-limited', 'rate-limited', `too many requests; retry in ${wait}s`, {
      retryAfterSeconds: wait,
    });

  await app.register(async (api) => {
    api.decorateRequest('principal', undefined);
    // Answers name people, justifications and patient ids: no browser or proxy keeps a copy.
    api.addHook('onSend', async (_req, reply) => {
      reply.header('cache-control', 'no-store');
    });
    api.addHook('onRequest', async (req) => {
      const addressWait = perAddress.take(`ip:${req.ip}`, now());
      if (addressWait > 0) throw limited(addressWait);
      try {
        req.principal = await deps.verifier.verify(bearerToken(req.headers.authorization));
      } catch (err) {
        if (err instanceof PhigateError && err.kind === 'unauthenticated') {
          await deps.authRefusals?.record({
            reasonCode: err.code,
            clientAddress: req.ip,
            method: req.method,
            route: req.routeOptions.url ?? 'unmatched',
          });
        }
        throw err;
      }
      const principalWait = perPrincipal.take(req.principal.id, now());
      if (principalWait > 0) throw limited(principalWait);
    });
    // A POST without a body means "no fields", so optional-only bodies (approve, deny, revoke) may be omitted while
    // a body that is present still meets the strict schema.
    api.addHook('preValidation', async (req) => {
      if (req.method === 'POST' && req.body === undefined) req.body = {};
    });
    await api.register(requestRoutes(deps.access));
    await api.register(grantRoutes(deps.access));
    if (deps.audit) await api.register(auditRoutes(deps.audit));
    await api.register(connectionRoutes(deps.connections));
    if (deps.alerts) await api.register(alertRoutes(deps.alerts));
  });
  return app;
}
