/**
 * What was signed, and the proofs that tie the log to it: signed checkpoints (listed, or signed now), the inclusion
 * proof of one event and the consistency proof between two checkpoints.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { AuditService } from '../../audit/audit-service.js';
import type { StoredCheckpoint } from '../../audit/checkpointer.js';
import { principalOf } from '../request-context.js';
import { checkpointSchema, inclusionProofSchema, consistencyProofSchema } from '../audit-schemas.js';
import { errorResponses } from '../schemas.js';

type ProofReads = Pick<
  AuditService,
  'checkpoints' | 'signCheckpoint' | 'inclusionProof' | 'consistencyProof'
>;

const checkpointJson = (c: StoredCheckpoint) => ({
  size: c.size,
  rootHash: c.rootHash.toString('base64'),
  signedAt: c.signedAt.toISOString(),
  keyId: c.keyId,
  body: c.body,
  signature: c.signature,
});

function checkpointRoutes(audit: ProofReads): FastifyPluginAsync {
  return async (app) => {
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
  };
}

function proofRoutes(audit: ProofReads): FastifyPluginAsync {
  return async (app) => {
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
  };
}

export function auditProofRoutes(audit: ProofReads): FastifyPluginAsync {
  return async (app) => {
    await app.register(checkpointRoutes(audit));
    await app.register(proofRoutes(audit));
  };
}
