/**
 * Times as a person reads them in a terminal: local wall-clock time and a countdown ("17:28, in 9 min"). `--json`
 * keeps the API's ISO 8601 instead. The clock and the time zone are injected so that renderings are testable.
 */

export interface TimeContext {
  /** The present, for countdowns. */
  readonly now: Date;
  /** IANA zone; the system's when omitted. */
  readonly timeZone?: string | undefined;
}

export function systemTimes(): TimeContext {
  return { now: new Date() };
}

/** "in 9 min", "3 h 5 min ago", "in 2 d 4 h", "now": two units at most, never seconds beyond the first minute. */
export function relative(at: Date, now: Date): string {
  const ms = at.getTime() - now.getTime();
  const abs = Math.abs(ms);
  if (abs < 60_000) return ms >= 0 ? 'in under a minute' : 'just now';
  const totalMinutes = Math.round(abs / 60_000);
  const days = Math.floor(totalMinutes / 1440);
  const hours = Math.floor((totalMinutes % 1440) / 60);
  const mins = totalMinutes % 60;
  const parts =
    days > 0
      ? [`${days} d`, ...(hours > 0 ? [`${hours} h`] : [])]
      : hours > 0
        ? [`${hours} h`, ...(mins > 0 ? [`${mins} min`] : [])]
        : [`${mins} min`];
  return ms >= 0 ? `in ${parts.join(' ')}` : `${parts.join(' ')} ago`;
}

function parts(at: Date, timeZone: string | undefined): Record<string, string> {
  const fmt = new Intl.DateTimeFormat('en-GB', {
    ...(timeZone === undefined ? {} : { timeZone }),
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
  });
  return Object.fromEntries(fmt.formatToParts(at).map((p) => [p.type, p.value]));
}

/** Local wall-clock time: "17:28" today, "2026-12-03 09:00" another day, with the zone's short name. */
export function localTime(at: Date, ctx: TimeContext): string {
  const p = parts(at, ctx.timeZone);
  const today = parts(ctx.now, ctx.timeZone);
  const sameDay = p['year'] === today['year'] && p['month'] === today['month'] && p['day'] === today['day'];
  const clock = `${p['hour']}:${p['minute']}`;
  return `${sameDay ? '' : `${p['year']}-${p['month']}-${p['day']} `}${clock} ${p['timeZoneName']}`;
}

/** "17:28 CET, in 9 min"; the ISO text itself when it is not a time (an older server's, say). */
export function when(iso: string, ctx: TimeContext): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  return `${localTime(at, ctx)}, ${relative(at, ctx.now)}`;
}
