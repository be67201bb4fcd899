/**
 * Benchmark of the alert detectors (issue 17): how fast they evaluate audit events on one core, and how much state
 * they keep for 10,000 people. Pure code, no database: the detectors are evaluated as the server will, event by
 * event, in log order.
 *
 *  1. Throughput on the labelled workload of the detection-quality test (seed 1: 300 synthetic people, a month of
 *     requests, approvals, statements and completions, with planted episodes) — a realistic mix. Events are made
 *     first; only evaluation is timed. Rates by wall clock and by the process's CPU time (the machine is shared).
 *  2. State for 10,000 people with every bounded window full: each person holds two roles, and 32 grants of each
 *     in separate hours fill the per-grant and per-hour baselines (30 samples of 3 metrics each); each has 8 recent
 *     denials; 10,000 anonymous addresses probe once each (the probing map at its cap). Events are streamed (not
 *     kept), so the heap measured is the engine's. Reported: the JSON snapshot's bytes, the heap after the run, and
 *     the heap of the same state restored from JSON into a fresh engine.
 *
 *   npm run bench:detectors
 *   BENCH_PEOPLE=2000 BENCH_ROUNDS=3 npm run bench:detectors     # smaller
 */
import type { AuditRecord } from '../src/audit/event.js';
import { createDetectorEngine, type DetectorEngine } from '../src/alerts/detect/detector-engine.js';
import { rec, type Grant } from '../test/support/alert-records.js';
import { generateWorkload } from '../test/support/alert-workload.js';

