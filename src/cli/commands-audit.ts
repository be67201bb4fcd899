/**
 * `phigate audit …`: verify, tail, export, proof, consistency, checkpoint, public-key, disclosures.
 *
 * Proofs and export files are checked here, on the auditor's machine, against a public key the auditor kept
 * (`--public-key`): a server that was rewritten cannot vouch for itself. Without the option the server's current key
 * is fetched and the output says so.
 */
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { KeyObject } from 'node:crypto';
import type { Command } from 'commander';
import { loadVerifyingKey } from '../audit/checkpoint.js';
import type { AuditRecord } from '../audit/event.js';
import { verifyJsonlExport } from '../audit/export-jsonl.js';
import type { CheckpointClaim, VerifyReport } from '../audit/log-verifier.js';
import { parseWitnessEntries } from '../audit/witness.js';
import {
  checkConsistencyProof,
  checkInclusionProof,
  type ConsistencyProofView,
  type InclusionProofView,
} from '../audit/proof-view.js';
import { createApiClient, type ApiClient, type GlobalOptions } from './api-client.js';
import { checkServerCheckpoints, printReport } from './audit-verify-report.js';
import { CliError, EXIT } from './exit-codes.js';
import { jsonText, safe } from './terminal-text.js';

interface EventPage {
  items: { seq: number; record: AuditRecord }[];
  nextCursor?: number;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function readKey(file: string): KeyObject {
  try {
    return loadVerifyingKey(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CliError(
      `cannot use ${file} as the audit public key: ${err instanceof Error ? err.message : String(err)}`,
      EXIT.invalid,
    );
  }
}

async function trustedKey(api: ApiClient | undefined, file: string | undefined): Promise<KeyObject> {
  if (file !== undefined) return readKey(file);
  if (api === undefined) throw new CliError('--public-key FILE is required offline', EXIT.usage);
  console.error(
    "note: checking against the server's current public key; pass --public-key to use the one you kept",
  );
  return loadVerifyingKey(await (await api.raw('GET', '/v1/audit/public-key')).text());
}

export function eventLine(seq: number, r: AuditRecord): string {
  const fields = [
    String(seq).padStart(7),
    r.recordedAt,
    r.action,
    r.outcome === 'success' ? 'ok' : `${r.outcome}:${r.reasonCode ?? '?'}`,
    r.who?.actor,
    r.what?.resource,
    r.what?.requestId,
    r.why?.purposeOfUse,
    r.why?.emergency ? 'EMERGENCY' : undefined,
  ];
  return fields
    .filter((f) => f !== undefined && f !== '')
    .map((f) => safe(f))
    .join('  ');
}

async function writeOut(body: AsyncIterable<Uint8Array> | string, out: string | undefined): Promise<void> {
  const source = typeof body === 'string' ? Readable.from([body]) : Readable.from(body);
  if (out === undefined) {
    await pipeline(source, process.stdout, { end: false });
    return;
  }
  await pipeline(source, createWriteStream(out, { mode: 0o600 }));
}

function queryOf(values: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

function positive(value: string, name: string): number {
  if (!/^[1-9]\d{0,15}$/.test(value)) throw new CliError(`${name} must be a positive integer`, EXIT.usage);
  return Number(value);
}

export function registerAuditCommands(program: Command, globals: () => GlobalOptions): void {
  const audit = program
    .command('audit')
    .description('the tamper-evident audit log: verify, read, prove, export (auditors)');

  audit
    .command('verify')
    .description(
      'recompute the log and check every signed and witnessed checkpoint; exit 10 if anything is off',
    )
    .option('--file <export.jsonl>', 'verify an export file offline instead of the server’s store')
    .option('--proof <proof.json>', 'verify a saved inclusion or consistency proof offline')
    .option('--public-key <pem>', 'the public key you kept (`phigate audit public-key`)')
    .option(
      '--witness <file>',
      'with --file: also check the checkpoints a witness file kept (repeatable)',
      collect,
    )
    .action(async (opts: { file?: string; proof?: string; publicKey?: string; witness?: string[] }) => {
      const g = globals();
      if (opts.file !== undefined || opts.proof !== undefined) {
        const key = await trustedKey(undefined, opts.publicKey);
        if (opts.proof !== undefined) {
          const view = JSON.parse(readFileSync(opts.proof, 'utf8')) as InclusionProofView &
            ConsistencyProofView;
          const check =
            'auditPath' in view ? checkInclusionProof(view, key) : checkConsistencyProof(view, key);
          console.log(
            check.ok ? 'ok: the proof holds' : `FAILED:\n  - ${check.problems.map(safe).join('\n  - ')}`,
          );
          if (!check.ok)
            throw new CliError('the proof does not hold', EXIT.auditFailed, 'audit.proof-failed');
          return;
        }
        const claims: CheckpointClaim[] = [];
        for (const file of opts.witness ?? []) {
          const { entries, problems } = parseWitnessEntries(readFileSync(file, 'utf8'));
          if (problems.length > 0) throw new CliError(`${file}: ${problems.join('; ')}`, EXIT.auditFailed);
          claims.push(
            ...entries.map((e) => ({ source: `file:${file}`, body: e.body, signature: e.signature })),
          );
        }
        const lines = createInterface({ input: createReadStream(opts.file!), crlfDelay: Infinity });
        try {
          printReport(g, await verifyJsonlExport(lines, { trustedKeys: [key], claims }));
        } catch (err) {
          throw new CliError(err instanceof Error ? err.message : String(err), EXIT.auditFailed);
        }
        return;
      }
      const api = await createApiClient(g);
      const report = await api.call<VerifyReport>('GET', '/v1/audit/verify');
      printReport(
        g,
        opts.publicKey === undefined
          ? report
          : await checkServerCheckpoints(api, readKey(opts.publicKey), report),
      );
    });

  audit
    .command('tail')
    .description('the latest events, oldest first; --follow keeps printing new ones')
    .option('-n, --lines <n>', 'how many', '20')
    .option('--actor <id>', 'only this actor (issuer#subject)')
    .option('--action <action>', 'only this action, e.g. grant.activate')
    .option('--resource <name>', 'only this resource')
    .option('--patient <id>', 'only events about this patient (sent in a request body, never in a URL)')
    .option('-f, --follow', 'keep printing new events until interrupted (recorded as one query)')
    .action(
      async (opts: {
        lines: string;
        actor?: string;
        action?: string;
        resource?: string;
        patient?: string;
        follow?: boolean;
      }) => {
        const g = globals();
        const api = await createApiClient(g);
        const filter = { actor: opts.actor, action: opts.action, resource: opts.resource };
        const limit = Math.min(positive(opts.lines, '--lines'), 1000);
        const search = (extra: Record<string, string | number | undefined>): Promise<EventPage> =>
          opts.patient === undefined
            ? api.call<EventPage>('GET', `/v1/audit/events${queryOf({ ...filter, ...extra })}`)
            : api.call<EventPage>('POST', '/v1/audit/events/search', {
                ...JSON.parse(JSON.stringify({ ...filter, ...extra })),
                patient: opts.patient,
              });
        const show = (items: EventPage['items']): void => {
          for (const e of items) console.log(g.json ? jsonText(e) : eventLine(e.seq, e.record));
        };
        if (opts.follow) {
          // One lasting query, recorded when it starts and ends (polling would record every poll as a new query).
          const res = await api.raw('POST', '/v1/audit/events/follow', {
            ...JSON.parse(JSON.stringify(filter)),
            ...(opts.patient === undefined ? {} : { patient: opts.patient }),
            lines: limit,
          });
          if (!res.body) throw new CliError('the follow came back empty', EXIT.unexpected);
          const lines = createInterface({ input: Readable.fromWeb(res.body as never), crlfDelay: Infinity });
          for await (const line of lines)
            if (line.trim()) show([JSON.parse(line) as EventPage['items'][number]]);
          throw new CliError(
            'the server ended the follow (it is stopping or its store is unavailable)',
            EXIT.unavailable,
          );
        }
        const items = [...(await search({ order: 'desc', limit })).items].reverse();
        show(items);
      },
    );

  audit
    .command('export')
    .description('the whole log: jsonl (the verifiable archive), fhir (R4 AuditEvent NDJSON) or csv')
    .option('--format <format>', 'jsonl | fhir | csv', 'jsonl')
    .option('-o, --out <file>', 'write to a file (mode 600) instead of standard output')
    .action(async (opts: { format: string; out?: string }) => {
      if (!['jsonl', 'fhir', 'csv'].includes(opts.format)) {
        throw new CliError('--format must be jsonl, fhir or csv', EXIT.usage);
      }
      const api = await createApiClient(globals());
      const res = await api.raw('GET', `/v1/audit/export${queryOf({ format: opts.format })}`);
      if (!res.body) throw new CliError('the export came back empty', EXIT.unexpected);
      await writeOut(res.body, opts.out);
    });

  audit
    .command('proof')
    .description('fetch the inclusion proof of one event and check it against the public key')
    .argument('<seq>', 'sequence number of the event')
    .option('--tree-size <n>', 'prove against the checkpoint of this size (default: the latest)')
    .option('--public-key <pem>', 'the public key you kept')
    .option('-o, --out <file>', 'also save the proof, to check later with `audit verify --proof`')
    .action(async (seqText: string, opts: { treeSize?: string; publicKey?: string; out?: string }) => {
      const g = globals();
      const seq = positive(seqText, 'SEQ');
      const treeSize = opts.treeSize === undefined ? undefined : positive(opts.treeSize, '--tree-size');
      const api = await createApiClient(g);
      const view = await api.call<InclusionProofView>(
        'GET',
        `/v1/audit/proof/${seq}${queryOf({ treeSize })}`,
      );
      const check = checkInclusionProof(view, await trustedKey(api, opts.publicKey));
      if (opts.out !== undefined) await writeOut(`${JSON.stringify(view, null, 2)}\n`, opts.out);
      if (g.json) console.log(jsonText({ ...view, verified: check.ok, problems: check.problems }));
      else {
        console.log(
          check.ok
            ? `ok: event ${seq} is leaf ${view.leafIndex} of the signed tree of ${view.treeSize} ` +
                `(${view.auditPath.length} hashes in its audit path)`
            : `FAILED:\n  - ${check.problems.map(safe).join('\n  - ')}`,
        );
      }
      if (!check.ok) throw new CliError('the proof does not hold', EXIT.auditFailed, 'audit.proof-failed');
    });

  audit
    .command('consistency')
    .description('prove that the log at one checkpoint size is a prefix of the log at a later one')
    .argument('<from>', 'the earlier checkpoint size')
    .argument('<to>', 'the later checkpoint size')
    .option('--public-key <pem>', 'the public key you kept')
    .option('-o, --out <file>', 'also save the proof')
    .action(async (fromText: string, toText: string, opts: { publicKey?: string; out?: string }) => {
      const g = globals();
      const api = await createApiClient(g);
      const view = await api.call<ConsistencyProofView>(
        'GET',
        `/v1/audit/consistency${queryOf({ from: positive(fromText, 'FROM'), to: positive(toText, 'TO') })}`,
      );
      const check = checkConsistencyProof(view, await trustedKey(api, opts.publicKey));
      if (opts.out !== undefined) await writeOut(`${JSON.stringify(view, null, 2)}\n`, opts.out);
      console.log(
        g.json
          ? jsonText({ ...view, verified: check.ok, problems: check.problems })
          : check.ok
            ? `ok: the log of ${view.toSize} events extends the log of ${view.fromSize}`
            : `FAILED:\n  - ${check.problems.map(safe).join('\n  - ')}`,
      );
      if (!check.ok) throw new CliError('the proof does not hold', EXIT.auditFailed, 'audit.proof-failed');
    });

  audit
    .command('checkpoint')
    .description('sign a checkpoint of everything recorded so far, now')
    .action(async () => {
      const g = globals();
      const c = await (
        await createApiClient(g)
      ).call<{ size: number; rootHash: string; signedAt: string }>('POST', '/v1/audit/checkpoints');
      console.log(
        g.json ? jsonText(c) : `checkpoint: ${c.size} events, root ${c.rootHash}, signed ${c.signedAt}`,
      );
    });

  audit
    .command('public-key')
    .description(
      'print the public key that verifies checkpoints (keep a copy somewhere the server cannot write)',
    )
    .option('-o, --out <file>', 'write it to a file')
    .action(async (opts: { out?: string }) => {
      const res = await (await createApiClient(globals())).raw('GET', '/v1/audit/public-key');
      await writeOut(await res.text(), opts.out);
    });

  audit
    .command('disclosures')
    .description(
      'accounting of disclosures for one patient (45 CFR 164.528): every grant and statement on them',
    )
    .requiredOption('--patient <id>', 'the patient identifier (sent in the request body, never in a URL)')
    .option('--from <date>', 'from this date-time (ISO 8601)')
    .option('--to <date>', 'up to this date-time (ISO 8601)')
    .option('--format <format>', 'text | json | html', 'text')
    .option('-o, --out <file>', 'write the report to a file (e.g. report.html to print)')
    .action(async (opts: { patient: string; from?: string; to?: string; format: string; out?: string }) => {
      if (!['text', 'json', 'html'].includes(opts.format)) {
        throw new CliError('--format must be text, json or html', EXIT.usage);
      }
      const iso = (v: string | undefined, name: string): string | undefined => {
        if (v === undefined) return undefined;
        const d = new Date(v);
        if (Number.isNaN(d.getTime())) throw new CliError(`${name} is not a date`, EXIT.usage);
        return d.toISOString();
      };
      const res = await (
        await createApiClient(globals())
      ).raw('POST', '/v1/audit/disclosures', {
        patient: opts.patient,
        from: iso(opts.from, '--from'),
        to: iso(opts.to, '--to'),
        format: opts.format,
      });
      await writeOut(await res.text(), opts.out);
    });
}
