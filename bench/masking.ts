/**
 * Benchmark of minimum-necessary enforcement (issue 5), every comparison side by side in one run, against one
 * embedded PostgreSQL serving TLS, with SYNTHETIC data (10,000 made-up patients, two visits each):
 *
 *  1. A query returning 100 rows with 3 masked columns (name redacted, SSN last four, visit date to its year) under
 *     a grant scoped to 50 patients, against the same 100 rows read unmasked and unscoped — the same columns, the 50
 *     patients named in the query — both through phigate's gateway (`auditWait: queued`, the same for both), and the
 *     same pair with the grants' `--direct` credentials (the database's share alone). pgbench -c 4 -j 2, interleaved
 *     rounds, medians.
 *  2. The accounting of disclosures read from results: the unscoped grant's 100 rows with the patient key column
 *     (the gateway reads and tokenises the 50 patients of each statement) against the same rows with the key
 *     computed, which it does not read.
 *  3. Provisioning a patient-scoped grant (its role, privileges on the shared views, its 50 patients) with 1,000
 *     such grants active: the provisioner's call the gateway makes, timed for 1,000 grants and then 200 more.
 *
 *   npm run bench:masking
 *   BENCH_SECONDS=5 BENCH_ROUNDS=3 npm run bench:masking     # shorter
 *
 * Needs `pgbench` on PATH (Debian: postgresql-contrib or postgresql-client).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createSelfSignedCertificate } from '../src/lib/self-signed-cert.js';
import { compilePolicyOrThrow } from '../src/policy/compile.js';
import { createGrantRole, dropGrantRole } from '../src/provisioner/provisioner.js';
import { startPhigate } from '../src/server/start.js';
import { startEmbeddedPostgres } from '../src/store/embedded-postgres.js';
import { percentile } from './bench-db.js';
import { createProtectedBenchDatabase, runSql } from './support/protected-database.js';
import {
  connection,
  fmt,
  grant,
  median,
  need,
  pgbench,
  tpsOf,
  type Endpoint,
} from './support/bench-tools.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PATIENTS = 10_000;
const SCOPE = 50;
const ACTIVE_GRANTS = 1_000;
const MEASURED_GRANTS = 200;
const DATABASE = 'clinic';

const mrn = (n: number): string => `MRN-SYN-${String(n).padStart(6, '0')}`;

const POLICY = `version: 1
resources:
  clinic:
    kind: postgres
    phi:
      public.visits:
        patientKey: mrn
        columns: { mrn: mrn, name: names, ssn: ssn, visit_date: dates }
approvalRules:
  auto:
    autoApprove: [{ groups: [analysts] }]
    approvers: { groups: [clinical-leads] }
roles:
  masked:
    resource: clinic
    eligibleGroups: [analysts]
    access:
      public.visits: { columns: [id, mrn, name, ssn, visit_date, code], masks: { mrn: clear, ssn: last4 } }
    duration: { default: 1h, max: 2h }
    purposes: [HOPERAT]
    patientScope: required
    approval: auto
    maxConnections: 50
  plain:
    resource: clinic
    eligibleGroups: [analysts]
    access:
      public.visits:
        columns: [id, mrn, name, ssn, visit_date, code]
        masks: { mrn: clear, name: clear, ssn: clear, visit_date: clear }
    duration: { default: 1h, max: 2h }
    purposes: [HOPERAT]
    approval: auto
    maxConnections: 50
`;

interface Path {
  readonly endpoint: Endpoint;
  readonly file: string;
}

/** pgbench on each path, ROUNDS times in rotating order; the median tps of each. */
async function interleaved(paths: Record<string, Path>): Promise<Record<string, number>> {
  const tps: Record<string, number[]> = Object.fromEntries(Object.keys(paths).map((k) => [k, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const order = Object.keys(paths);
    for (let i = 0; i < r; i++) order.push(order.shift()!);
    for (const name of order) {
      const { endpoint, file } = paths[name]!;
      const t = tpsOf(
        await pgbench(endpoint, DATABASE, ['-f', file, '-c', '4', '-j', '2', '-T', String(SECONDS)]),
      );
      tps[name]!.push(t);
      console.log(`   round ${r + 1} ${name.padEnd(19)} ${fmt(t)} tps`);
    }
  }
  return Object.fromEntries(Object.entries(tps).map(([k, v]) => [k, median(v)]));
}

async function main(): Promise<void> {
  need('pgbench');
  const dir = mkdtempSync(path.join(tmpdir(), 'phigate-bench-mask-'));
  const cert = createSelfSignedCertificate({ commonName: 'bench', altNames: ['localhost', '127.0.0.1'] });
  const server = await startEmbeddedPostgres({
    dataDir: path.join(dir, 'pg'),
    tls: cert,
    maxConnections: 400,
  });
  const cleanups: (() => unknown)[] = [() => server.stop()];
  try {
    // SYNTHETIC visits: made-up names, never-issued 000 SSNs.
    const { adminUrl, storeUrl } = await createProtectedBenchDatabase(server.url, DATABASE, (url) =>
      runSql(
        url,
        `create table visits (id serial primary key, mrn text not null, name text not null, ssn text not null,
                              visit_date date not null, code text not null);
         insert into visits (mrn, name, ssn, visit_date, code)
           select 'MRN-SYN-' || lpad(p::text, 6, '0'), 'Synthetic Person ' || p, '000-00-' || lpad((p % 10000)::text, 4, '0'),
                  date '2024-01-01' + (p * 7 + v) % 700, 'LOINC:' || (p % 97)
             from generate_series(1, ${PATIENTS}) p, generate_series(1, 2) v;
         create index on visits (mrn);
         analyze visits;`,
      ),
    );

    const configPath = path.join(dir, 'phigate.yaml');
    writeFileSync(configPath, 'server: { rateLimit: { max: 1000000, window: 1m } }\n');
    const phigate = await startPhigate({
      configPath,
      port: 0,
      dev: true,
      logLevel: 'error',
      policy: { source: POLICY, sourceName: 'bench-masking-policy.yaml' },
      env: {
        PHIGATE_DATABASE_URL: storeUrl,
        PHIGATE_DATA_DIR: path.join(dir, 'state'),
      },
      gateway: {
        enabled: true,
        port: 0,
        auditWait: 'queued',
        resources: {
          clinic: {
            host: '127.0.0.1',
            port: server.port,
            database: DATABASE,
            adminUrl,
            tls: { mode: 'disable' },
          },
        },
      },
    });
    cleanups.push(() => phigate.stop());
    const dan = await phigate.mintDevToken!('dan');
    const scope = Array.from({ length: SCOPE }, (_, i) => mrn(1 + i * 97));
    const masked = await grant(phigate, dan, {
      resource: 'clinic',
      role: 'masked',
      duration: '2h',
      patientIds: scope,
    });
    const plain = await grant(phigate, dan, { resource: 'clinic', role: 'plain', duration: '2h' });
    const maskedConn = await connection(phigate, dan, 'clinic', masked.id, true);
    const plainConn = await connection(phigate, dan, 'clinic', plain.id, true);
    const gatewayAt = (password: string): Endpoint => ({
      host: '127.0.0.1',
      port: phigate.gateway!.port,
      user: 'dan',
      password,
    });

    const columns = 'id, mrn, name, ssn, visit_date, code';
    const maskedSql = path.join(dir, 'masked.sql');
    const plainSql = path.join(dir, 'plain.sql');
    writeFileSync(maskedSql, `select ${columns} from visits;\n`);
    writeFileSync(
      plainSql,
      `select ${columns} from visits where mrn in (${scope.map((m) => `'${m}'`).join(', ')});\n`,
    );
    const check = new pg.Client({
      ...maskedConn.direct!,
      database: DATABASE,
      ssl: { rejectUnauthorized: false },
    });
    await check.connect();
    const sample = await check.query(`select ${columns} from visits order by id limit 1`);
    const count = await check.query<{ n: number }>('select count(*)::int as n from visits');
    await check.end();
    console.log(
      `masked grant: ${count.rows[0]!.n} rows visible of ${PATIENTS * 2}; first: ${JSON.stringify(sample.rows[0])}`,
    );

    const paths: Record<string, Path> = {
      'gateway masked': { endpoint: gatewayAt(maskedConn.gateway.password), file: maskedSql },
      'gateway base': { endpoint: gatewayAt(plainConn.gateway.password), file: plainSql },
      'direct masked': { endpoint: maskedConn.direct!, file: maskedSql },
      'direct base': { endpoint: plainConn.direct!, file: plainSql },
    };
    console.log(
      `\n1. ${SCOPE} patients × 2 visits = 100 rows, 3 masked columns; pgbench -c 4 -j 2 -T ${SECONDS}, ${ROUNDS} interleaved rounds`,
    );
    const m = await interleaved(paths);
    console.log(
      `   medians: gateway masked ${fmt(m['gateway masked']!)} / base ${fmt(m['gateway base']!)} tps → ` +
        `${fmt(m['gateway masked']! / m['gateway base']!, 2)}×; direct masked ${fmt(m['direct masked']!)} / base ` +
        `${fmt(m['direct base']!)} tps → ${fmt(m['direct masked']! / m['direct base']!, 2)}×`,
    );

    // The unscoped grant's results carry the patient key (mrn), so the gateway reads which patients each statement
    // returned; the same rows with the key computed (no column of origin) are not read.
    const unaccountedSql = path.join(dir, 'unaccounted.sql');
    writeFileSync(
      unaccountedSql,
      `select id, mrn || '' as mrn, name, ssn, visit_date, code from visits where mrn in (${scope.map((x) => `'${x}'`).join(', ')});\n`,
    );
    console.log(
      `\n2. accounting of disclosures from results: the unscoped grant's 100 rows with the patient key (50 patients` +
        ` read and tokenised per statement) vs the same rows with the key computed; pgbench -c 4 -j 2 -T ${SECONDS}`,
    );
    const a = await interleaved({
      'gateway accounted': { endpoint: gatewayAt(plainConn.gateway.password), file: plainSql },
      'gateway unaccounted': { endpoint: gatewayAt(plainConn.gateway.password), file: unaccountedSql },
    });
    console.log(
      `   medians: accounted ${fmt(a['gateway accounted']!)} / not ${fmt(a['gateway unaccounted']!)} tps → ` +
        `${fmt(a['gateway accounted']! / a['gateway unaccounted']!, 2)}×`,
    );

    console.log(
      `\n3. provisioning a grant scoped to ${SCOPE} patients (role, privileges on the shared views, patient set)`,
    );
    const role = compilePolicyOrThrow(POLICY, 'bench').roles.get('masked')!;
    const provisioner = new pg.Pool({ connectionString: adminUrl, max: 2 });
    cleanups.push(() => provisioner.end());
    const made: string[] = [];
    const timeOne = async (i: number): Promise<number> => {
      const started = process.hrtime.bigint();
      const g = await createGrantRole(provisioner, {
        grantId: randomUUID(),
        expiresAt: new Date(Date.now() + 3_600_000),
        database: DATABASE,
        access: role.access,
        patientIds: Array.from({ length: SCOPE }, (_, k) => mrn(1 + ((i * SCOPE + k) % PATIENTS))),
      });
      made.push(g.role);
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    const first: number[] = [];
    for (let i = 0; i < ACTIVE_GRANTS; i++) first.push(await timeOne(i));
    const measured: number[] = [];
    for (let i = 0; i < MEASURED_GRANTS; i++) measured.push(await timeOne(ACTIVE_GRANTS + i));
    const show = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      return `p50 ${fmt(percentile(sorted, 50), 1)} ms, p99 ${fmt(percentile(sorted, 99), 1)} ms, max ${fmt(sorted.at(-1)!, 1)} ms`;
    };
    console.log(`   the first ${ACTIVE_GRANTS} (0 → ${ACTIVE_GRANTS} active): ${show(first)}`);
    console.log(`   ${MEASURED_GRANTS} more with ≥ ${ACTIVE_GRANTS} active: ${show(measured)}`);
    const dropStart = Date.now();
    for (const r of made) await dropGrantRole(provisioner, r);
    console.log(
      `   (removing the ${made.length} roles took ${fmt((Date.now() - dropStart) / made.length, 1)} ms each)`,
    );
  } finally {
    for (const c of cleanups.reverse()) await c();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
