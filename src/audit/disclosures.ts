/**
 * The vocabulary of the accounting of disclosures, shared by the gateway that records disclosures and the report that
 * lists them (docs/minimum-necessary.md, "Accounting of disclosures"):
 *
 * A statement **discloses** patient P when rows it returned to the client were derived from P's rows. It is recorded
 * in its `statement.complete` record as a disclosure when it returned at least one row and read a relation the policy
 * declares as PHI (or what it read cannot be told), with the patients named by its result — and, when its rows
 * cannot all be tied to patients from the result, why (`UnattributedReason`): the statement is then listed for every
 * patient its grant could reach — the grant's patients for a patient-scoped grant, every patient otherwise (in a
 * section of each patient's report of its own).
 */

/** Why a disclosing statement's patients could not all be read from its result; each with the report's wording. */
export const UNATTRIBUTED_REASONS = {
  'no-key':
    'its result does not carry the patient key of every PHI table it read (derived or computed values, aggregates, set operations, sub-queries, or columns without the key)',
  'unknown-relations':
    'what it read is not in its text (EXECUTE of a prepared statement, FETCH from a cursor)',
  copy: 'COPY output does not say which columns its values come from',
  undescribed: 'its rows were fetched without a description of their columns',
  binary: 'a patient column came back in a binary format the gateway does not read',
  'null-key': 'rows came back whose patient columns were NULL (an outer join)',
  overflow: 'it returned more distinct patients than a record lists',
  'lookup-failed': 'the patient behind a foreign key could not be looked up in the database',
} as const;

export type UnattributedReason = keyof typeof UNATTRIBUTED_REASONS;

/** How the report knows a patient was disclosed by a statement. */
export type DisclosureBasis =
  /** The patient's key, or a value leading to it, was in the rows returned. */
  | 'result'
  /** A patient-scoped grant's statement whose rows could not be keyed: attributed to each of the grant's patients. */
  | 'grant-scope'
  /** A statement of a grant without patients whose rows could not be keyed: listed for every patient, apart. */
  | 'unattributed';

/**
 * Indexed with a record (not a patient token: those are `pt_` + 22 characters) when it holds a statement of a grant
 * without patients that could not be attributed: every patient's accounting must find it.
 */
export const UNATTRIBUTED_INDEX_TOKEN = 'pt_unattributed';

/** One statement's disclosure in a `statement.complete` record (`detail.results[].disclosure`). */
export interface RecordedDisclosure {
  /** PHI tables the statement read (policy names). */
  readonly tables: readonly string[];
  /** Tokens of the patients its result named. */
  readonly patients?: readonly string[];
  readonly unattributed?: UnattributedReason;
}
