/**
 * Matches the database's answers to the statements the relay forwarded, so that each audited statement can be
 * completed with what happened: rows (from CommandComplete's tag, or DataRows counted), duration, success or
 * failure, or "skipped" when an earlier error made the server discard it. Pure: fed messages, returns results.
 *
 * The protocol's rules it relies on: answers come in request order; each Execute ends in exactly one of
 * CommandComplete, EmptyQueryResponse, PortalSuspended or ErrorResponse, unless an earlier error in the same
 * extended-protocol batch made the server skip to Sync; a simple Query ends at ReadyForQuery, after one
 * CommandComplete per statement in it.
 */

export type TrackedKind = 'query' | 'execute';

export interface StatementResult {
  readonly id: number;
  readonly kind: TrackedKind;
  readonly outcome: 'success' | 'failure' | 'skipped';
  /** Rows returned or affected; undefined when the command reports none (e.g. CREATE, SET). */
  readonly rows: number | undefined;
  readonly durationMs: number;
  /** SQLSTATE of the error, on failure. */
  readonly sqlState?: string | undefined;
}

type Entry =
  | {
      readonly kind: TrackedKind;
      readonly id: number;
      readonly startedAt: number;
      rows: number | undefined;
      dataRows: number;
      error: string | undefined;
    }
  | { readonly kind: 'sync' };

const ROW_COUNT_TAG = /^(SELECT|INSERT \d+|UPDATE|DELETE|MERGE|FETCH|MOVE|COPY) (\d+)$/;

/** The row count a CommandComplete tag reports (`SELECT 5`, `INSERT 0 3`, …); undefined when it reports none. */
export function rowsOfTag(tag: string): number | undefined {
  const m = ROW_COUNT_TAG.exec(tag);
  return m ? Number(m[2]) : undefined;
}

export class StatementTracker {
  private readonly queue: Entry[] = [];

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** A Query or Execute was forwarded. */
  started(kind: TrackedKind, id: number): void {
    this.queue.push({ kind, id, startedAt: this.now(), rows: undefined, dataRows: 0, error: undefined });
  }

  /** A Sync was forwarded: the end of an extended-protocol batch. */
  sync(): void {
    this.queue.push({ kind: 'sync' });
  }

  /** Statements awaiting their answer. */
  get pending(): number {
    return this.queue.filter((e) => e.kind !== 'sync').length;
  }

  /** Feeds one backend message (type byte and body); returns the statements it completed. */
  backend(type: number, body: Buffer): StatementResult[] {
    const head = this.queue[0];
    const statement = head !== undefined && head.kind !== 'sync' ? head : undefined;
    switch (String.fromCharCode(type)) {
      case 'D':
        if (statement) statement.dataRows += 1;
        return [];
      case 'C': {
        if (!statement) return [];
        const end = body.indexOf(0);
        const rows = rowsOfTag(body.toString('latin1', 0, end === -1 ? body.length : end));
        if (statement.kind === 'query') {
          if (rows !== undefined) statement.rows = (statement.rows ?? 0) + rows;
          statement.dataRows = 0;
          return [];
        }
        statement.rows = rows ?? (statement.dataRows > 0 ? statement.dataRows : undefined);
        return [this.finish('success')];
      }
      case 'I':
        if (statement?.kind === 'execute') {
          statement.rows = 0;
          return [this.finish('success')];
        }
        return [];
      case 's':
        if (statement?.kind === 'execute') {
          statement.rows = statement.dataRows;
          return [this.finish('success')];
        }
        return [];
      case 'E': {
        const sqlState = sqlStateOf(body);
        if (statement?.kind === 'execute') return [this.finish('failure', sqlState)];
        if (statement?.kind === 'query') statement.error = sqlState ?? 'unknown';
        return [];
      }
      case 'Z':
        return this.readyForQuery();
      default:
        return [];
    }
  }

  private finish(outcome: StatementResult['outcome'], sqlState?: string): StatementResult {
    const e = this.queue.shift() as Exclude<Entry, { kind: 'sync' }>;
    return {
      id: e.id,
      kind: e.kind,
      outcome,
      rows: outcome === 'success' ? e.rows : undefined,
      durationMs: this.now() - e.startedAt,
      ...(sqlState !== undefined ? { sqlState } : {}),
    };
  }

  /** ReadyForQuery ends a simple Query, or an extended batch (whatever is left of it was skipped). */
  private readyForQuery(): StatementResult[] {
    const head = this.queue[0];
    if (head?.kind === 'query') {
      return head.error !== undefined ? [this.finish('failure', head.error)] : [this.finish('success')];
    }
    const out: StatementResult[] = [];
    while (this.queue.length > 0) {
      const e = this.queue[0]!;
      if (e.kind === 'sync') {
        this.queue.shift();
        break;
      }
      if (e.kind === 'query') break;
      out.push(this.finish('skipped'));
    }
    return out;
  }
}

function sqlStateOf(body: Buffer): string | undefined {
  for (let i = 0; i < body.length && body[i] !== 0;) {
    const field = body[i]!;
    const end = body.indexOf(0, i + 1);
    if (end === -1) return undefined;
    if (field === 0x43) return body.toString('latin1', i + 1, end);
    i = end + 1;
  }
  return undefined;
}
