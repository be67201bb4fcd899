/**
 * `POST /v1/audit/disclosures`: a patient's accounting of disclosures (45 CFR 164.528). The patient identifier goes
 * in the body, never in a URL.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { AuditService } from '../../audit/audit-service.js';
import {
  DISCLOSURE_FORMATS,
  renderDisclosures,
  type DisclosureFormat,
} from '../../audit/export/disclosures-report.js';
import { principalOf } from '../request-context.js';
import { dateTime } from '../audit-schemas.js';
import { errorResponses } from '../schemas.js';
import { auditDate } from './audit-date.js';

export function auditDisclosureRoutes(
  audit: Pick<AuditService, 'disclosures' | 'origin'>,
): FastifyPluginAsync {
  return async (app) => {
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
        const from = auditDate(b.from, 'from');
        const to = auditDate(b.to, 'to');
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
