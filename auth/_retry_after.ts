// Strict reading of the HTTP `Retry-After` header (RFC 9110 §10.2.3).
// `Date.parse` is far too lenient for it: it reads "1.5" or "-5" as dates in
// 2001, which turned a malformed header into "retry right now".

const MONTHS = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];
const SHORT_DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
const LONG_DAY = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)";
const MONTH = `(${MONTHS.join("|")})`;
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})";

// Sun, 06 Nov 1994 08:49:37 GMT
const IMF_FIXDATE = new RegExp(
  `^${SHORT_DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`,
);
// Sunday, 06-Nov-94 08:49:37 GMT
const RFC_850 = new RegExp(
  `^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`,
);
// Sun Nov  6 08:49:37 1994
const ASCTIME = new RegExp(
  `^${SHORT_DAY} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`,
);

/**
 * Reads a `Retry-After` value as the milliseconds to wait from `nowMs`.
 *
 * Only the two forms HTTP allows are accepted: delta-seconds (digits only)
 * or an HTTP date (IMF-fixdate, RFC 850 or asctime). A date in the past
 * means 0.
 *
 * @param value The header value, `null` when the header is absent.
 * @param nowMs The current time in Unix milliseconds.
 * @returns Milliseconds to wait, or `undefined` when the header is absent or
 * malformed (the caller then uses its own backoff).
 */
export function parseRetryAfter(
  value: string | null,
  nowMs: number,
): number | undefined {
  if (value === null) return undefined;
  // Surrounding optional whitespace is not part of a field value.
  const text = value.replace(/^[ \t]+|[ \t]+$/g, "");
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const dateMs = parseHttpDate(text, nowMs);
  return dateMs === undefined ? undefined : Math.max(0, dateMs - nowMs);
}

function parseHttpDate(text: string, nowMs: number): number | undefined {
  let match = IMF_FIXDATE.exec(text);
  if (match !== null) {
    const [, day, month, year, hour, minute, second] = match;
    return utc(year, month, day, hour, minute, second);
  }
  match = RFC_850.exec(text);
  if (match !== null) {
    const [, day, month, year, hour, minute, second] = match;
    return utc(
      String(fullYear(Number(year), nowMs)),
      month,
      day,
      hour,
      minute,
      second,
    );
  }
  match = ASCTIME.exec(text);
  if (match !== null) {
    const [, month, day, hour, minute, second, year] = match;
    return utc(year, month, day.trim(), hour, minute, second);
  }
  return undefined;
}

// RFC 9110: a two-digit year that would be more than 50 years in the future
// is the most recent past year with those last two digits.
function fullYear(twoDigits: number, nowMs: number): number {
  const thisYear = new Date(nowMs).getUTCFullYear();
  let year = thisYear - (thisYear % 100) + twoDigits;
  if (year > thisYear + 50) year -= 100;
  return year;
}

function utc(
  year: string,
  month: string,
  day: string,
  hour: string,
  minute: string,
  second: string,
): number | undefined {
  const y = Number(year);
  const m = MONTHS.indexOf(month);
  const d = Number(day);
  const h = Number(hour);
  const min = Number(minute);
  const s = Number(second);
  // A leap second (:60) is allowed by the grammar; anything past it is not.
  if (h > 23 || min > 59 || s > 60 || d < 1) return undefined;
  const ms = Date.UTC(y, m, d, h, min, Math.min(s, 59));
  // Date.UTC rolls "31 Feb" over into March: refuse days the month lacks.
  if (new Date(ms).getUTCDate() !== d) return undefined;
  return s === 60 ? ms + 1000 : ms;
}
