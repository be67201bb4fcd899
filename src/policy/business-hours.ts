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

/** Throws RangeError for an unknown IANA time zone. */
export function businessHoursCheck(timeZone: string, hours: BusinessHours): BusinessHoursCheck {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
  const days = new Set(hours.days);
  return (now) => {
    let weekday = '';
    let hour = 0;
    let minute = 0;
    for (const part of format.formatToParts(now)) {
      if (part.type === 'weekday') weekday = WEEKDAYS[part.value] ?? '';
      else if (part.type === 'hour') hour = Number(part.value);
      else if (part.type === 'minute') minute = Number(part.value);
    }
    const minuteOfDay = hour * 60 + minute;
    return days.has(weekday) && minuteOfDay >= hours.startMinute && minuteOfDay < hours.endMinute;
  };
}

export function minuteOfDay(hhmm: string): number {
  const [h, m] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}
