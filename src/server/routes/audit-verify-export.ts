/**
 * The whole log, checked or carried away: verification, the public key that verifies checkpoints (and exported
 * archives), and the export in each of its formats.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { AuditService } from '../../audit/audit-service.js';
import { EXPORT_FORMATS, type ExportFormat } from '../../audit/export-format.js';
import { principalOf } from '../request-context.js';
import { verifyReportSchema } from '../audit-schemas.js';
import { errorResponses } from '../schemas.js';

export function auditVerifyExportRoutes(
  audit: Pick<AuditService, 'verify' | 'exportLines' | 'keyId' | 'publicKeyPem'>,
): FastifyPluginAsync {
  return async (app) => {
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
  };
}
