/**
 * The demo's protected database: a small SYNTHETIC clinic (patients, encounters, observations, notes, care team — every name,
 * number and note below is made up) in the embedded PostgreSQL, owned by `clinic_owner`, and the provisioning
 * account phigate uses on it, set up exactly as docs/provisioner.md tells a DBA to: CREATEROLE, CREATE on the
 * database (for phigate's schemas), the table privileges, pg_signal_backend to end grant roles' sessions. Idempotent: a second start changes nothing.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { UpstreamConfig } from '../config/schema.js';

export const DEMO_DATABASE = 'clinic';

/** Names of what is created; tests use their own so that parallel files do not share roles (they are per server). */
export interface ClinicNames {
  readonly database: string;
  readonly owner: string;
  readonly provisioner: string;
}

const DEMO_NAMES: ClinicNames = {
  database: DEMO_DATABASE,
  owner: 'clinic_owner',
  provisioner: 'phigate_provisioner',
};

const SCHEMA = `
  create table if not exists patients (
    id integer primary key, mrn text not null unique, name text not null, birth_date date not null,
    zip text not null, ssn text not null);
  create table if not exists encounters (
    id integer primary key, patient_id integer not null references patients, admitted_at timestamptz not null,
    discharged_at timestamptz, department text not null);
  create table if not exists observations (
    id integer primary key, encounter_id integer not null references encounters, code text not null,
    value numeric not null, observed_at timestamptz not null);
  create table if not exists notes (
    id integer primary key, encounter_id integer not null references encounters, author text not null,
    body text not null, written_at timestamptz not null);
  create table if not exists care_team (
    patient_id integer not null references patients, clinician text not null, relation text not null,
    starts_on date not null, ends_on date, primary key (patient_id, clinician, starts_on));
  comment on table patients is 'SYNTHETIC demo data: no real person';
`;

const FIRST = ['Ada', 'Ben', 'Cleo', 'Dev', 'Eli', 'Fay', 'Gus', 'Hana', 'Ivo', 'Jun', 'Kai', 'Lea'];
const LAST = ['Synthwood', 'Fakeley', 'Testova', 'Mockridge', 'Samplesen', 'Demoulin'];
const DEPARTMENTS = ['ED', 'Cardiology', 'Oncology', 'Psychiatry', 'Pediatrics'];

/** Deterministic synthetic rows: MRN-DEMO-0001 … MRN-DEMO-0040 and their encounters. */
function seedSql(): string {
  const rows: string[] = [];
  const day = (n: number): string => new Date(Date.UTC(2025, 0, 1) + n * 86_400_000).toISOString();
  for (let p = 1; p <= 40; p++) {
    const name = `${FIRST[p % FIRST.length]} ${LAST[p % LAST.length]}`;
    const mrn = `MRN-DEMO-${String(p).padStart(4, '0')}`;
    const birth = `19${50 + (p % 50)}-0${1 + (p % 9)}-1${p % 10}`;
    // 000-xx-xxxx is never issued as a real SSN.
    const ssn = `000-${String(10 + p).slice(-2)}-${String(1000 + p * 7).slice(-4)}`;
    rows.push(
      `insert into patients values (${p}, '${mrn}', '${name}', '${birth}', '0${2100 + p}', '${ssn}');`,
    );
    for (let e = 0; e < 3; e++) {
      const id = p * 10 + e;
      rows.push(
        `insert into encounters values (${id}, ${p}, '${day(p * 3 + e)}', '${day(p * 3 + e + 2)}', '${DEPARTMENTS[(p + e) % DEPARTMENTS.length]}');`,
        `insert into observations values (${id * 10}, ${id}, 'LOINC:8867-4', ${60 + ((p * 7 + e) % 40)}, '${day(p * 3 + e)}');`,
        `insert into notes values (${id}, ${id}, 'Dr. Synthetic', 'Synthetic note ${id}: patient stable.', '${day(p * 3 + e + 1)}');`,
      );
    }
  }
  return rows.join('\n');
}

/**
 * Who cares for whom (the demo users' sign-in subjects): Olivia attends patients 1–5 and attended patient 6 until
 * mid-2025; Chris attends 7–9.
 */
function careTeamSql(): string {
  const rows = [1, 2, 3, 4, 5].map((p) => `(${p}, 'olivia', 'attending', '2025-01-01', null)`);
  rows.push(`(6, 'olivia', 'attending', '2025-01-01', '2025-06-30')`);
  for (const p of [7, 8, 9]) rows.push(`(${p}, 'chris', 'attending', '2025-03-01', null)`);
  return `insert into care_team values ${rows.join(', ')}`;
}

