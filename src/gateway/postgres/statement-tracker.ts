/**
 * Matches the database's answers to the statements the relay forwarded, so that each audited statement can be
 * completed with what happened: rows (from CommandComplete's tag, or DataRows counted), duration, success or
 * failure, or "skipped" when an earlier error made the server discard it. Pure: fed messages, returns results.
 *
 * The protocol's rules it relies on: answers come in request order; each Execute ends in exactly one of
 * CommandComplete, EmptyQueryResponse, PortalSuspended or ErrorResponse, unless an earlier error in the same
 * extended-protocol batch made the server skip to Sync; a simple Query ends at ReadyForQuery, after one
 * CommandComplete per statement in it.
 *
 * For the accounting of disclosures it counts the rows returned to the client (DataRows, and COPY rows out) and
 * reads, when asked to, the values of result columns that come straight from a column naming a patient (the
 * patient key, or a column that leads to it: patient-columns.ts), grouped by that column, with the tables whose
 * patient columns every row of the result carried. A simple Query's RowDescription precedes its rows; an Execute's
 * rows are described by the answer to an earlier Describe of its portal, or of its prepared statement (with the
 * formats its Bind asked for) — Describes are therefore matched to their answers too.
 */
import {
  decodeRowDescription,
  rowValues,
  valueText,
  withResultFormats,
  type ResultField,
} from './result-rows.js';

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
  /** Rows sent to the client: DataRows, and rows of COPY … TO STDOUT. */
  readonly returned: number;
  /**
   * Distinct values of the patient columns found in the rows returned, per column (only when the tracker looks for
   * them, and found some).
   */
  readonly patientRefs?: ReadonlyMap<PatientColumn, readonly string[]>;
  /**
   * The tables (policy names) whose patient columns were in every result that returned rows, with a value in each
   * row: the rows these tables gave are all accounted for by `patientRefs`.
   */
  readonly keyedTables?: readonly string[];
  /**
   * Rows came back whose patients could not all be read, and why; `patientRefs` holds what could be. (A result that
   * simply has no patient column is not flagged here: whether it needed one depends on what it read.)
   */
  readonly patientsUnread?: PatientsUnread;
}

/**
 * Why the patients of rows returned could not be read: rows of a result never described, a patient column in a
 * binary format this tracker does not read, COPY output (no column origins), a row whose patient columns were all
 * NULL, or more distinct values than `MAX_PATIENTS_PER_STATEMENT`.
 */
export type PatientsUnread = 'undescribed' | 'binary' | 'copy' | 'null-key' | 'overflow';

/** A column whose values name patients (patient-columns.ts): compared by identity. */
export interface PatientColumn {
  /** The policy's name of the table it belongs to. */
  readonly table: string;
}

/** What a prepared statement or a portal returns, once the server has answered a Describe of it. */
export interface DescribedShape {
  fields: readonly ResultField[] | undefined;
}

/** How to find what an Execute returns: its portal's own description, or its statement's in the Bind's formats. */
export interface PortalShape {
  readonly portal: DescribedShape;
  readonly statement: DescribedShape;
  readonly resultFormats: readonly number[];
}

/** The patient column a column of a relation is (by OID and column number), if it is one. */
export type PatientColumnOf = (relation: number, attnum: number) => PatientColumn | undefined;

/** A bulk read's distinct patients beyond this are not listed (the event says so): records stay bounded. */
export const MAX_PATIENTS_PER_STATEMENT = 5_000;

interface StatementEntry {
  readonly kind: TrackedKind;
  readonly id: number;
  readonly startedAt: number;
  rows: number | undefined;
  dataRows: number;
  error: string | undefined;
  /** An Execute's portal. */
  readonly portal: PortalShape | undefined;
  /** The fields of the rows now arriving (a Query's current result; an Execute's, once resolved). */
  fields: readonly ResultField[] | undefined;
  returned: number;
  copyOut: boolean;
  patients: Map<PatientColumn, Set<string>> | undefined;
  patientCount: number;
  /** Intersection of the keyed tables of each result that returned rows; undefined before the first. */
  keyed: Set<string> | undefined;
  keyedFor: readonly ResultField[] | undefined;
  unread: PatientsUnread | undefined;
}

type Entry =
  StatementEntry | { readonly kind: 'sync' } | { readonly kind: 'describe'; readonly shape: DescribedShape };

const ROW_COUNT_TAG = /^(SELECT|INSERT \d+|UPDATE|DELETE|MERGE|FETCH|MOVE|COPY) (\d+)$/;

/** The row count a CommandComplete tag reports (`SELECT 5`, `INSERT 0 3`, …); undefined when it reports none. */
export function rowsOfTag(tag: string): number | undefined {
  const m = ROW_COUNT_TAG.exec(tag);
  return m ? Number(m[2]) : undefined;
}

