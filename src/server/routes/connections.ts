/** How to connect to a resource with one's active grant: through the gateway (a connection token), or directly. */
import type { FastifyPluginAsync } from 'fastify';
import type { ConnectionService } from '../../gateway/connection-service.js';
import { PhigateError } from '../../lib/errors.js';
import { principalOf } from '../request-context.js';
import { errorResponses } from '../schemas.js';

const endpointSchema = {
  type: 'object',
  required: ['host', 'port', 'database', 'user', 'password', 'sslmode', 'url'],
  properties: {
    host: { type: 'string' },
    port: { type: 'integer' },
    database: { type: 'string' },
    user: { type: 'string' },
    password: { type: 'string', description: 'A secret: a connection token, or the grant role’s password' },
    sslmode: { type: 'string', enum: ['require', 'verify-full', 'disable'] },
    url: { type: 'string', description: 'libpq connection URI, password included' },
  },
} as const;

/** `connections` undefined: the gateway is off, and the route says so rather than 404. */
export function connectionRoutes(connections: ConnectionService | undefined): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: { resource: string; grantId?: string; direct?: boolean } }>(
      '/v1/connections',
      {
        schema: {
          tags: ['grants'],
          operationId: 'createConnection',
          summary: 'Connection details for a resource, valid while the caller’s grant on it is active',
          description:
            'Mints a connection token bound to the caller and the grant (the password for the gateway), valid ' +
            'until the grant ends at the latest. With `direct`, also the grant role’s own credentials for tools ' +
            'that cannot use the gateway. Both are recorded in the audit log before they are returned.',
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['resource'],
            properties: {
              resource: { type: 'string', minLength: 1, maxLength: 200 },
              grantId: { type: 'string', format: 'uuid' },
              direct: { type: 'boolean', default: false },
            },
          },
          response: {
            200: {
              type: 'object',
              properties: {
                grantId: { type: 'string' },
                resource: { type: 'string' },
                role: { type: 'string' },
                grantExpiresAt: { type: 'string', format: 'date-time' },
                gateway: {
                  ...endpointSchema,
                  properties: {
                    ...endpointSchema.properties,
                    tokenExpiresAt: { type: 'string', format: 'date-time' },
                  },
                },
                direct: endpointSchema,
              },
            },
            ...errorResponses,
          },
        },
      },
      async (req) => {
        const principal = principalOf(req);
        if (connections === undefined) {
          throw new PhigateError(
            'unavailable',
            'gateway.disabled',
            'the PostgreSQL gateway is not enabled on this phigate (gateway.enabled in phigate.yaml)',
          );
        }
        return connections.connect(principal, req.body, req.ip);
      },
    );
  };
}
