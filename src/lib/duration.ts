/**
 * Durations as people write them (`30m`, `2h`, `1h30m`, `45s`, `1d`) or as ISO 8601 (`PT45M`, `P1DT2H`).
 * Years, months and weeks are refused: their length depends on the calendar, and no grant should need them.
 *
 * A hand-written scanner rather than a regular expression: requesters send this text, so it must cost at most one
 * pass over a bounded input (ATTACKS 39), and units must come largest first, each once (`30m1h` or `1h1h` is a typo
 * or a trick, never a duration anyone meant).
 */
import { PhigateError } from './errors.js';

/** No access grant, however approved, lasts longer than this. */
export const DURATION_CEILING_MS = 30 * 24 * 3_600_000;

/** Longer text is refused before it is read: no real duration needs more. */
const MAX_TEXT_LENGTH = 40;
/** Digits per component: enough for 999999s, short enough that no sum can lose precision. */
const MAX_DIGITS = 6;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Short-form units, largest first; a component's unit must come after the previous one's in this list. */
const SHORT_UNITS = [
  ['d', DAY],
  ['h', HOUR],
  ['m', MINUTE],
  ['s', SECOND],
  ['ms', 1],
] as const;

/** ISO 8601 designators phigate accepts, in the order the standard requires, with whether they follow `T`. */
const ISO_UNITS = [
  ['D', DAY, false],
  ['H', HOUR, true],
  ['M', MINUTE, true],
  ['S', SECOND, true],
] as const;

function invalid(text: string, why: string): PhigateError {
  return new PhigateError(
    'invalid',
    'duration.invalid',
    `invalid duration ${JSON.stringify(text.slice(0, MAX_TEXT_LENGTH))}: ${why}; use e.g. 30m, 2h, 1h30m or ISO 8601 PT45M`,
  );
}

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/** Reads up to MAX_DIGITS digits at `at`; returns [value, next position], or undefined if there is no digit. */
function readNumber(text: string, at: number): [number, number] | undefined {
  let end = at;
  while (end < text.length && isDigit(text.charCodeAt(end))) end++;
  if (end === at || end - at > MAX_DIGITS) return undefined;
  return [Number(text.slice(at, end)), end];
}

function parseShort(text: string): number {
  let ms = 0;
  let at = 0;
  let nextUnit = 0;
  while (at < text.length) {
    const number = readNumber(text, at);
    if (!number) throw invalid(text, 'expected a number of at most 6 digits followed by d, h, m, s or ms');
    const [value, afterNumber] = number;
    // Lower case only: `1M` reads as a month to some people and a minute to others.
    const unit = text.startsWith('ms', afterNumber) ? 'ms' : text.charAt(afterNumber);
    const rank = SHORT_UNITS.findIndex(([u]) => u === unit);
    if (rank < 0) throw invalid(text, 'each number needs a unit: d, h, m, s or ms');
    if (rank < nextUnit) throw invalid(text, 'units must come largest first, each once');
    ms += value * SHORT_UNITS[rank]![1];
    nextUnit = rank + 1;
    at = afterNumber + unit.length;
  }
  return ms;
}

function parseIso(text: string): number {
  let ms = 0;
  let at = 1; // after "P"
  let nextUnit = 0;
  let inTime = false;
  let timeComponents = 0;
  let components = 0;
  while (at < text.length) {
    if (text[at] === 'T' && !inTime) {
      inTime = true;
      at++;
      continue;
    }
    const number = readNumber(text, at);
    if (!number) throw invalid(text, 'expected whole numbers of at most 6 digits in the ISO 8601 form');
    const [value, afterNumber] = number;
    const designator = text[afterNumber];
    if (!inTime && (designator === 'Y' || designator === 'M' || designator === 'W')) {
      throw invalid(text, 'years, months and weeks vary in length and are not accepted');
    }
    const rank = ISO_UNITS.findIndex(([d, , time]) => d === designator && time === inTime);
    if (rank < 0 || rank < nextUnit)
      throw invalid(text, 'not an ISO 8601 duration of days, hours, minutes, seconds');
    ms += value * ISO_UNITS[rank]![1];
    nextUnit = rank + 1;
    components++;
    if (inTime) timeComponents++;
    at = afterNumber + 1;
  }
  if (components === 0 || (inTime && timeComponents === 0))
    throw invalid(text, 'the ISO 8601 form names no length');
  return ms;
}

/** Milliseconds in `text`; throws PhigateError `duration.invalid` or `duration.too-long` (naming the ceiling). */
export function parseDuration(text: string): number {
  if (text.length > MAX_TEXT_LENGTH) throw invalid(text, `longer than ${MAX_TEXT_LENGTH} characters`);
  const trimmed = text.trim();
  if (trimmed.length === 0) throw invalid(text, 'empty');
  if (trimmed.startsWith('-')) throw invalid(text, 'a duration must be positive');
  const ms = trimmed.startsWith('P') ? parseIso(trimmed) : parseShort(trimmed);
  if (ms <= 0) throw invalid(text, 'a duration must be positive');
  if (ms > DURATION_CEILING_MS) {
    throw new PhigateError(
      'invalid',
      'duration.too-long',
      `duration ${JSON.stringify(trimmed)} is longer than phigate's ceiling of ${formatDuration(DURATION_CEILING_MS)}`,
      { limitMs: DURATION_CEILING_MS },
    );
  }
  return ms;
}

/** `5400000` → `1h30m`; the inverse of parseDuration's short form (whole milliseconds). */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '0s';
  const parts: string[] = [];
  let rest = Math.floor(ms);
  for (const [unit, size] of SHORT_UNITS) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.join('');
}
