/**
 * Grants (requests that activated), their revocation and the review of break-glass ones; the roles a caller may
 * request; who the caller is.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { AccessService, ReviewInput } from '../../access/types.js';
import { mutationOptions, principalOf } from '../request-context.js';
import {
  errorResponses,
  idParamsSchema,
  listQuerySchema,
  reasonBodySchema,
  requestPageSchema,
  reviewBodySchema,
  roleViewSchema,
} from '../schemas.js';
import { listFilter, sendMutation } from './requests.js';

export function grantRoutes(access: AccessService): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: Parameters<typeof listFilter>[0] }>(
      '/v1/grants',
      {
        schema: {
          tags: ['grants'],
          operationId: 'listGrants',
          summary: 'Active and past grants the caller may see',
          querystring: listQuerySchema,
          response: { 200: requestPageSchema, ...errorResponses },
        },
      },
      async (req) => access.listGrants(principalOf(req), listFilter(req.query)),
    );

    app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>(
      '/v1/grants/:id/revoke',
      {
        schema: {
          tags: ['grants'],
          operationId: 'revokeGrant',
          summary: 'End a grant now (the grantee, an approver of it, or an admin)',
          params: idParamsSchema,
          body: reasonBodySchema,
          response: { 200: { $ref: 'AccessRequest#' }, ...errorResponses },
        },
      },
      async (req, reply) =>
        sendMutation(
          reply,
          await access.revoke(principalOf(req), req.params.id, req.body?.reason, mutationOptions(req)),
        ),
    );

    app.post<{ Params: { id: string }; Body: ReviewInput }>(
      '/v1/grants/:id/review',
      {
        schema: {
          tags: ['grants'],
          operationId: 'reviewGrant',
          summary:
            'Close the review of a break-glass grant (an auditor or admin, never the person who broke the glass)',
          params: idParamsSchema,
          body: reviewBodySchema,
          response: { 200: { $ref: 'AccessRequest#' }, ...errorResponses },
        },
      },
      async (req, reply) =>
        sendMutation(
          reply,
          await access.reviewBreakGlass(principalOf(req), req.params.id, req.body, mutationOptions(req)),
        ),
    );

    app.get(
      '/v1/roles',
      {
        schema: {
          tags: ['roles'],
          operationId: 'listRoles',
          summary: 'Roles the caller may request',
          response: {
            200: { type: 'object', properties: { items: { type: 'array', items: roleViewSchema } } },
            ...errorResponses,
          },
        },
      },
      async (req) => ({ items: access.rolesFor(principalOf(req)) }),
    );

    app.get(
      '/v1/whoami',
      {
        schema: {
          tags: ['identity'],
          operationId: 'getWhoami',
          summary: 'The caller as phigate sees them',
          response: {
            200: {
              type: 'object',
              properties: {
                id: { type: 'string' },
                issuer: { type: 'string' },
                subject: { type: 'string' },
                displayName: { type: 'string' },
                email: { type: 'string' },
                groups: { type: 'array', items: { type: 'string' } },
                mfa: { type: 'boolean' },
                tokenExpiresAt: { type: 'string', format: 'date-time' },
              },
            },
            ...errorResponses,
          },
        },
      },
      async (req) => {
        const p = principalOf(req);
        return { ...p, mfa: p.mfa.satisfied };
      },
    );
  };
}
