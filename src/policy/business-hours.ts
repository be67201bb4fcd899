/**
 * "Business hours" in the policy's time zone, computed from an instant passed in (no clock reads). The formatter
 * is built once per policy: constructing Intl formatters is the expensive part.
 */
export interface BusinessHours {
  readonly days: readonly string[];
  /** Minutes after local midnight; the window is [start, end). */
  readonly startMinute: number;
  readonly endMinute: number;
}

export type BusinessHoursCheck = (now: Date) => boolean;

const WEEKDAYS: Readonly<Record<string, string>> = {
  Mon: 'mon',
  Tue: 'tue',
  Wed: 'wed',
  Thu: 'thu',
  Fri: 'fri',
  Sat: 'sat',
  Sun: 'sun',
};

/** A weekday (`mon` … `sun`) and the minutes after local midnight. */
export interface LocalMinute {
  readonly weekday: string;
  readonly minute: number;
}

/** Reads an instant's local weekday and minute in an IANA time zone (daylight saving included). Throws RangeError
 * for an unknown time zone. Policies and the alert detectors share it. */
export function localMinuteReader(timeZone: string): (instant: Date | number) => LocalMinute {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
  return (instant) => {
    let weekday = '';
    let hour = 0;
    let minute = 0;
    for (const part of format.formatToParts(instant)) {
      if (part.type === 'weekday') weekday = WEEKDAYS[part.value] ?? '';
      else if (part.type === 'hour') hour = Number(part.value);
      else if (part.type === 'minute') minute = Number(part.value);
    }
    return { weekday, minute: hour * 60 + minute };
  };
}

/** Throws RangeError for an unknown IANA time zone. */
export function businessHoursCheck(timeZone: string, hours: BusinessHours): BusinessHoursCheck {
  const read = localMinuteReader(timeZone);
  const days = new Set(hours.days);
  return (now) => {
    const { weekday, minute } = read(now);
    return days.has(weekday) && minute >= hours.startMinute && minute < hours.endMinute;
  };
}

export function minuteOfDay(hhmm: string): number {
  const [h, m] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}
