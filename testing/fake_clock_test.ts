import assert from "node:assert/strict";
import { FakeClock } from "./mod.ts";

Deno.test("FakeClock starts at 2026-01-01T00:00:00Z by default", () => {
  assert.equal(new FakeClock().now(), Date.UTC(2026, 0, 1));
});

Deno.test("FakeClock starts at the given time", () => {
  assert.equal(new FakeClock(42).now(), 42);
});

Deno.test("FakeClock.tick() moves forward and returns the new time", () => {
  const clock = new FakeClock(1_000);
  assert.equal(clock.tick(500), 1_500);
  assert.equal(clock.tick(0), 1_500);
  assert.equal(clock.now(), 1_500);
});

Deno.test("FakeClock.set() moves to any time, backwards too", () => {
  const clock = new FakeClock(1_000);
  assert.equal(clock.set(10), 10);
  assert.equal(clock.now(), 10);
});

Deno.test("FakeClock rejects non-finite times and negative ticks with RangeError", () => {
  assert.throws(() => new FakeClock(NaN), RangeError);
  assert.throws(() => new FakeClock(Infinity), RangeError);
  const clock = new FakeClock(0);
  assert.throws(() => clock.tick(Infinity), RangeError);
  assert.throws(() => clock.tick(NaN), RangeError);
  assert.throws(() => clock.tick(-1), RangeError);
  assert.throws(() => clock.set(-Infinity), RangeError);
  assert.equal(clock.now(), 0);
});