function passwordFile(dataDir: string, provisioner: string): string {
  return path.resolve(dataDir, `demo-${provisioner}-password`);
}

/**
 * Creates (once) the clinic database and the provisioning account in the server at `superuserUrl`, and returns the
 * gateway's settings for the demo resource.
 */
export async function prepareDemoClinic(options: {
  readonly superuserUrl: string;
  readonly dataDir: string;
  readonly names?: ClinicNames;
}): Promise<UpstreamConfig> {
  const { database, owner, provisioner } = options.names ?? DEMO_NAMES;
  for (const name of [database, owner, provisioner])
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new RangeError(`not a plain SQL name: ${name}`);
  const file = passwordFile(options.dataDir, provisioner);
  if (!existsSync(file)) writeFileSync(file, randomBytes(24).toString('hex'), { mode: 0o600 });
  const password = readFileSync(file, 'utf8').trim();

  const server = new pg.Client({ connectionString: options.superuserUrl });
  await server.connect();
  try {
    const exists = await server.query('select 1 from pg_database where datname = $1', [database]);
    if (exists.rowCount === 0) {
      await server.query(`create role ${owner} nologin`).catch(ignoreDuplicate);
      await server.query(`create database ${database} owner ${owner}`);
    }
    await server.query(`create role ${provisioner} login createrole`).catch(ignoreDuplicate);
    await server.query(`alter role ${provisioner} password '${password}'`);
    await server.query(`grant pg_signal_backend to ${provisioner}`);
  } finally {
    await server.end();
  }

  const url = new URL(options.superuserUrl);
  url.pathname = `/${database}`;
  const clinic = new pg.Client({ connectionString: url.toString() });
  await clinic.connect();
  try {
    await clinic.query('begin');
    await clinic.query(`set local role ${owner}`);
    await clinic.query(SCHEMA);
    const seeded = await clinic.query('select 1 from patients limit 1');
    if (seeded.rowCount === 0) await clinic.query(seedSql());
    const staffed = await clinic.query('select 1 from care_team limit 1');
    if (staffed.rowCount === 0) await clinic.query(careTeamSql());
    // Nobody but the owner sees anything by default; phigate's views read the tables as the provisioning account, and
    // grant roles read the views.
    await clinic.query('revoke all on schema public from public');
    await clinic.query(`grant usage on schema public to ${provisioner}`);
    await clinic.query(
      `grant select, insert, update, delete on all tables in schema public to ${provisioner}`,
    );
    await clinic.query(`grant connect on database ${database} to ${provisioner} with grant option`);
    // phigate's own schema (grants' patient sets) and the schemas of its masked views.
    await clinic.query(`grant create on database ${database} to ${provisioner}`);
    await clinic.query(`revoke connect on database ${database} from public`);
    await clinic.query('commit');
  } catch (err) {
    await clinic.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    await clinic.end();
  }
  const admin = new URL(options.superuserUrl);
  admin.username = provisioner;
  admin.password = password;
  admin.pathname = `/${database}`;
  return {
    host: admin.hostname,
    port: Number(admin.port || 5432),
    database,
    adminUrl: admin.toString(),
    tls: { mode: 'disable' },
  };
}

function ignoreDuplicate(err: unknown): void {
  if ((err as { code?: string }).code !== '42710') throw err;
}

/**
 * Hands `patientId` over from `clinician` to another team, as of yesterday, in the clinic's care_team (as the
 * provisioning account at `adminUrl`): what the hospital's own systems would write. Returns how to undo it, so that
 * the next demo starts from the same synthetic care team.
 */
export async function handOverPatient(
  adminUrl: string,
  patientId: number,
  clinician: string,
): Promise<() => Promise<void>> {
  const run = async (text: string, values: unknown[]): Promise<pg.QueryResult> => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      return await client.query(text, values);
    } finally {
      await client.end();
    }
  };
  const ended = await run(
    `update care_team set ends_on = current_date - 1
      where patient_id = $1 and clinician = $2 and ends_on is null returning starts_on`,
    [patientId, clinician],
  );
  if (ended.rowCount === 0)
    throw new Error(`${clinician} does not attend patient ${patientId} in the demo clinic`);
  return async () => {
    await run(
      `update care_team set ends_on = null where patient_id = $1 and clinician = $2 and starts_on = $3`,
      [patientId, clinician, (ended.rows[0] as { starts_on: Date }).starts_on],
    );
  };
}
