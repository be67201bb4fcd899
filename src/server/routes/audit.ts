/**
 * The audit log for auditors: events, checkpoints, proofs, verification, exports and the accounting of disclosures.
 * Patient identifiers never travel in a URL (URLs end up in proxy and access logs): GET event queries take a patient
 * token; the identifier itself goes in a POST body (event search, disclosures report).
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AuditService } from '../../audit/audit-service.js';
import {
  DISCLOSURE_FORMATS,
  renderDisclosures,
  type DisclosureFormat,
} from '../../audit/export/disclosures-report.js';
import { EXPORT_FORMATS, type ExportFormat } from '../../audit/export-format.js';
import type { StoredCheckpoint } from '../../audit/checkpointer.js';
import { InputRefusal } from '../input-refusal.js';
import { principalOf } from '../request-context.js';
import {
  checkpointSchema,
  dateTime,
  eventFilterProperties,
  eventPageSchema,
  inclusionProofSchema,
  consistencyProofSchema,
  verifyReportSchema,
} from '../audit-schemas.js';
import { errorResponses } from '../schemas.js';
import { auditFollowRoutes } from './audit-follow.js';

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

const checkpointJson = (c: StoredCheckpoint) => ({
  size: c.size,
  rootHash: c.rootHash.toString('base64'),
  signedAt: c.signedAt.toISOString(),
  keyId: c.keyId,
  body: c.body,
  signature: c.signature,
});

function date(value: string | undefined, field: string): Date | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) {
    throw new InputRefusal('audit.filter-invalid', `${field} is not a date-time`, { field });
  }
  return d;
}

export function auditRoutes(audit: AuditService): FastifyPluginAsync {
  return async (app) => {
    await app.register(auditFollowRoutes(audit));
    const page = async (req: FastifyRequest, q: EventsQuery & { patient?: string }) => {
      const limit = q.limit ?? 100;
      const events = await audit.events(principalOf(req), {
        actor: q.actor,
        resource: q.resource,
        action: q.action,
        patientToken: q.patientToken,
        patient: q.patient,
        from: date(q.from, 'from'),
        to: date(q.to, 'to'),
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

    app.get<{ Querystring: { after?: number; limit?: number } }>(
      '/v1/audit/checkpoints',
      {
        schema: {
          tags: ['audit'],
          operationId: 'listAuditCheckpoints',
          summary: 'Signed checkpoints, oldest first (auditors only)',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              after: { type: 'integer', minimum: 0 },
              limit: { type: 'integer', minimum: 1, maximum: 1000 },
            },
          },
          response: {
            200: { type: 'object', properties: { items: { type: 'array', items: checkpointSchema } } },
            ...errorResponses,
          },
        },
      },
      async (req) => ({
        items: (await audit.checkpoints(principalOf(req), req.query.after, req.query.limit ?? 100)).map(
          checkpointJson,
        ),
      }),
    );

    app.post(
      '/v1/audit/checkpoints',
      {
        schema: {
          tags: ['audit'],
          operationId: 'createAuditCheckpoint',
          summary: 'Sign a checkpoint now (auditors only)',
          response: { 200: checkpointSchema, ...errorResponses },
        },
      },
      async (req) => checkpointJson(await audit.signCheckpoint(principalOf(req))),
    );

    app.get<{ Params: { seq: number }; Querystring: { treeSize?: number } }>(
      '/v1/audit/proof/:seq',
      {
        schema: {
          tags: ['audit'],
          operationId: 'getAuditInclusionProof',
          summary: 'Inclusion proof of one event in a signed tree (auditors only)',
          params: { type: 'object', properties: { seq: { type: 'integer', minimum: 1 } }, required: ['seq'] },
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { treeSize: { type: 'integer', minimum: 1 } },
          },
          response: {
            200: inclusionProofSchema,
            ...errorResponses,
          },
        },
      },
      async (req) => audit.inclusionProof(principalOf(req), req.params.seq, req.query.treeSize),
    );

    app.get<{ Querystring: { from: number; to: number } }>(
      '/v1/audit/consistency',
      {
        schema: {
          tags: ['audit'],
          operationId: 'getAuditConsistencyProof',
          summary: 'Consistency proof between two signed checkpoints (auditors only)',
          querystring: {
            type: 'object',
            additionalProperties: false,
            required: ['from', 'to'],
            properties: { from: { type: 'integer', minimum: 0 }, to: { type: 'integer', minimum: 0 } },
          },
          response: {
            200: consistencyProofSchema,
            ...errorResponses,
          },
        },
      },
      async (req) => audit.consistencyProof(principalOf(req), req.query.from, req.query.to),
    );

    app.get(
      '/v1/audit/verify',
      {
        schema: {
          tags: ['audit'],
          operationId: 'verifyAuditLog',
          summary: 'Recompute the whole log and check every signed and witnessed checkpoint (auditors only)',
          response: {
            200: verifyReportSchema,
            ...errorResponses,
          },
        },
      },
      async (req) => audit.verify(principalOf(req)),
    );

    app.get(
      '/v1/audit/public-key',
      {
        schema: {
          tags: ['audit'],
          operationId: 'getAuditPublicKey',
          summary: 'The public key that verifies checkpoints (PEM)',
          response: { 200: { type: 'string' }, ...errorResponses },
        },
      },
      async (_req, reply) =>
        reply.type('application/x-pem-file').header('x-key-id', audit.keyId).send(audit.publicKeyPem),
    );

    app.get<{ Querystring: { format?: ExportFormat } }>(
      '/v1/audit/export',
      {
        schema: {
          tags: ['audit'],
          operationId: 'exportAuditLog',
          summary:
            'The whole log: jsonl (verifiable archive), fhir (R4 AuditEvent NDJSON) or csv (auditors only)',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { format: { type: 'string', enum: [...EXPORT_FORMATS] } },
          },
          response: {
            200: {
              description: 'The log as a download, one event per line (a header line first in csv)',
              content: {
                'application/x-ndjson': { schema: { type: 'string' } },
                'text/csv': { schema: { type: 'string' } },
              },
            },
            ...errorResponses,
          },
        },
      },
      async (req, reply) => {
        const format = req.query.format ?? 'jsonl';
        const lines = await audit.exportLines(principalOf(req), format);
        const type = format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8';
        return reply
          .type(type)
          .header(
            'content-disposition',
            `attachment; filename="phigate-audit.${format === 'fhir' ? 'ndjson' : format}"`,
          )
          .send(Readable.from(lines));
      },
    );

    app.post<{ Body: { patient: string; from?: string; to?: string; format?: DisclosureFormat } }>(
      '/v1/audit/disclosures',
      {
        schema: {
          tags: ['audit'],
          operationId: 'getDisclosuresReport',
          summary: 'Accounting of disclosures for one patient, 45 CFR 164.528 (auditors only)',
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['patient'],
            properties: {
              patient: { type: 'string', minLength: 1, maxLength: 64 },
              from: dateTime,
              to: dateTime,
              format: { type: 'string', enum: [...DISCLOSURE_FORMATS] },
            },
          },
          response: {
            200: {
              description: 'The report as JSON, plain text or HTML (format)',
              content: {
                'application/json': { schema: { type: 'object', additionalProperties: true } },
                'text/plain': { schema: { type: 'string' } },
                'text/html': { schema: { type: 'string' } },
              },
            },
            ...errorResponses,
          },
        },
      },
      async (req, reply) => {
        const b = req.body;
        const from = date(b.from, 'from');
        const to = date(b.to, 'to');
        const found = await audit.disclosures(principalOf(req), { patient: b.patient, from, to });
        const rendered = renderDisclosures(b.format ?? 'json', {
          patientLabel: b.patient,
          patientToken: found.token,
          from,
          to,
          origin: audit.origin,
          events: found.events,
          truncated: found.truncated,
        });
        return reply.type(rendered.contentType).send(rendered.body);
      },
    );
  };
}
