/**
 * Audit event queries: `GET /v1/audit/events` (by patient token) and `POST /v1/audit/events/search` (by patient
 * identifier too, which must never travel in a URL). Following the log is `audit-follow.ts`.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AuditService } from '../../audit/audit-service.js';
import { principalOf } from '../request-context.js';
import { eventFilterProperties, eventPageSchema } from '../audit-schemas.js';
import { errorResponses } from '../schemas.js';
import { auditDate } from './audit-date.js';

interface EventsQuery {
  actor?: string;
  resource?: string;
  action?: string;
  patientToken?: string;
  from?: string;
  to?: string;
  cursor?: number;
  order?: 'asc' | 'desc';
  limit?: number;
}

export function auditEventRoutes(audit: Pick<AuditService, 'events'>): FastifyPluginAsync {
  return async (app) => {
    const page = async (req: FastifyRequest, q: EventsQuery & { patient?: string }) => {
      const limit = q.limit ?? 100;
      const events = await audit.events(principalOf(req), {
        actor: q.actor,
        resource: q.resource,
        action: q.action,
        patientToken: q.patientToken,
        patient: q.patient,
        from: auditDate(q.from, 'from'),
        to: auditDate(q.to, 'to'),
        cursor: q.cursor,
        order: q.order,
        limit,
      });
      return {
        items: events.map((e) => ({ seq: e.seq, record: e.record })),
        ...(events.length === limit ? { nextCursor: events[events.length - 1]!.seq } : {}),
      };
    };

    app.get<{ Querystring: EventsQuery }>(
      '/v1/audit/events',
      {
        schema: {
          tags: ['audit'],
          operationId: 'listAuditEvents',
          summary: 'Audit events, filtered (auditors only)',
          querystring: { type: 'object', additionalProperties: false, properties: eventFilterProperties },
          response: { 200: eventPageSchema, ...errorResponses },
        },
      },
      async (req) => page(req, req.query),
    );

    // The same search with the filters in a body: the only way to filter by a patient identifier, which must never
    // travel in a URL.
    app.post<{ Body: EventsQuery & { patient?: string } }>(
      '/v1/audit/events/search',
      {
        schema: {
          tags: ['audit'],
          operationId: 'searchAuditEvents',
          summary: 'Audit events, filtered, by patient identifier too (auditors only)',
          body: {
            type: 'object',
            additionalProperties: false,
            properties: {
              ...eventFilterProperties,
              patient: { type: 'string', minLength: 1, maxLength: 64 },
            },
          },
          response: { 200: eventPageSchema, ...errorResponses },
        },
      },
      async (req) => page(req, req.body),
    );
  };
}
