import assert from "node:assert/strict";
import { parseRetryAfter } from "./_retry_after.ts";

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

Deno.test("parseRetryAfter() reads delta-seconds as milliseconds", () => {
  assert.equal(parseRetryAfter("0", NOW), 0);
  assert.equal(parseRetryAfter("7", NOW), 7_000);
  assert.equal(parseRetryAfter("120", NOW), 120_000);
});

Deno.test("parseRetryAfter() ignores surrounding spaces and tabs", () => {
  assert.equal(parseRetryAfter(" 3\t", NOW), 3_000);
});

Deno.test("parseRetryAfter() returns undefined when the header is absent", () => {
  assert.equal(parseRetryAfter(null, NOW), undefined);
});

for (
  const value of [
    "",
    " ",
    "-1",
    "-5",
    "1.5",
    "1e1",
    "+5",
    "0x10",
    "5s",
    "1 2",
    "Infinity",
    "NaN",
    "2026-01-15T12:00:10Z",
    "15 Jan 2026 12:00:10 GMT",
    "Thu, 15 Jan 2026 12:00:10 UTC",
    "Thu, 15 Jan 2026 12:00:10 +0000",
    "Thu, 15 Jan 2026 25:00:10 GMT",
    "Thu, 31 Feb 2026 12:00:10 GMT",
    "Thu, 00 Jan 2026 12:00:10 GMT",
    "thu, 15 jan 2026 12:00:10 gmt",
  ]
) {
  Deno.test(`parseRetryAfter() rejects ${JSON.stringify(value)}`, () => {
    assert.equal(parseRetryAfter(value, NOW), undefined);
  });
}

Deno.test("parseRetryAfter() reads an IMF-fixdate relative to now", () => {
  assert.equal(
    parseRetryAfter("Thu, 15 Jan 2026 12:00:10 GMT", NOW),
    10_000,
  );
});

Deno.test("parseRetryAfter() reads an RFC 850 date relative to now", () => {
  assert.equal(
    parseRetryAfter("Thursday, 15-Jan-26 12:01:00 GMT", NOW),
    60_000,
  );
});

Deno.test("parseRetryAfter() reads an asctime date relative to now", () => {
  assert.equal(parseRetryAfter("Thu Jan 15 12:00:05 2026", NOW), 5_000);
  assert.equal(
    parseRetryAfter("Fri Jan  2 12:00:00 2026", Date.UTC(2026, 0, 2, 11, 59)),
    60_000,
  );
});

Deno.test("parseRetryAfter() reads a date in the past as 0", () => {
  assert.equal(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", NOW), 0);
});

Deno.test("parseRetryAfter() puts a two-digit year at most 50 years ahead", () => {
  // From 2026, "75" is 2075 (49 years ahead) but "77" is 1977 (in the past).
  assert.equal(
    parseRetryAfter("Sunday, 15-Jan-75 12:00:00 GMT", NOW),
    Date.UTC(2075, 0, 15, 12) - NOW,
  );
  assert.equal(parseRetryAfter("Saturday, 15-Jan-77 12:00:00 GMT", NOW), 0);
});
