/**
 * The audit log for auditors: events, checkpoints, proofs, verification, exports and the accounting of disclosures.
 * Patient identifiers never travel in a URL (URLs end up in proxy and access logs): GET event queries take a patient
 * token; the identifier itself goes in a POST body (event search, disclosures report). Each area is its own module;
 * they register in this order, which is the order of the OpenAPI document.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { AuditService } from '../../audit/audit-service.js';
import { auditDisclosureRoutes } from './audit-disclosures.js';
import { auditEventRoutes } from './audit-events.js';
import { auditFollowRoutes } from './audit-follow.js';
import { auditProofRoutes } from './audit-proofs.js';
import { auditVerifyExportRoutes } from './audit-verify-export.js';

export function auditRoutes(audit: AuditService): FastifyPluginAsync {
  return async (app) => {
    await app.register(auditFollowRoutes(audit));
    await app.register(auditEventRoutes(audit));
    await app.register(auditProofRoutes(audit));
    await app.register(auditVerifyExportRoutes(audit));
    await app.register(auditDisclosureRoutes(audit));
  };
}
