/**
 * Waits `ms` milliseconds, or rejects with `signal.reason` as soon as the
 * signal aborts (clearing the timer, so nothing outlives the caller).
 */
export function sleep(
  ms: number,
  signal?: AbortSignal | null,
): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * A backoff with full jitter: a random wait between 0 and `baseMs * 2 **
 * attempt`, that ceiling capped at `capMs`.
 */
export function fullJitter(
  baseMs: number,
  attempt: number,
  capMs: number,
  random: () => number = Math.random,
): number {
  return random() * Math.min(capMs, baseMs * 2 ** attempt);
}
