/**
 * `phigate audit verify`'s report: the headline names an event only when one is known, keeps "the range a signed
 * checkpoint covers is inconsistent" apart from it, and lists every problem; the exit code is 10 when anything is off.
 * Against the server, `--public-key` checks the server's checkpoints with the key the auditor kept.
 */
import type { KeyObject } from 'node:crypto';
import { verifyCheckpoint } from '../audit/checkpoint.js';
import { withProblems, type VerifyProblem, type VerifyReport } from '../audit/log-verifier.js';
import type { ApiClient, GlobalOptions } from './api-client.js';
import { CliError, EXIT } from './exit-codes.js';
import { jsonText, safe } from './terminal-text.js';

/** The headline: an event named only when one is known; otherwise the inconsistent range, or the store's state. */
export function verifyHeadline(report: VerifyReport): string {
  if (report.firstBadSeq !== undefined)
    return `event ${report.firstBadSeq} is altered, missing or out of place`;
  const range = report.inconsistentRange;
  if (range !== undefined) {
    return `no single event is named: the range ${range.from}–${range.to} a signed checkpoint covers is inconsistent`;
  }
  return "no event is named: a checkpoint, a witness or the store's defences are at fault";
}

export function printReport(g: GlobalOptions, report: VerifyReport): void {
  if (g.json) {
    console.log(jsonText(report));
  } else if (report.ok) {
    console.log(
      `ok: ${report.size} events verified; ${report.checkpointsVerified} signed checkpoints match ` +
        `(sources: ${report.sources.map((s) => safe(s)).join(', ') || 'none'}); ` +
        `signed through event ${report.signedSize}; root ${report.rootHash}`,
    );
  } else {
    console.log(`FAILED: ${verifyHeadline(report)}`);
    for (const p of report.problems) {
      const where =
        p.seq === undefined ? '' : p.lastSeq === undefined ? ` @${p.seq}` : ` range ${p.seq}–${p.lastSeq}`;
      console.log(`  - ${safe(p.code)}${where}: ${safe(p.message)}`);
    }
  }
  if (!report.ok) {
    throw new CliError(
      `the audit log does not verify: ${verifyHeadline(report)}`,
      EXIT.auditFailed,
      'audit.verify-failed',
      report.problems.map((p) => ({ code: p.code, message: p.message })),
    );
  }
}

interface CheckpointItem {
  size: number;
  body: string;
  keyId: string;
  signature: string;
}

/**
 * The server verified its log against its own key. With `--public-key`, every checkpoint it holds is checked here
 * against the key the auditor kept: one the key does not verify is a problem (a server rewritten with another key
 * would otherwise vouch for itself).
 */
export async function checkServerCheckpoints(
  api: ApiClient,
  key: KeyObject,
  report: VerifyReport,
): Promise<VerifyReport> {
  const problems: VerifyProblem[] = [];
  let after: number | undefined;
  let verified = 0;
  for (;;) {
    const page = await api.call<{ items: CheckpointItem[] }>(
      'GET',
      `/v1/audit/checkpoints?limit=1000${after === undefined ? '' : `&after=${after}`}`,
    );
    for (const c of page.items) {
      const checkpoint = verifyCheckpoint(c.body, c.signature, key);
      if (checkpoint === undefined || Number(checkpoint.size) !== c.size) {
        problems.push({
          code: 'checkpoint.bad-signature',
          message: `the server's checkpoint of size ${c.size} (key ${c.keyId}) does not verify with the key given`,
        });
      } else verified += 1;
    }
    if (page.items.length < 1000) break;
    after = page.items[page.items.length - 1]!.size;
  }
  if (verified === 0 && problems.length === 0) {
    problems.push({
      code: 'checkpoint.none',
      message: 'the server holds no checkpoint to check against the key',
    });
  }
  return withProblems(report, problems);
}
