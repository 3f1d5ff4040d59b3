/** Billing periods (days and months) in a configured IANA time zone, computed with Intl only. */

export type PeriodUnit = 'day' | 'month';

export interface Period {
  /** `YYYY-MM-DD` for a day, `YYYY-MM` for a month, in the time zone. */
  key: string;
  /** The UTC instant of local midnight that opens the period. */
  start: Date;
  /** The UTC instant of local midnight that closes it (the next period's start). */
  end: Date;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, format);
  }
  return format;
}

/** True when the runtime knows this IANA zone name. */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

export interface LocalTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export function localTime(at: Date, timeZone: string): LocalTime {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(at)) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return {
    year: parts.year!,
    month: parts.month!,
    day: parts.day!,
    hour: parts.hour!,
    minute: parts.minute!,
    second: parts.second!,
  };
}

/** Milliseconds the zone is ahead of UTC at `at`. */
function offsetAt(at: number, timeZone: string): number {
  const local = localTime(new Date(at), timeZone);
  const asUtc = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second);
  return asUtc - Math.floor(at / 1000) * 1000;
}

/**
 * The UTC instant the calendar date starts in the zone: its local midnight, or where a daylight-saving change skips
 * midnight, its first instant (month and day may overflow: month 13 is January next year).
 */
function localMidnight(year: number, month: number, day: number, timeZone: string): Date {
  const wall = Date.UTC(year, month - 1, day);
  // The offset before and after a change near midnight give two candidates; they agree on every other day.
  const first = wall - offsetAt(wall, timeZone);
  const second = wall - offsetAt(first, timeZone);
  // The day starts at the earlier one that is already on that date: west of UTC, where the offset grows by an hour
  // at a skipped midnight, the second pass lands an hour early, on the day before (Santiago, 2024-09-08).
  const date = new Date(wall);
  const onDate = (at: number) => {
    const local = localTime(new Date(at), timeZone);
    return (
      local.year === date.getUTCFullYear() &&
      local.month === date.getUTCMonth() + 1 &&
      local.day === date.getUTCDate()
    );
  };
  const [earlier, later] = first <= second ? [first, second] : [second, first];
  return new Date(onDate(earlier) ? earlier : later);
}

const pad = (value: number) => String(value).padStart(2, '0');

/** The calendar date of `at` in `timeZone`, as `YYYY-MM-DD` (what a receipt is dated and numbered by). */
export function localDate(at: Date, timeZone: string): string {
  const local = localTime(at, timeZone);
  return `${local.year}-${pad(local.month)}-${pad(local.day)}`;
}

/**
 * The period last computed per unit and zone. Working one out takes nine Intl calls (about 30–50 µs), and a request's
 * quotas ask for today's and this month's: nearly every call falls in the period of the call before.
 */
const lastPeriods = { day: new Map<string, Period>(), month: new Map<string, Period>() };

/** The day or month containing `at` in `timeZone`. The result is shared: do not change its dates. */
export function periodOf(at: Date, unit: PeriodUnit, timeZone: string): Period {
  const time = at.getTime();
  const last = lastPeriods[unit].get(timeZone);
  if (last && time >= last.start.getTime() && time < last.end.getTime()) return last;
  const period = computePeriod(at, unit, timeZone);
  lastPeriods[unit].set(timeZone, period);
  return period;
}

function computePeriod(at: Date, unit: PeriodUnit, timeZone: string): Period {
  const local = localTime(at, timeZone);
  if (unit === 'day') {
    return {
      key: `${local.year}-${pad(local.month)}-${pad(local.day)}`,
      start: localMidnight(local.year, local.month, local.day, timeZone),
      end: localMidnight(local.year, local.month, local.day + 1, timeZone),
    };
  }
  return {
    key: `${local.year}-${pad(local.month)}`,
    start: localMidnight(local.year, local.month, 1, timeZone),
    end: localMidnight(local.year, local.month + 1, 1, timeZone),
  };
}
