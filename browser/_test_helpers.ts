// Shared by the browser module's unit tests: Web Storage and Web Locks
// stand-ins, so the browser code runs in Deno.

import { AuthorizationCode } from "../auth/authorization_code.ts";
import type { TokenCache } from "../auth/token.ts";
import { FakeAccountsServer } from "../testing/fake_accounts_server.ts";
import type { LockManagerLike, StorageLike } from "./mod.ts";

export const CLIENT_ID = "spa-client-id";
export const REDIRECT_URI = "http://127.0.0.1:5173/callback";

/** A public (PKCE) client whose redirect URI matches any loopback port. */
export function newServer(): FakeAccountsServer {
  return new FakeAccountsServer({
    clients: [{
      clientId: CLIENT_ID,
      redirectUris: ["http://127.0.0.1/callback"],
    }],
  });
}

/** A PKCE provider talking to `server` in-process. */
export function newAuth(
  server: FakeAccountsServer,
  tokenCache?: TokenCache,
): AuthorizationCode {
  return new AuthorizationCode({
    clientId: CLIENT_ID,
    redirectUri: REDIRECT_URI,
    pkce: true,
    scope: "user-read-private",
    fetch: server.fetch,
    retryDelayMs: 0,
    ...(tokenCache === undefined ? {} : { tokenCache }),
  });
}

/** Web Storage over a `Map`, with `length` and `key()` like the real one. */
export class MemoryStorage implements StorageLike {
  readonly items: Map<string, string> = new Map();

  get length(): number {
    return this.items.size;
  }

  key(index: number): string | null {
    return [...this.items.keys()][index] ?? null;
  }

  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }

  setItem(key: string, value: string): void {
    this.items.set(key, String(value));
  }

  removeItem(key: string): void {
    this.items.delete(key);
  }
}

/**
 * Web Locks for one process: exclusive locks by name, granted in request
 * order, that record every request's name and options.
 */
export class MemoryLocks implements LockManagerLike {
  readonly requests: { name: string; signal?: AbortSignal }[] = [];
  readonly #tails = new Map<string, Promise<unknown>>();

  request<T>(
    name: string,
    callback: (lock: unknown) => Promise<T>,
  ): Promise<T>;
  request<T>(
    name: string,
    options: { signal?: AbortSignal },
    callback: (lock: unknown) => Promise<T>,
  ): Promise<T>;
  request<T>(
    name: string,
    optionsOrCallback:
      | { signal?: AbortSignal }
      | ((lock: unknown) => Promise<T>),
    maybeCallback?: (lock: unknown) => Promise<T>,
  ): Promise<T> {
    const callback = typeof optionsOrCallback === "function"
      ? optionsOrCallback
      : maybeCallback!;
    const signal = typeof optionsOrCallback === "function"
      ? undefined
      : optionsOrCallback.signal;
    this.requests.push({ name, ...(signal === undefined ? {} : { signal }) });
    const previous = this.#tails.get(name) ?? Promise.resolve();
    const result = previous.then(() => callback({ name }));
    this.#tails.set(name, result.catch(() => {}));
    return result;
  }
}

/** The pending sign-in entries (`spotify-sdk:login:*`) in `storage`. */
export function loginEntries(storage: MemoryStorage): string[] {
  return [...storage.items.keys()].filter((key) =>
    key.startsWith("spotify-sdk:login:")
  );
}
