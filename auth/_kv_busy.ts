// Several processes on one local SQLite KV file see transient "database is
// locked" errors under contention: retried here (bounded, with backoff) for
// KvTokenCache and UserSessions alike, instead of surfacing them.

import { backoffDelay } from "./_cache_backoff.ts";
import { sleep } from "./_timing.ts";

/** How many times an operation is tried before the error is reported. */
export const BUSY_ATTEMPTS = 12;
const BUSY_BACKOFF_MIN_MS = 5;
const BUSY_BACKOFF_MAX_MS = 200;

/** Whether `error` is SQLite's transient lock contention. */
export function isBusyError(error: unknown): boolean {
  return error instanceof Error &&
    /database (table )?is locked|SQLITE_BUSY/i.test(error.message);
}

/**
 * Runs a KV operation, retrying while the store is busy. Other errors reject
 * at once; a store still busy after the last attempt rejects with
 * `stillBusy(error)` when given, else with its own error.
 */
export async function retryBusy<T>(
  operation: () => Promise<T>,
  stillBusy?: (error: unknown) => Error,
): Promise<T> {
  for (let attempt = 0;; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (!isBusyError(error)) throw error;
      if (attempt + 1 >= BUSY_ATTEMPTS) throw stillBusy?.(error) ?? error;
      await sleep(
        backoffDelay(attempt, BUSY_BACKOFF_MIN_MS, BUSY_BACKOFF_MAX_MS),
      );
    }
  }
}
