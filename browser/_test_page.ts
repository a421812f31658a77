// The script of the page the Chromium end-to-end tests drive, bundled with
// `deno bundle --platform=browser`. It does what an app's pages do, one
// action per function, and reports outcomes as plain data the test can read.

import { AuthorizationCode } from "../auth/authorization_code.ts";
import { createAuthorizedFetch } from "../auth/authorized_fetch.ts";
import { SpotifyAuthError } from "../auth/errors.ts";
import type { TokenInfo } from "../auth/token.ts";
import {
  completeBrowserLogin,
  type LockManagerLike,
  startBrowserLogin,
  type StorageLike,
  WebStorageTokenCache,
} from "./mod.ts";

/** What the test tells the page about the fake accounts service. */
export interface PageConfig {
  accountsUrl: string;
  clientId: string;
  redirectUri: string;
}

/** An outcome: a value, or the `code` of the `SpotifyAuthError` thrown. */
export type Outcome<T> = { value: T } | { error: string };

interface PageGlobals {
  location: { href: string };
  sessionStorage: StorageLike & {
    length: number;
    key(i: number): string | null;
  };
  localStorage: StorageLike;
  navigator: {
    locks: LockManagerLike & {
      query(): Promise<{ held?: unknown[]; pending?: unknown[] }>;
    };
  };
  spotifySdk: PageApi;
}

const page = globalThis as unknown as PageGlobals;
const TOKEN_KEY = "spotify-sdk:token";
const LOGIN_PREFIX = "spotify-sdk:login:";

function newAuth(config: PageConfig): AuthorizationCode {
  return new AuthorizationCode({
    clientId: config.clientId,
    redirectUri: config.redirectUri,
    accountsUrl: config.accountsUrl,
    pkce: true,
    scope: "user-read-private",
    retryDelayMs: 0,
    tokenCache: new WebStorageTokenCache(),
  });
}

async function outcome<T>(work: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { value: await work() };
  } catch (error) {
    if (error instanceof SpotifyAuthError) return { error: error.code };
    throw error;
  }
}

let releaseHeldLock: (() => void) | undefined;

const pageApi = {
  /** The "Log in" button: navigates to the fake's /authorize. */
  login(config: PageConfig): void {
    void startBrowserLogin(newAuth(config));
  },
  /** What the redirect page does on load. */
  complete(
    config: PageConfig,
  ): Promise<Outcome<TokenInfo | null> & { href: string }> {
    return outcome(async () =>
      (await completeBrowserLogin(newAuth(config))) ?? null
    ).then((result) => ({ ...result, href: page.location.href }));
  },
  /** React StrictMode: the effect runs twice, with two providers. */
  completeTwice(
    config: PageConfig,
  ): Promise<Outcome<(TokenInfo | undefined)[]>> {
    return outcome(() =>
      Promise.all([
        completeBrowserLogin(newAuth(config)),
        completeBrowserLogin(newAuth(config)),
      ])
    );
  },
  accessToken(config: PageConfig): Promise<Outcome<string>> {
    return outcome(async () => {
      await using auth = newAuth(config);
      return await auth.getAccessToken();
    });
  },
  /** The profile page: `/v1/me` through `createAuthorizedFetch`. */
  displayName(config: PageConfig): Promise<Outcome<string>> {
    return outcome(async () => {
      await using auth = newAuth(config);
      const api = createAuthorizedFetch(auth);
      const me = new URL("/v1/me", config.accountsUrl);
      const response = await api(me);
      return (await response.json()).display_name as string;
    });
  },
  signOut(config: PageConfig): Promise<Outcome<null>> {
    return outcome(async () => {
      await using auth = newAuth(config);
      await auth.signOut();
      return null;
    });
  },
  storedToken(): string | null {
    return page.localStorage.getItem(TOKEN_KEY);
  },
  /** Makes the stored token expired, as if the tab came back later. */
  expireStoredToken(): void {
    const record = JSON.parse(page.localStorage.getItem(TOKEN_KEY)!);
    page.localStorage.setItem(
      TOKEN_KEY,
      JSON.stringify({ ...record, expires_at: 0 }),
    );
  },
  loginEntries(): string[] {
    const keys: string[] = [];
    for (let i = 0; i < page.sessionStorage.length; i++) {
      const key = page.sessionStorage.key(i);
      if (key?.startsWith(LOGIN_PREFIX)) keys.push(key);
    }
    return keys;
  },
  /** Moves every pending sign-in's creation time `ms` into the past. */
  ageLoginEntries(ms: number): void {
    for (const key of pageApi.loginEntries()) {
      const entry = JSON.parse(page.sessionStorage.getItem(key)!);
      page.sessionStorage.setItem(
        key,
        JSON.stringify({ ...entry, created_at: entry.created_at - ms }),
      );
    }
  },
  /** Takes the cache's Web Lock and keeps it until released (or the tab closes). */
  async holdTokenLock(): Promise<void> {
    const held = Promise.withResolvers<void>();
    void new WebStorageTokenCache().lock(() => {
      held.resolve();
      return new Promise<void>((resolve) => {
        releaseHeldLock = resolve;
      });
    });
    await held.promise;
  },
  releaseTokenLock(): void {
    releaseHeldLock?.();
  },
  /** How many lock requests wait (across every tab of the origin). */
  async pendingLocks(): Promise<number> {
    return (await page.navigator.locks.query()).pending?.length ?? 0;
  },
};

/** The functions the tests call on `globalThis.spotifySdk`. */
export type PageApi = typeof pageApi;

page.spotifySdk = pageApi;
