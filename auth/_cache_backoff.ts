/**
 * Waiting between attempts to take a shared lock or to retry a busy store.
 * Private to the persistent caches.
 *
 * @module
 */

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

/** Validates an optional duration option of a cache. */
export function positiveDuration(
  owner: string,
  value: number | undefined,
  fallback: number,
  name: string,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(
      `${owner}: options.${name} must be a positive number of milliseconds.`,
    );
  }
  return value;
}
