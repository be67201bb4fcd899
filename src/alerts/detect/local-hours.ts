/**
 * Business hours for the detectors: is an instant inside them (with a grace either side), in the policy's IANA time
 * zone, read with Intl (daylight saving included). Events arrive in time order, so the answer for the current minute
 * is kept: one Intl call per minute of log time rather than one per event.
 */
import { localMinuteReader, type LocalMinute } from '../../policy/business-hours.js';

export interface HoursSpec {
  readonly timeZone: string;
  readonly days: readonly string[];
  /** Minutes after local midnight, [start, end). */
  readonly startMinute: number;
  readonly endMinute: number;
  readonly graceMinutes: number;
}

export interface LocalHours {
  /** Inside business hours, widened by the grace. */
  inHours(ms: number): boolean;
  /** `ddd HH:MM` in the policy's zone: evidence that says when without saying more. */
  localTime(ms: number): string;
}

export { minuteOfDay } from '../../policy/business-hours.js';

/** Throws RangeError for an unknown time zone, as Intl does. */
export function createLocalHours(spec: HoursSpec): LocalHours {
  const read = localMinuteReader(spec.timeZone);
  const days = new Set(spec.days);
  const from = spec.startMinute - spec.graceMinutes;
  const to = spec.endMinute + spec.graceMinutes;
  let cachedMinute = Number.NaN;
  let cached: LocalMinute = { weekday: '', minute: 0 };
  const local = (ms: number) => {
    const minute = Math.floor(ms / 60_000);
    if (minute !== cachedMinute) {
      cachedMinute = minute;
      cached = read(ms);
    }
    return cached;
  };
  return {
    inHours(ms) {
      const { weekday, minute } = local(ms);
      return days.has(weekday) && minute >= from && minute < to;
    },
    localTime(ms) {
      const { weekday, minute } = local(ms);
      const hh = String(Math.floor(minute / 60)).padStart(2, '0');
      const mm = String(minute % 60).padStart(2, '0');
      return `${weekday} ${hh}:${mm}`;
    },
  };
}
