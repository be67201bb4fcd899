/** Access requests: ask, list, read, approve, deny, cancel. */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type {
  AccessService,
  ListFilter,
  MutationResult,
  NewRequest,
  RequestStatus,
} from '../../access/types.js';
import { REQUEST_STATUSES } from '../../access/state-machine.js';
import { InputRefusal } from '../input-refusal.js';
import { mutationOptions, principalOf } from '../request-context.js';
import {
  commentBodySchema,
  emptyBodySchema,
  errorResponses,
  idParamsSchema,
  listQuerySchema,
  newRequestSchema,
  requestPageSchema,
} from '../schemas.js';

const STATUSES = new Set<RequestStatus>(REQUEST_STATUSES);

interface ListQuery {
  scope?: 'mine' | 'approvable' | 'all';
  status?: string;
  limit?: number;
  cursor?: string;
}

export function listFilter(query: ListQuery): ListFilter {
  let status: RequestStatus[] | undefined;
  if (query.status) {
    status = query.status.split(',').map((s) => s.trim()) as RequestStatus[];
    const unknown = status.find((s) => !STATUSES.has(s));
    if (unknown !== undefined) {
      throw new InputRefusal('request.invalid', `unknown status ${JSON.stringify(unknown)}`, {
        field: 'status',
      });
    }
  }
  return {
    ...(query.scope ? { scope: query.scope } : {}),
    ...(status ? { status } : {}),
    ...(query.limit ? { limit: query.limit } : {}),
    ...(query.cursor ? { cursor: query.cursor } : {}),
  };
}

/** A replayed answer (same Idempotency-Key) says so, and keeps the first answer's meaning. */
export function sendMutation(reply: FastifyReply, result: MutationResult, createdStatus = 200): unknown {
  if (result.replayed) reply.header('idempotency-replayed', 'true');
  return reply.code(result.replayed ? 200 : createdStatus).send(result.request);
}

export function requestRoutes(access: AccessService): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: NewRequest }>(
      '/v1/requests',
      {
        schema: {
          tags: ['requests'],
          operationId: 'createRequest',
          summary: 'Ask for access; the policy grants at once, asks approvers, or refuses',
          body: newRequestSchema,
          response: { 200: { $ref: 'AccessRequest#' }, 201: { $ref: 'AccessRequest#' }, ...errorResponses },
        },
      },
      async (req, reply) =>
        sendMutation(
          reply,
          await access.createRequest(principalOf(req), req.body, mutationOptions(req)),
          201,
        ),
    );

    app.get<{ Querystring: ListQuery }>(
      '/v1/requests',
      {
        schema: {
          tags: ['requests'],
          operationId: 'listRequests',
          summary: 'Requests the caller may see (own, approvable, or all for auditors and admins)',
          querystring: listQuerySchema,
          response: { 200: requestPageSchema, ...errorResponses },
        },
      },
      async (req) => access.listRequests(principalOf(req), listFilter(req.query)),
    );

    app.get<{ Params: { id: string } }>(
      '/v1/requests/:id',
      {
        schema: {
          tags: ['requests'],
          operationId: 'getRequest',
          summary: 'One request (404 when it is not the caller’s to see)',
          params: idParamsSchema,
          response: { 200: { $ref: 'AccessRequest#' }, ...errorResponses },
        },
      },
      async (req) => access.getRequest(principalOf(req), req.params.id),
    );

    for (const verdict of ['approve', 'deny'] as const) {
      app.post<{ Params: { id: string }; Body: { comment?: string } | undefined }>(
        `/v1/requests/:id/${verdict}`,
        {
          schema: {
            tags: ['requests'],
            operationId: verdict === 'approve' ? 'approveRequest' : 'denyRequest',
            summary: verdict === 'approve' ? 'Approve (never one’s own request)' : 'Deny',
            params: idParamsSchema,
            body: commentBodySchema,
            response: { 200: { $ref: 'AccessRequest#' }, ...errorResponses },
          },
        },
        async (req, reply) => {
          const principal = principalOf(req);
          const comment = req.body?.comment;
          const result =
            verdict === 'approve'
              ? await access.approve(principal, req.params.id, comment, mutationOptions(req))
              : await access.deny(principal, req.params.id, comment, mutationOptions(req));
          return sendMutation(reply, result);
        },
      );
    }

    app.post<{ Params: { id: string } }>(
      '/v1/requests/:id/cancel',
      {
        schema: {
          tags: ['requests'],
          operationId: 'cancelRequest',
          summary: 'Withdraw one’s own pending request',
          params: idParamsSchema,
          body: emptyBodySchema,
          response: { 200: { $ref: 'AccessRequest#' }, ...errorResponses },
        },
      },
      async (req, reply) =>
        sendMutation(reply, await access.cancel(principalOf(req), req.params.id, mutationOptions(req))),
    );
  };
}