const PEOPLE = Number(process.env.BENCH_PEOPLE ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const HOUR = 3_600_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc (npm run bench:detectors does)');
const collect = () => {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
};
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const rate = (n: number, ms: number) => Math.round(n / (ms / 1000)).toLocaleString('en-US');
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

function throughput(): void {
  const w = generateWorkload(1);
  console.log(
    `1. labelled workload (seed 1): ${w.events.length.toLocaleString('en-US')} events, ${w.people.length} people`,
  );
  const results: { wall: number; cpu: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const engine = createDetectorEngine({ alerts: w.alerts, policyHours: w.policyHours });
    const t0 = performance.now();
    const c0 = cpuMs();
    let alerts = 0;
    for (const e of w.events) alerts += engine.evaluate(e).length;
    results.push({ wall: performance.now() - t0, cpu: cpuMs() - c0 });
    console.log(
      `   round ${round + 1}: ${rate(w.events.length, results.at(-1)!.wall)} events/s wall, ${rate(w.events.length, results.at(-1)!.cpu)} per CPU-second, ${alerts} alerts`,
    );
  }
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const median = (xs: number[]) => sorted(xs)[xs.length >> 1]!;
  console.log(
    `   median: ${rate(w.events.length, median(results.map((r) => r.wall)))} events/s wall, ` +
      `${rate(w.events.length, median(results.map((r) => r.cpu)))} per CPU-second (target ≥ 50,000 on one core)`,
  );
}

/** Request ids are UUIDs in phigate: as long here, so that the state measured is as large as a real one. */
const uuid = (a: number, b: number) =>
  `${a.toString(16).padStart(8, '0')}-0000-4000-8000-${b.toString(16).padStart(12, '0')}`;

/** Streams the fill of every window for `people` people through the engine; returns the events evaluated. */
function fill(engine: DetectorEngine, people: number): number {
  let seq = 0;
  const feed = (record: AuditRecord) => {
    engine.evaluate({ seq: ++seq, record });
  };
  const start = Date.UTC(2026, 5, 1, 12);
  const person = (i: number) => `https://idp.example#bench-${i}`;
  const roles = ['clinic-read', 'ward-read'];
  let slot = 0;
  for (let g = 0; g < 32; g++) {
    for (const role of roles) {
      const t = start + slot++ * 2 * HOUR;
      const grants: Grant[] = [];
      for (let i = 0; i < people; i++) {
        const at = t + i;
        const grant: Grant = { id: uuid(slot, i), requester: person(i), role, resource: 'ehr' };
        grants.push(grant);
        feed(rec.create(at, grant));
        feed(rec.activate(at, grant, []));
        feed(rec.execute(at, grant, 's', 'select * from visits where ward = ?'));
        const patients = [`pt_${i}_${g}a`, `pt_${i}_${g}b`, `pt_${i}_${g}c`];
        feed(rec.complete(at, grant, [{ statementId: 's', rows: 20 + (g % 7), patients }]));
      }
      for (const [i, grant] of grants.entries()) feed(rec.expire(t + HOUR + i, grant));
    }
  }
  const t = start + slot * 2 * HOUR;
  for (let i = 0; i < people; i++) {
    for (let d = 0; d < 8; d++) {
      const denied: Grant = {
        id: uuid(1000 + d, i),
        requester: person(i),
        role: roles[d % 2]!,
        resource: 'ehr',
      };
      feed(rec.create(t + i * 10 + d, denied));
      feed(rec.deny(t + i * 10 + d, denied, 'https://idp.example#approver'));
    }
  }
  // Steady state: ended grants and denied requests are kept an hour for late events, then dropped.
  const probesAt = t + people * 10 + 2 * HOUR;
  engine.advance(new Date(probesAt));
  for (let i = 0; i < 10_000; i++) {
    feed(rec.authReject(probesAt + i, `198.51.${i >> 8}.${i & 255}`, 'auth.invalid-token'));
  }
  return seq;
}

/** Counts what the state holds (in a function of its own, so that the parsed copy is garbage once it returns). */
function describe(snapshot: string): void {
  const state = JSON.parse(snapshot) as Record<'people' | 'requests' | 'probes', Record<string, unknown>>;
  console.log(
    `   people ${Object.keys(state.people).length}, requests in flight ${Object.keys(state.requests).length}, ` +
      `probing sources ${Object.keys(state.probes).length}`,
  );
}

/** Fills every window, reports, and returns the snapshot: the engine itself is garbage once this returns. */
function runAndSnapshot(before: number): { snapshot: string; events: number } {
  const engine = createDetectorEngine({ alerts: { learningPeriod: '1s' } });
  const t0 = performance.now();
  const c0 = cpuMs();
  const events = fill(engine, PEOPLE);
  const wall = performance.now() - t0;
  const cpu = cpuMs() - c0;
  console.log(
    `   ${events.toLocaleString('en-US')} events in ${(wall / 1000).toFixed(1)} s: ` +
      `${rate(events, wall)} events/s wall, ${rate(events, cpu)} per CPU-second`,
  );
  console.log(`   heap after the run: ${mb(collect() - before)}`);
  return { snapshot: engine.snapshot(), events };
}

/** Restores the state into a fresh engine and returns it (the JSON text is garbage once this returns). */
function restore(run: { snapshot: string; events: number }): DetectorEngine {
  const bytes = Buffer.byteLength(run.snapshot);
  describe(run.snapshot);
  console.log(
    `   snapshot (JSON): ${mb(bytes)}, ${Math.round(bytes / PEOPLE).toLocaleString('en-US')} bytes per person`,
  );
  const restored = createDetectorEngine({ alerts: { learningPeriod: '1s' }, state: run.snapshot });
  if (restored.lastSeq !== run.events) throw new Error('restored engine lost its position');
  return restored;
}

function stateSize(): void {
  console.log(`2. state for ${PEOPLE.toLocaleString('en-US')} people, every window full`);
  const before = collect();
  const restored = restore(runAndSnapshot(before));
  const afterRestore = collect();
  console.log(
    `   heap of the state restored from JSON: ${mb(afterRestore - before)} (target ≤ 100 MB for 10,000 people)`,
  );
  if (restored.lastSeq === 0) throw new Error('nothing evaluated');
}

throughput();
stateSize();
