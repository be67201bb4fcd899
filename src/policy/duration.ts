/**
 * Durations as people write them (`30m`, `2h`, `1h30m`, `45s`, `1d`) or as ISO 8601 (`PT45M`, `P1DT2H`).
 * Years, months and weeks are refused: their length depends on the calendar, and no grant should need them.
 */
import { PhigateError } from '../lib/errors.js';

/** No access grant, however approved, lasts longer than this. */
export const DURATION_CEILING_MS = 30 * 24 * 3_600_000;

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SHORT = /^(?:(\d{1,6})(ms|s|m|h|d))+$/;
const SHORT_PART = /(\d{1,6})(ms|s|m|h|d)/g;
const ISO = /^P(?:(\d{1,6})D)?(?:T(?:(\d{1,6})H)?(?:(\d{1,6})M)?(?:(\d{1,6})S)?)?$/;

function invalid(text: string): PhigateError {
  return new PhigateError(
    'invalid',
    'duration.invalid',
    `invalid duration ${JSON.stringify(text.slice(0, 40))}: use e.g. 30m, 2h, 1h30m or ISO 8601 PT45M`,
  );
}

export function parseDuration(text: string): number {
  const trimmed = text.trim();
  let ms = 0;
  if (SHORT.test(trimmed)) {
    for (const m of trimmed.matchAll(SHORT_PART)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  } else {
    const iso = ISO.exec(trimmed);
    if (!iso || trimmed === 'P' || trimmed.endsWith('T')) throw invalid(text);
    const [, d, h, m, s] = iso;
    ms =
      Number(d ?? 0) * 86_400_000 +
      Number(h ?? 0) * 3_600_000 +
      Number(m ?? 0) * 60_000 +
      Number(s ?? 0) * 1000;
  }
  if (ms <= 0) throw invalid(text);
  if (ms > DURATION_CEILING_MS) {
    throw new PhigateError(
      'invalid',
      'duration.too-long',
      `duration ${text.slice(0, 40)} is longer than phigate's ceiling of ${formatDuration(DURATION_CEILING_MS)}`,
      { limitMs: DURATION_CEILING_MS },
    );
  }
  return ms;
}

export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s';
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.join('');
}
