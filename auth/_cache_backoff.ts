/**
 * Waiting between attempts to take a shared lock or to retry a busy store.
 * Private to the persistent caches.
 *
 * @module
 */

import { sleep } from "./_timing.ts";
import { checkNumberOption } from "./provider_options.ts";

/**
 * Returns how long to wait before attempt `attempt` (0-based): exponential
 * from `minMs`, capped at `maxMs`, with "equal jitter" (half fixed, half
 * random) so that waiters started together drift apart but never spin.
 */
export function backoffDelay(
  attempt: number,
  minMs: number,
  maxMs: number,
): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/**
 * Runs `step` every `intervalMs` until the returned `stop()` is awaited;
 * `stop()` also waits for a step in flight, so no operation outlives the
 * caller (Deno's op sanitizer stays quiet). Errors of a step are ignored:
 * the next step tries again.
 */
export function repeatEvery(
  intervalMs: number,
  step: () => Promise<void>,
): () => Promise<void> {
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const schedule = () => {
    timer = setTimeout(() => {
      running = step().catch(() => {}).then(() => {
        if (!stopped) schedule();
      });
    }, intervalMs);
  };
  schedule();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}

/** Validates an optional duration option of a cache (`options.<name>`). */
export function positiveDuration(
  owner: string,
  value: number | undefined,
  fallback: number,
  name: string,
): number {
  checkNumberOption(owner, `options.${name}`, value, {
    unit: "milliseconds",
    min: 0,
    exclusive: true,
  });
  return value ?? fallback;
}

/** Backoff bounds between attempts to take a held lock, every cache alike. */
export const LOCK_BACKOFF_MIN_MS = 5;
export const LOCK_BACKOFF_MAX_MS = 100;

/** How {@linkcode waitForLock} waits. */
export interface LockWait {
  /** Give up after this long, with `timedOut(waitedMs)`. */
  timeoutMs: number;
  /** Stops the wait at once with `signal.reason`. */
  signal?: AbortSignal;
  /** The error to throw once `timeoutMs` has passed. */
  timedOut(waitedMs: number): Error;
  /** Gives back a lock taken just as `signal` aborted (nobody will use it). */
  release(): Promise<void>;
}

/**
 * Calls `tryTake` until it takes the lock (resolves `true`), waiting with
 * backoff and jitter between attempts, bounded by `timeoutMs` and `signal`.
 * Errors from `tryTake` reject at once: only a held lock is waited for.
 */
export async function waitForLock(
  tryTake: () => Promise<boolean>,
  wait: LockWait,
): Promise<void> {
  const startedAt = Date.now();
  for (let attempt = 0;; attempt++) {
    wait.signal?.throwIfAborted();
    if (await tryTake()) {
      if (wait.signal?.aborted) {
        await wait.release();
        throw wait.signal.reason;
      }
      return;
    }
    const waited = Date.now() - startedAt;
    if (waited >= wait.timeoutMs) throw wait.timedOut(waited);
    await sleep(
      Math.min(
        backoffDelay(attempt, LOCK_BACKOFF_MIN_MS, LOCK_BACKOFF_MAX_MS),
        wait.timeoutMs - waited,
      ),
      wait.signal,
    );
  }
}

/**
 * Runs `fn` while holding a lease already taken: renews it every third of
 * `leaseMs` (a failed renewal does not stop `fn`), and releases it once `fn`
 * settles, whatever its outcome.
 */
export async function holdLease<T>(
  leaseMs: number,
  lease: { renew(): Promise<void>; release(): Promise<void> },
  fn: () => Promise<T>,
): Promise<T> {
  const stopRenewing = repeatEvery(
    Math.max(1, Math.floor(leaseMs / 3)),
    () => lease.renew(),
  );
  try {
    return await fn();
  } finally {
    await stopRenewing();
    // The lease expires by itself: a failed release must not hide fn's result.
    await lease.release().catch(() => {});
  }
}
