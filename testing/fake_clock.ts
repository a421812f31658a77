/**
 * {@linkcode FakeClock}: a clock that only moves when a test says so.
 *
 * @module
 */

import type { Clock } from "../auth/token.ts";

/** The default start of a {@linkcode FakeClock}: 2026-01-01T00:00:00Z. */
const DEFAULT_START_MS = Date.UTC(2026, 0, 1);

function checkTime(name: string, ms: number): void {
  if (typeof ms !== "number" || !Number.isFinite(ms)) {
    throw new RangeError(
      `${name} must be a finite number of milliseconds, got ${ms}`,
    );
  }
}

/**
 * A {@linkcode Clock} that stands still until `tick()` or `set()` moves it,
 * so tests can drive token expiry without sleeping. Share one instance
 * between the providers and the `FakeAccountsServer`.
 *
 * @example Expire a token
 * ```ts
 * import { FakeAccountsServer, FakeClock } from "@spotify-sdk/auth/testing";
 *
 * const clock = new FakeClock();
 * const server = new FakeAccountsServer({ clock });
 * const { accessToken, expiresAt } = server.issueTokens();
 * clock.tick(3_600_000);
 * console.log(clock.now() / 1000 >= expiresAt); // true
 * const response = await server.fetch("https://api.spotify.com/v1/me", {
 *   headers: { authorization: `Bearer ${accessToken}` },
 * });
 * console.log(response.status); // 401
 * await response.body?.cancel();
 * ```
 */
export class FakeClock implements Clock {
  #nowMs: number;

  /**
   * Creates a clock showing `startMs`.
   *
   * @param startMs Start time in milliseconds since the Unix epoch; defaults
   * to `Date.UTC(2026, 0, 1)` (2026-01-01T00:00:00Z), fixed so that runs are
   * reproducible.
   * @throws {RangeError} If `startMs` is not a finite number.
   *
   * @example
   * ```ts
   * import { FakeClock } from "@spotify-sdk/auth/testing";
   *
   * const clock = new FakeClock(Date.UTC(2030, 5, 1));
   * console.log(new Date(clock.now()).toISOString()); // "2030-06-01T00:00:00.000Z"
   * ```
   */
  constructor(startMs: number = DEFAULT_START_MS) {
    checkTime("startMs", startMs);
    this.#nowMs = startMs;
  }

  /**
   * Returns the current time.
   *
   * @returns Milliseconds since the Unix epoch, like `Date.now()`.
   *
   * @example
   * ```ts
   * import { FakeClock } from "@spotify-sdk/auth/testing";
   *
   * console.log(new FakeClock(1_000).now()); // 1000
   * ```
   */
  now(): number {
    return this.#nowMs;
  }

  /**
   * Moves the clock forward.
   *
   * @param ms How far, in milliseconds (0 or more).
   * @returns The new time.
   * @throws {RangeError} If `ms` is negative or not finite (use `set()` to
   * go back in time).
   *
   * @example
   * ```ts
   * import { FakeClock } from "@spotify-sdk/auth/testing";
   *
   * const clock = new FakeClock(0);
   * console.log(clock.tick(1_500)); // 1500
   * ```
   */
  tick(ms: number): number {
    checkTime("tick(ms)", ms);
    if (ms < 0) {
      throw new RangeError(
        `tick(ms) cannot go back in time (got ${ms}): use set(ms) instead`,
      );
    }
    this.#nowMs += ms;
    return this.#nowMs;
  }

  /**
   * Sets the clock to a given time, forward or backward.
   *
   * @param ms Milliseconds since the Unix epoch.
   * @returns The new time.
   * @throws {RangeError} If `ms` is not finite.
   *
   * @example
   * ```ts
   * import { FakeClock } from "@spotify-sdk/auth/testing";
   *
   * const clock = new FakeClock();
   * clock.set(Date.UTC(2027, 0, 1));
   * ```
   */
  set(ms: number): number {
    checkTime("set(ms)", ms);
    this.#nowMs = ms;
    return this.#nowMs;
  }
}
