/**
 * The gateway part of the demo story, with the real `psql`: Dan is refused without a grant (and told how to ask);
 * with his grant, which names two patients, he reads through the gateway only those patients' encounters, their
 * identifiers masked by the database itself, and a column the role does not cover does not exist for him; a query he
 * leaves running is cut when the grant ends, its backend terminated and the role dropped.
 */
import { sql } from 'kysely';
import type { Db } from '../store/database.js';
import { runPsql, startPsql, type PsqlEndpoint, type PsqlResult } from './psql.js';

export interface GatewaySteps {
  /** Before any grant: a connection with Dan's own sign-in token is refused. */
  refusedWithoutGrant(token: string, resource: string): Promise<string>;
  /** During the grant: a query through the gateway, a refused column, and a long query left running. */
  duringGrant(endpoint: PsqlEndpoint): Promise<string[]>;
  /** After the grant's end: the running query was cut, nothing of the role remains, the token opens nothing. */
  afterGrant(): Promise<string[]>;
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(what);
}

function firstLine(text: string): string {
  return (text.split('\n').find((l) => l.trim() !== '') ?? '').trim();
}

export function gatewaySteps(ctx: {
  readonly db: Db;
  readonly gateway: { readonly host: string; readonly port: number; readonly sslmode: string };
}): GatewaySteps {
  let running: Promise<PsqlResult> | undefined;
  let endpoint: PsqlEndpoint | undefined;
  return {
    async refusedWithoutGrant(token, resource) {
      const r = await runPsql(
        { ...ctx.gateway, database: resource, user: 'dan', password: token },
        'select 1',
      );
      check(r.code !== 0, 'psql connected without a grant');
      check(r.stderr.includes('no active grant'), `unexpected refusal: ${firstLine(r.stderr)}`);
      return `psql through the gateway without a grant is refused: "${firstLine(r.stderr.replace(/^psql: error: /, ''))}"`;
    },

    async duringGrant(e) {
      endpoint = e;
      const lines: string[] = [];
      const read = await runPsql(e, 'select count(*) from encounters');
      check(read.code === 0, `psql during the grant failed: ${firstLine(read.stderr)}`);
      check(
        read.stdout.trim() === '6',
        `the patient-scoped grant saw ${read.stdout.trim()} encounters, not 6`,
      );
      lines.push(
        `With \`phigate connect\`'s token, psql reads through the gateway: ${read.stdout.trim()} encounters — ` +
          'only those of the 2 patients his grant names (the table holds 120) — as a short-lived role of his own; ' +
          'the statement is in the audit log with the 2 patients as tokens',
      );
      const masked = await runPsql(e, 'select mrn, name, birth_date, zip from patients order by id limit 1');
      const row = masked.stdout.trim();
      check(
        masked.code === 0 && /^ps_[0-9a-f]{24}\|\*\*\*\|\d{4}-01-01\|\d{3}$/.test(row),
        `unmasked row: ${row}`,
      );
      lines.push(
        `Identifiers come back masked by the database itself: "${row}" (MRN as a pseudonym, name redacted, ` +
          'birth date to its year, ZIP to three digits)',
      );
      const denied = await runPsql(e, 'select ssn from patients limit 1');
      check(denied.code !== 0 && denied.stderr.includes('does not exist'), 'the SSN column was readable');
      lines.push(`A column the role does not cover does not exist for him: "${firstLine(denied.stderr)}"`);
      const guarded = await runPsql(e, "copy encounters to program 'cat'");
      check(guarded.code !== 0, 'COPY TO PROGRAM went through');
      lines.push(`The gateway's guard refuses COPY TO PROGRAM: "${firstLine(guarded.stderr)}"`);
      running = startPsql(e, 'select pg_sleep(3600)').done;
      lines.push('He leaves a long query running (select pg_sleep(3600)) …');
      return lines;
    },

    async afterGrant() {
      check(running !== undefined && endpoint !== undefined, 'no session was left running');
      const cut = await Promise.race([
        running!,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 10_000)),
      ]);
      check(cut !== undefined, 'the running session was not cut within 10 s of the grant’s end');
      check(
        cut!.code !== 0 && cut!.stderr.includes('ended at'),
        `psql ended with: ${firstLine(cut!.stderr)}`,
      );
      const lines = [`… and at the grant's end the gateway cuts it: "${firstLine(cut!.stderr)}"`];
      let left = { backends: -1, roles: -1 };
      for (let i = 0; i < 50; i++) {
        const r = await sql<{ backends: number; roles: number }>`
          select (select count(*)::int from pg_stat_activity where usename like 'phigate\\_g\\_%') as backends,
                 (select count(*)::int from pg_roles where rolname like 'phigate\\_g\\_%') as roles`.execute(
          ctx.db,
        );
        left = r.rows[0]!;
        if (left.backends === 0 && left.roles === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      check(left.backends === 0, `${left.backends} backend(s) of grant roles still running`);
      check(left.roles === 0, `${left.roles} grant role(s) left in the database`);
      const again = await runPsql(endpoint!, 'select 1');
      check(again.code !== 0, 'the token still opened the database after the grant');
      lines.push(
        'No backend and no role of the grant remain in the database; the token opens nothing any more ' +
          `("${firstLine(again.stderr.replace(/^psql: error: /, ''))}")`,
      );
      return lines;
    },
  };
}
