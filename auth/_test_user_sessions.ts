// Shared by the UserSessions tests and bench: a browser with a cookie jar,
// the sign-in round trip, and a fake accounts service with two users.

import {
  FakeAccountsServer,
  type FakeAccountsServerOptions,
  FakeClock,
} from "../testing/mod.ts";
import type { KvLike } from "./kv_token_cache.ts";
import {
  type SignInResult,
  UserSessions,
  type UserSessionsOptions,
} from "./user_sessions.ts";

export const APP_URL = "http://127.0.0.1:8000";
/** Registered without a port: matches the app's port, whatever it is. */
export const REDIRECT_URI = `${APP_URL}/callback`;

/** A browser: sends its cookies, keeps what `Set-Cookie` says. */
export class Browser {
  readonly cookies = new Map<string, string>();

  /** A request from this browser, with its cookies. */
  request(url: string, init: RequestInit = {}): Request {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) {
      headers.set(
        "cookie",
        [...this.cookies].map(([name, value]) => `${name}=${value}`).join(
          "; ",
        ),
      );
    }
    return new Request(new URL(url, APP_URL), { ...init, headers });
  }

  /** Stores the cookies a response sets (`Max-Age=0` removes one). */
  receive(response: Response): Response {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const separator = pair.indexOf("=");
      const name = pair.slice(0, separator);
      if (/Max-Age=0(;|$)/.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(separator + 1));
    }
    return response;
  }
}

/** One app instance against the fake, sharing a KV and a clock. */
export interface TestApp extends AsyncDisposable {
  readonly clock: FakeClock;
  readonly server: FakeAccountsServer;
  readonly kv: Deno.Kv;
  readonly sessions: UserSessions;
  /** Another UserSessions on the same KV (another process of the app). */
  newInstance(options?: Partial<UserSessionsOptions>): UserSessions;
}

/** Options of {@linkcode startTestApp}. */
export interface TestAppOptions {
  sessions?: Partial<UserSessionsOptions>;
  server?: FakeAccountsServerOptions;
  /** Wraps the KV the sessions see (to count reads). */
  wrapKv?: (kv: Deno.Kv) => KvLike;
  /** Wraps the fake's in-process fetch (to hold a request). */
  wrapFetch?: (fetch: FakeAccountsServer["fetch"]) => typeof fetch;
}

/** Opens an in-memory KV and a fake with users alice and bob. */
export async function startTestApp(
  options: TestAppOptions = {},
): Promise<TestApp> {
  const clock = new FakeClock();
  const server = new FakeAccountsServer({
    clock,
    users: [
      { id: "alice", displayName: "Alice" },
      { id: "bob", displayName: "Bob" },
      { id: "carol", displayName: "Carol" },
    ],
    clients: [{
      clientId: "test-client-id",
      clientSecret: "test-client-secret",
      redirectUris: ["http://127.0.0.1/callback"],
    }],
    ...options.server,
  });
  const kv = await Deno.openKv(":memory:");
  const instances: UserSessions[] = [];
  const newInstance = (extra: Partial<UserSessionsOptions> = {}) => {
    const sessions = new UserSessions({
      kv: options.wrapKv?.(kv) ?? kv,
      clientId: "test-client-id",
      clientSecret: "test-client-secret",
      redirectUri: REDIRECT_URI,
      scope: "user-read-private",
      fetch: options.wrapFetch?.(server.fetch) ?? server.fetch,
      clock,
      retryDelayMs: 0,
      ...options.sessions,
      ...extra,
    });
    instances.push(sessions);
    return sessions;
  };
  const sessions = newInstance();
  return {
    clock,
    server,
    kv,
    sessions,
    newInstance,
    async [Symbol.asyncDispose]() {
      await Promise.all(instances.map((instance) => instance.close()));
      kv.close();
    },
  };
}

/** Options of {@linkcode signInThrough}. */
export interface SignInThroughOptions {
  user?: string;
  consent?: "approve" | "deny";
}

/**
 * The whole sign-in as a browser does it: `/login` → Spotify's consent →
 * `/callback` (with the browser's cookies).
 */
export async function signInThrough(
  app: Pick<TestApp, "server">,
  sessions: UserSessions,
  browser: Browser,
  options: SignInThroughOptions = {},
): Promise<SignInResult> {
  const login = browser.receive(
    await sessions.signIn(browser.request("/login")),
  );
  const callbackUrl = await app.server.authorize(
    login.headers.get("location")!,
    options,
  );
  const result = await sessions.handleCallback(browser.request(callbackUrl));
  browser.receive(result.response);
  return result;
}

/** Counts the keys under `prefix` (sessions, tokens, sign-ins). */
export async function countKeys(
  kv: Deno.Kv,
  prefix: Deno.KvKey,
): Promise<number> {
  let count = 0;
  for await (const _ of kv.list({ prefix })) count++;
  return count;
}

/** A promise with its resolve function outside. */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
} {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => resolve = r);
  return { promise, resolve };
}
