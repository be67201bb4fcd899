/**
 * `POST /v1/audit/events/follow`: the latest events, then new ones as they are appended, as NDJSON until the client
 * goes away. One follow is one recorded query (its start and its end), however long it lasts; see audit/event-follow.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { AuditService } from '../../audit/audit-service.js';
import type { EventFollow } from '../../audit/event-follow.js';
import { principalOf } from '../request-context.js';
import { eventFilterProperties } from '../audit-schemas.js';
import { errorResponses } from '../schemas.js';

export interface FollowOptions {
  /** How often the store is asked for new events (default 1 s). */
  readonly pollMs?: number;
}

const PAGE = 1000;

export function auditFollowRoutes(audit: AuditService, options: FollowOptions = {}): FastifyPluginAsync {
  const pollMs = options.pollMs ?? 1000;
  return async (app) => {
    // Followers are told to stop when the server closes, so that a follow never holds a shutdown open.
    const open = new Set<() => void>();
    app.addHook('preClose', async () => {
      for (const stop of open) stop();
    });

    app.post<{
      Body: { actor?: string; resource?: string; action?: string; patient?: string; lines?: number };
    }>(
      '/v1/audit/events/follow',
      {
        schema: {
          tags: ['audit'],
          operationId: 'followAuditEvents',
          summary: 'Follow the audit log: the latest events, then new ones as NDJSON (auditors only)',
          description:
            'Recorded as one `audit.query` when it starts and one when it ends, not at every new event. ' +
            'The response stays open; each line is one `{seq, record}` object.',
          body: {
            type: 'object',
            additionalProperties: false,
            properties: {
              actor: eventFilterProperties.actor,
              resource: eventFilterProperties.resource,
              action: eventFilterProperties.action,
              patient: { type: 'string', minLength: 1, maxLength: 64 },
              lines: { type: 'integer', minimum: 0, maximum: 1000, description: 'latest events first sent' },
            },
          },
          response: {
            200: {
              description: 'NDJSON: one `{seq, record}` per line',
              content: { 'application/x-ndjson': { schema: { type: 'string' } } },
            },
            ...errorResponses,
          },
        },
      },
      async (req, reply) => {
        const { lines, ...filter } = req.body;
        const follow: EventFollow = await audit.follow(principalOf(req), filter, lines ?? 20);
        let active = true;
        let wake: (() => void) | undefined;
        const out = new Readable({ read() {} });
        const stop = (): void => {
          if (!active) return;
          active = false;
          open.delete(stop);
          wake?.();
          out.push(null);
        };
        open.add(stop);
        reply.raw.once('close', stop);
        const pump = async (): Promise<void> => {
          try {
            while (active) {
              const events = await follow.next(PAGE);
              for (const e of events) out.push(`${JSON.stringify({ seq: e.seq, record: e.record })}\n`);
              if (events.length < PAGE && active) {
                await new Promise<void>((resolve) => {
                  wake = resolve;
                  setTimeout(resolve, pollMs).unref();
                });
              }
            }
          } catch (err) {
            req.log.error({ err }, 'following the audit log failed');
            stop();
          } finally {
            await follow
              .end()
              .catch((err: unknown) => req.log.error({ err }, 'recording the follow end failed'));
          }
        };
        void pump();
        return reply.type('application/x-ndjson').send(out);
      },
    );
  };
}