export class StatementTracker {
  private readonly queue: Entry[] = [];
  /** The patient columns' positions in each result shape seen (shapes are shared by every row of a result). */
  private readonly patientIndexes = new WeakMap<readonly ResultField[], ShapeColumns>();

  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly patientColumnOf?: PatientColumnOf,
  ) {}

  /** A Query or Execute (of `portal`) was forwarded. */
  started(kind: TrackedKind, id: number, portal?: PortalShape): void {
    this.queue.push({
      kind,
      id,
      startedAt: this.now(),
      rows: undefined,
      dataRows: 0,
      error: undefined,
      portal,
      fields: undefined,
      returned: 0,
      copyOut: false,
      patients: undefined,
      patientCount: 0,
      keyed: undefined,
      keyedFor: undefined,
      unread: undefined,
    });
  }

  /** A Describe was forwarded: its answer describes `shape`. */
  described(shape: DescribedShape): void {
    this.queue.push({ kind: 'describe', shape });
  }

  /** A Sync was forwarded: the end of an extended-protocol batch. */
  sync(): void {
    this.queue.push({ kind: 'sync' });
  }

  /** Statements awaiting their answer. */
  get pending(): number {
    return this.queue.filter((e) => e.kind === 'query' || e.kind === 'execute').length;
  }

  /** Feeds one backend message (type byte and body); returns the statements it completed. */
  backend(type: number, body: Buffer): StatementResult[] {
    const head = this.queue[0];
    const statement = head?.kind === 'query' || head?.kind === 'execute' ? head : undefined;
    const describe = head?.kind === 'describe' ? head : undefined;
    switch (String.fromCharCode(type)) {
      case 'T': {
        const fields = this.patientColumnOf === undefined ? undefined : decodeRowDescription(body);
        if (describe) {
          describe.shape.fields = fields;
          this.queue.shift();
        } else if (statement?.kind === 'query') statement.fields = fields;
        return [];
      }
      case 'n':
        if (describe) {
          describe.shape.fields = [];
          this.queue.shift();
        }
        return [];
      case 'H': // CopyOutResponse: rows follow as COPY data, which is not read
        if (statement) {
          statement.copyOut = true;
          if (this.patientColumnOf !== undefined) statement.unread = 'copy';
        }
        return [];
      case 'd':
        if (statement?.copyOut) statement.returned += 1;
        return [];
      case 'D':
        if (statement) {
          statement.dataRows += 1;
          statement.returned += 1;
          if (this.patientColumnOf !== undefined) this.collectPatients(statement, body);
        }
        return [];
      case 'C': {
        if (!statement) return [];
        const end = body.indexOf(0);
        const rows = rowsOfTag(body.toString('latin1', 0, end === -1 ? body.length : end));
        if (statement.kind === 'query') {
          if (rows !== undefined) statement.rows = (statement.rows ?? 0) + rows;
          statement.dataRows = 0;
          statement.fields = undefined;
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
        // A Describe that failed: the server now skips the rest of the batch, up to its Sync.
        if (describe) {
          this.queue.shift();
          return [];
        }
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

  private collectPatients(statement: StatementEntry, row: Buffer): void {
    if (statement.fields === undefined && statement.portal !== undefined) {
      const { portal, statement: prepared, resultFormats } = statement.portal;
      statement.fields =
        portal.fields ??
        (prepared.fields === undefined ? undefined : withResultFormats(prepared.fields, resultFormats));
    }
    const fields = statement.fields;
    if (fields === undefined) {
      statement.unread ??= 'undescribed';
      return;
    }
    let shape = this.patientIndexes.get(fields);
    if (shape === undefined) {
      shape = shapeColumns(fields, this.patientColumnOf!);
      this.patientIndexes.set(fields, shape);
    }
    if (statement.keyedFor !== fields) {
      // The first row of this result: only tables keyed in every result that returned rows stay keyed.
      statement.keyedFor = fields;
      const tables = new Set(shape.tables);
      statement.keyed =
        statement.keyed === undefined ? tables : new Set([...statement.keyed].filter((t) => tables.has(t)));
    }
    if (shape.indexes.length === 0) return;
    const values = rowValues(row, shape.indexes);
    const seen = new Set<string>();
    for (let k = 0; k < values.length; k++) {
      const value = values[k];
      if (value === null || value === undefined) continue;
      const column = shape.columns[k]!;
      const id = valueText(value, fields[shape.indexes[k]!]!);
      if (id === undefined) {
        statement.unread ??= 'binary';
        continue;
      }
      seen.add(column.table);
      statement.patients ??= new Map();
      let set = statement.patients.get(column);
      if (set === undefined) statement.patients.set(column, (set = new Set()));
      if (set.has(id)) continue;
      if (statement.patientCount < MAX_PATIENTS_PER_STATEMENT) {
        set.add(id);
        statement.patientCount += 1;
      } else statement.unread ??= 'overflow';
    }
    // A row whose patient columns of a table are all NULL (an outer join) names none of that table's patients.
    if (seen.size < shape.tables.length) statement.unread ??= 'null-key';
  }

  private finish(outcome: StatementResult['outcome'], sqlState?: string): StatementResult {
    const e = this.queue.shift() as StatementEntry;
    return {
      id: e.id,
      kind: e.kind,
      outcome,
      rows: outcome === 'success' ? e.rows : undefined,
      durationMs: this.now() - e.startedAt,
      ...(sqlState !== undefined ? { sqlState } : {}),
      returned: e.returned,
      ...(e.patients !== undefined
        ? { patientRefs: new Map([...e.patients].map(([column, ids]) => [column, [...ids]])) }
        : {}),
      ...(e.keyed !== undefined ? { keyedTables: [...e.keyed] } : {}),
      ...(e.unread !== undefined ? { patientsUnread: e.unread } : {}),
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
      if (e.kind === 'describe') this.queue.shift();
      else out.push(this.finish('skipped'));
    }
    return out;
  }
}

/** Where a result shape's patient columns are, and the tables they belong to. */
interface ShapeColumns {
  readonly indexes: readonly number[];
  readonly columns: readonly PatientColumn[];
  readonly tables: readonly string[];
}

function shapeColumns(fields: readonly ResultField[], patientColumnOf: PatientColumnOf): ShapeColumns {
  const indexes: number[] = [];
  const columns: PatientColumn[] = [];
  fields.forEach((f, i) => {
    const column = f.relation === 0 ? undefined : patientColumnOf(f.relation, f.attnum);
    if (column === undefined) return;
    indexes.push(i);
    columns.push(column);
  });
  return { indexes, columns, tables: [...new Set(columns.map((c) => c.table))] };
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
