/**
 * Alerts and their delivery state per channel, and the replay of dead letters (auditors only). Alerts carry no PHI:
 * kinds, severities, phigate ids and counts.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { AlertService } from '../../alerts/alert-service.js';
import { ALERT_SEVERITIES } from '../../alerts/alert-kinds.js';
import { InputRefusal } from '../input-refusal.js';
import { principalOf } from '../request-context.js';
import { errorResponses } from '../schemas.js';

const dateTime = { type: 'string', format: 'date-time' } as const;

const deliverySchema = {
  type: 'object',
  required: ['channel', 'status', 'attempts'],
  properties: {
    channel: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'delivered', 'dead'] },
    attempts: { type: 'integer', description: 'Attempts made (reset when a dead letter is replayed)' },
    nextAttemptAt: { ...dateTime, description: 'Pending: when the next attempt is due' },
    lastAttemptAt: dateTime,
    deliveredAt: dateTime,
    lastError: { type: 'string', description: 'The last failure, e.g. `HTTP 500` (never a URL or a body)' },
  },
} as const;

const alertSchema = {
  type: 'object',
  required: ['id', 'kind', 'severity', 'title', 'raisedAt', 'evidence', 'deliveries'],
  properties: {
    id: { type: 'integer' },
    kind: { type: 'string' },
    severity: { type: 'string', enum: [...ALERT_SEVERITIES] },
    title: { type: 'string' },
    raisedAt: dateTime,
    requestId: { type: 'string', format: 'uuid' },
    evidence: {
      type: 'object',
      description: 'Identifiers, policy names, codes and counts; never PHI',
      additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
    },
    routedAt: { ...dateTime, description: 'When its deliveries were made; absent while not yet routed' },
    deliveries: { type: 'array', items: deliverySchema },
  },
} as const;

interface ListQuery {
  limit?: number;
  before?: number;
  status?: 'pending' | 'delivered' | 'dead';
}

export function alertRoutes(alerts: AlertService): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: ListQuery }>(
      '/v1/alerts',
      {
        schema: {
          tags: ['alerts'],
          operationId: 'listAlerts',
          summary: 'Alerts, newest first, with their delivery state per channel (auditors)',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              limit: { type: 'integer', minimum: 1, maximum: 500 },
              before: {
                type: 'integer',
                minimum: 1,
                description: 'Alerts with a smaller id (the next page)',
              },
              status: {
                type: 'string',
                enum: ['pending', 'delivered', 'dead'],
                description: 'Alerts with at least one delivery in this state',
              },
            },
          },
          response: {
            200: {
              type: 'object',
              required: ['items'],
              properties: {
                items: { type: 'array', items: alertSchema },
                nextBefore: { type: 'integer', description: 'Pass as `before` for the next page' },
              },
            },
            ...errorResponses,
          },
        },
      },
      async (req) => {
        const limit = req.query.limit ?? 50;
        const items = await alerts.list(principalOf(req), {
          limit,
          before: req.query.before,
          status: req.query.status,
        });
        return { items, ...(items.length === limit ? { nextBefore: items[items.length - 1]!.id } : {}) };
      },
    );

    app.post<{ Params: { id: string }; Body: { channel?: string } }>(
      '/v1/alerts/:id/redeliver',
      {
        schema: {
          tags: ['alerts'],
          operationId: 'redeliverAlert',
          summary: 'Replay an alert’s dead deliveries (all channels, or one) with fresh attempts (auditors)',
          params: {
            type: 'object',
            additionalProperties: false,
            required: ['id'],
            properties: { id: { type: 'string', pattern: '^[0-9]{1,15}$' } },
          },
          body: {
            type: 'object',
            additionalProperties: false,
            properties: { channel: { type: 'string', minLength: 1, maxLength: 63 } },
          },
          response: {
            200: {
              type: 'object',
              required: ['alertId', 'channels'],
              properties: {
                alertId: { type: 'integer' },
                channels: { type: 'array', items: { type: 'string' }, description: 'The channels replayed' },
              },
            },
            ...errorResponses,
          },
        },
      },
      async (req) => {
        const alertId = Number(req.params.id);
        if (!Number.isSafeInteger(alertId) || alertId < 1) {
          throw new InputRefusal('alert.id-invalid', 'an alert id is a positive integer', { field: 'id' });
        }
        const channels = await alerts.redeliver(principalOf(req), alertId, req.body.channel);
        return { alertId, channels };
      },
    );
  };
}
