/** The `alerts:` configuration and the engine's JSON state: defaults, refusals, and what the settings change. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rec, type Grant } from '../../../test/support/alert-records.js';
import { parseAlertsConfig } from './detect-config.js';
import { createDetectorEngine } from './detector-engine.js';
import { restoreState } from './engine-state.js';

const T0 = Date.UTC(2026, 2, 2, 15);
const MIN = 60_000;
const alice = 'https://idp.example#alice';
const emergency: Grant = { id: 'r-bg', requester: alice, role: 'er', resource: 'ehr', emergency: true };

describe('alerts configuration', () => {
  it('defaults every threshold, with durations in milliseconds', () => {
    const c = parseAlertsConfig(undefined);
    assert.equal(c.learningPeriod, 7 * 24 * 3_600_000);
    assert.equal(c.breakGlass.reviewDue, 72 * 3_600_000);
    assert.equal(c.escalation.fastApproval, 15_000);
    assert.equal(c.probing.threshold, 5);
    assert.deepEqual(c.volume.minIncrease, { statements: 20, rows: 2000, patients: 15 });
    assert.deepEqual(parseAlertsConfig({ volume: { minIncrease: { rows: 5 } } }).volume.minIncrease, {
      statements: 20,
      rows: 5,
      patients: 15,
    });
  });

  it('refuses unknown keys, unknown kinds, bad durations and bad clock times', () => {
    assert.throws(() => parseAlertsConfig({ probing: { treshold: 3 } }), /treshold/);
    assert.throws(() => parseAlertsConfig({ disabled: ['no-such-kind'] }));
    assert.throws(() => parseAlertsConfig({ severities: { probing: 'urgent' } }));
    assert.throws(() => parseAlertsConfig({ breakGlass: { reviewDue: 'soon' } }), /duration/);
    assert.throws(() => parseAlertsConfig({ learningPeriod: '400d' }), /ceiling/);
    assert.throws(() => parseAlertsConfig({ businessHours: { days: ['mon'], start: '8:00', end: '18:00' } }));
    assert.throws(() => createDetectorEngine({ alerts: { timezone: 'Mars/Olympus' } }), RangeError);
  });

  it('disabled kinds are not raised, severities are overridden, ignored roles skip all but break-glass', () => {
    const feed = (alerts: unknown, grant: Grant = emergency) => {
      const engine = createDetectorEngine({ alerts });
      return [rec.create(T0, grant), rec.activate(T0, grant, [])].flatMap((record, i) =>
        engine.evaluate({ seq: i + 1, record }),
      );
    };
    assert.deepEqual(feed({ disabled: ['break-glass'] }), []);
    assert.equal(feed({ severities: { 'break-glass': 'warning' } })[0]!.severity, 'warning');
    assert.equal(feed({ ignoreRoles: ['er'] }).length, 1);
    const copy: Grant = { id: 'r-2', requester: alice, role: 'export', resource: 'ehr' };
    const exported = (alerts: unknown) => {
      const engine = createDetectorEngine({ alerts });
      const records = [
        rec.create(T0, copy),
        rec.activate(T0, copy, []),
        rec.execute(T0 + MIN, copy, 's', 'COPY visits TO STDOUT'),
      ];
      return records.flatMap((record, i) => engine.evaluate({ seq: i + 1, record }));
    };
    assert.equal(exported({}).length, 1);
    assert.deepEqual(exported({ ignoreResources: ['ehr'] }), []);
  });
});

describe('engine state', () => {
  it('is refused when of another version or shape', () => {
    assert.throws(() => restoreState('{"v":2}'), /version 1/);
    assert.throws(() => restoreState('null'), /version 1/);
    assert.throws(() => restoreState('[]'), /version 1/);
    assert.throws(() => restoreState('{'));
  });

  it('events at or before the position are ignored; time never runs backwards', () => {
    const engine = createDetectorEngine();
    assert.equal(engine.evaluate({ seq: 5, record: rec.create(T0, emergency) }).length, 0);
    assert.equal(engine.evaluate({ seq: 5, record: rec.activate(T0, emergency, []) }).length, 0);
    assert.equal(engine.lastSeq, 5);
    const raised = engine.evaluate({ seq: 6, record: rec.activate(T0 - 3_600_000, emergency, []) });
    assert.equal(raised[0]!.at, new Date(T0).toISOString());
    assert.deepEqual(engine.advance(new Date(T0 - 1)), []);
  });

  it('stays bounded: quiet probing sources and silent people are forgotten, sources are capped', () => {
    const engine = createDetectorEngine({ alerts: { forgetAfterDays: 1, probing: { maxSources: 100 } } });
    let seq = 0;
    engine.evaluate({ seq: ++seq, record: rec.create(T0, emergency) });
    // 300 sources still inside their window when the hourly sweep comes: only the cap can bound them.
    for (let i = 0; i < 300; i++) {
      const record = rec.authReject(T0 + 115 * MIN + i, `198.51.100.${i % 250}-${i}`, 'auth.x');
      engine.evaluate({ seq: ++seq, record });
    }
    engine.evaluate({ seq: seq + 1, record: rec.authReject(T0 + 2 * 3_600_000, '192.0.2.1', 'auth.x') });
    let state = JSON.parse(engine.snapshot()) as { probes: object; people: object };
    assert.ok(Object.keys(state.probes).length <= 110, 'capped at 100 (and a tenth)');
    assert.deepEqual(Object.keys(state.people), [alice]);
    engine.advance(new Date(T0 + 3 * 86_400_000));
    state = JSON.parse(engine.snapshot()) as { probes: object; people: object };
    assert.deepEqual(Object.keys(state.people), []);
    assert.deepEqual(Object.keys(state.probes), []);
  });
});
