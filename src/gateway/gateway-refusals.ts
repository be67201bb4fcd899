/**
 * The audit record of a refused gateway connection. Before sign-in, through the rate-limited refusal recorder
 * (password guessing must not flood the log); once the person is known, as their own `session.refuse` event.
 */
import type { AuditWriter } from '../audit/audit-writer.js';
import type { RefusalRecorder } from '../audit/refusal-recorder.js';
import type { Logger } from '../lib/logger.js';
import type { GatewayPrincipal } from './gateway-auth.js';
import { REPEATABLE_REFUSALS } from './refusal-reasons.js';

export interface GatewayRefusal {
  readonly reasonCode: string;
  readonly user: string | undefined;
  readonly database: string | undefined;
  readonly clientAddress: string;
  readonly principal?: GatewayPrincipal;
  /** The grant the refused connection was for, when it got that far. */
  readonly grantId?: string;
}

export function createGatewayRefusals(deps: {
  readonly refusals: Pick<RefusalRecorder, 'record'>;
  readonly writer: Pick<AuditWriter, 'append'>;
  readonly logger: Pick<Logger, 'warn'>;
}): (r: GatewayRefusal) => Promise<void> {
  return async (r) => {
    if (r.principal === undefined) {
      await deps.refusals.record({
        reasonCode: r.reasonCode,
        clientAddress: r.clientAddress,
        method: 'postgres',
        route: 'gateway startup',
        repeatable: REPEATABLE_REFUSALS.has(r.reasonCode),
      });
      return;
    }
    await deps.writer
      .append([
        {
          action: 'session.refuse',
          outcome: 'refused',
          reasonCode: r.reasonCode,
          who: { actor: r.principal.id },
          what: { resource: r.database?.slice(0, 200), requestId: r.grantId },
          how: { clientAddress: r.clientAddress, tokenId: r.principal.tokenId },
        },
      ])
      .catch((err: unknown) => deps.logger.warn({ err }, 'could not audit a refused gateway connection'));
  };
}
