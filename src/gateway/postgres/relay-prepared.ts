/**
 * The server's prepared statements and portals as the relay forwarded them: so that an Execute can be audited with
 * its SQL and parameters, and its rows read as the server described them (statement-tracker.ts). Also what each
 * client message asks the server to run, as a statement to audit.
 */
import type { FrontendMessage } from './frontend-messages.js';
import type { StatementToAudit } from './relay-types.js';
import type { DescribedShape, PortalShape, StatementTracker } from './statement-tracker.js';

interface Prepared {
  readonly sql: string;
  readonly relations: readonly string[] | undefined;
  readonly shape: DescribedShape;
}

interface Portal {
  readonly sql: string;
  readonly relations: readonly string[] | undefined;
  readonly parameters: readonly (Buffer | null)[];
  readonly shape: PortalShape;
  /** The id of its first Execute. */
  run: number | undefined;
}

export interface PreparedStatements {
  /** The statement a client message runs (a Query, a Parse, an Execute), numbered with `nextId`; else undefined. */
  statementOf(message: FrontendMessage, nextId: () => number): StatementToAudit | undefined;
  /** How the portal's rows will be described, for reading them. */
  portalShape(name: string): PortalShape | undefined;
  /**
   * Keeps what a forwarded message makes of the server's statements and portals. Only once forwarded: a refused
   * Parse leaves the server's statement of that name as it was.
   */
  remember(message: FrontendMessage, relations: readonly string[] | undefined): void;
}

export function createPreparedStatements(tracker: Pick<StatementTracker, 'described'>): PreparedStatements {
  const prepared = new Map<string, Prepared>();
  const portals = new Map<string, Portal>();
  const unknown = (): DescribedShape => ({ fields: undefined });

  return {
    statementOf(message, nextId) {
      switch (message.type) {
        case 'query':
          return { id: nextId(), kind: 'query', sql: message.sql };
        // The fast-path function call runs a function by OID, out of reach of the guard: recorded and refused like a
        // guarded statement (functions are called with SELECT).
        case 'function-call':
          return { id: nextId(), kind: 'query', sql: 'FunctionCall' };
        case 'parse':
          return { id: nextId(), kind: 'parse', sql: message.sql };
        case 'execute': {
          const portal = portals.get(message.portal);
          const id = nextId();
          return {
            id,
            kind: 'execute',
            sql: portal?.sql ?? '',
            parameters: portal?.parameters ?? [],
            relations: portal?.relations,
            run: portal === undefined ? id : (portal.run ??= id),
          };
        }
        default:
          return undefined;
      }
    },
    portalShape(name) {
      return portals.get(name)?.shape;
    },
    remember(message, relations) {
      if (message.type === 'parse')
        prepared.set(message.statement, { sql: message.sql, relations, shape: unknown() });
      if (message.type === 'bind') {
        const statement = prepared.get(message.statement);
        portals.set(message.portal, {
          sql: statement?.sql ?? '',
          relations: statement?.relations,
          run: undefined,
          parameters: message.parameters,
          shape: {
            portal: unknown(),
            statement: statement?.shape ?? unknown(),
            resultFormats: message.resultFormats,
          },
        });
      }
      if (message.type === 'describe')
        tracker.described(
          (message.target === 'statement'
            ? prepared.get(message.name)?.shape
            : portals.get(message.name)?.shape.portal) ?? unknown(),
        );
      if (message.type === 'close')
        (message.target === 'statement' ? prepared : portals).delete(message.name);
    },
  };
}
