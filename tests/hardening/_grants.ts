// One way to drive each grant against the fake accounts service, so the
// hardening tests can run the same faults through every provider and grant.

import {
  AuthorizationCode,
  ClientCredentials,
  type ProviderOptions,
  type TokenInfo,
} from "../../mod.ts";
import {
  FakeAccountsServer,
  FakeClock,
  FakeTokenCache,
} from "../../testing/mod.ts";

export const CLIENT_ID = "hardening-client-id";
export const CLIENT_SECRET = "hardening-client-secret-Zq81xW";
export const REDIRECT_URI = "http://127.0.0.1:8080/callback";

/** A grant ready to be sent once: everything before the request is done. */
export interface GrantRun {
  readonly server: FakeAccountsServer;
  readonly cache: FakeTokenCache;
  readonly clock: FakeClock;
  /** Sends the grant; resolves with the access token. */
  send(signal?: AbortSignal): Promise<string>;
  /** What must not leak: secret, tokens, code, verifier known so far. */
  readonly secrets: string[];
  /** Token requests made since the grant was prepared. */
  tokenRequests(): number;
  /** The cache's token and history length once the grant was prepared. */
  readonly cacheBefore: { token: TokenInfo | undefined; history: number };
  readonly provider: ClientCredentials | AuthorizationCode;
  close(): Promise<void>;
}

/** Wraps the fake's fetch, e.g. to make it ignore abort signals. */
export type Transport = (serverFetch: typeof fetch) => typeof fetch;

export interface Grant {
  readonly name: string;
  readonly grantType: string;
  prepare(options?: ProviderOptions, transport?: Transport): Promise<GrantRun>;
}

function observe(
  server: FakeAccountsServer,
  cache: FakeTokenCache,
): Pick<GrantRun, "tokenRequests" | "cacheBefore"> {
  const requestsBefore = server.tokenRequestCount;
  return {
    tokenRequests: () => server.tokenRequestCount - requestsBefore,
    cacheBefore: { token: cache.token, history: cache.history.length },
  };
}

function newServer(clock: FakeClock): FakeAccountsServer {
  return new FakeAccountsServer({
    clock,
    clients: [{
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: ["http://127.0.0.1/callback"],
    }],
  });
}

function common(
  server: FakeAccountsServer,
  clock: FakeClock,
  cache: FakeTokenCache,
  options: ProviderOptions,
  transport: Transport = (serverFetch) => serverFetch,
): ProviderOptions {
  return {
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    fetch: transport(server.fetch),
    clock,
    tokenCache: cache,
    retryDelayMs: 0,
    maxRetries: 2,
    timeoutMs: 25,
    ...options,
  };
}

export const clientCredentialsGrant: Grant = {
  name: "ClientCredentials (client_credentials)",
  grantType: "client_credentials",
  prepare(options = {}, transport) {
    const clock = new FakeClock();
    const server = newServer(clock);
    const cache = new FakeTokenCache();
    const provider = new ClientCredentials(
      common(server, clock, cache, options, transport),
    );
    return Promise.resolve({
      ...observe(server, cache),
      server,
      cache,
      clock,
      provider,
      secrets: [CLIENT_SECRET],
      send: (signal) => provider.getAccessToken({ signal }),
      close: () => provider.close(),
    });
  },
};

function exchangeGrant(pkce: boolean): Grant {
  return {
    name: `AuthorizationCode${pkce ? " PKCE" : ""} (authorization_code)`,
    grantType: "authorization_code",
    async prepare(options = {}, transport) {
      const clock = new FakeClock();
      const server = newServer(clock);
      const cache = new FakeTokenCache();
      const provider = new AuthorizationCode({
        ...common(server, clock, cache, options, transport),
        // A public client has no secret (0.2: pkce with one is a TypeError).
        clientSecret: pkce ? undefined : CLIENT_SECRET,
        redirectUri: REDIRECT_URI,
        scope: "user-read-private",
        pkce,
      });
      const request = await provider.createAuthorizationRequest();
      const callback = await server.authorize(request.url);
      const code = provider.parseResponseUrl(callback, {
        expectedState: request.state,
      });
      const secrets = [CLIENT_SECRET, code];
      if (request.codeVerifier !== undefined) {
        secrets.push(request.codeVerifier);
      }
      return {
        ...observe(server, cache),
        server,
        cache,
        clock,
        provider,
        secrets,
        send: async (signal) =>
          (await provider.exchangeCode(code, {
            signal,
            codeVerifier: request.codeVerifier,
          })).accessToken,
        close: () => provider.close(),
      };
    },
  };
}

function refreshGrant(pkce: boolean): Grant {
  return {
    name: `AuthorizationCode${pkce ? " PKCE" : ""} (refresh_token)`,
    grantType: "refresh_token",
    async prepare(options = {}, transport) {
      const clock = new FakeClock();
      const server = newServer(clock);
      const cache = new FakeTokenCache();
      const provider = new AuthorizationCode({
        ...common(server, clock, cache, options, transport),
        // A public client has no secret (0.2: pkce with one is a TypeError).
        clientSecret: pkce ? undefined : CLIENT_SECRET,
        redirectUri: REDIRECT_URI,
        scope: "user-read-private",
        pkce,
      });
      let secrets: string[];
      if (pkce) {
        // PKCE refresh tokens come only from a PKCE login.
        const request = await provider.createAuthorizationRequest();
        const callback = await server.authorize(request.url);
        const code = provider.parseResponseUrl(callback, {
          expectedState: request.state,
        });
        const token = await provider.exchangeCode(code, {
          codeVerifier: request.codeVerifier,
        });
        secrets = [
          code,
          request.codeVerifier!,
          token.accessToken,
          token.refreshToken!,
        ];
      } else {
        const token = server.issueTokens({
          clientId: CLIENT_ID,
          scope: "user-read-private",
        });
        cache.token = token;
        secrets = [CLIENT_SECRET, token.accessToken, token.refreshToken!];
      }
      // Let the token expire.
      clock.tick(3_600_000);
      return {
        ...observe(server, cache),
        server,
        cache,
        clock,
        provider,
        secrets,
        send: (signal) => provider.getAccessToken({ signal }),
        close: () => provider.close(),
      };
    },
  };
}

export const GRANTS: readonly Grant[] = [
  clientCredentialsGrant,
  exchangeGrant(false),
  exchangeGrant(true),
  refreshGrant(false),
  refreshGrant(true),
];

/**
 * Starts watching `promise` at once and resolves with what it rejected
 * with. If it resolved instead, the returned promise rejects — at the test's
 * own `await`: it is marked handled, so a bug that resolves a promise the
 * test is not awaiting yet fails that one test, instead of surfacing as an
 * uncaught error that cancels the rest of the file.
 */
export function rejection(promise: Promise<unknown>): Promise<unknown> {
  const outcome = promise.then(
    () => {
      // Not the value: it may be a token.
      throw new Error("expected a rejection, but the promise resolved");
    },
    (error: unknown) => error,
  );
  outcome.catch(() => {});
  return outcome;
}

/**
 * Marks a promise the test awaits later as handled, so that its failure is
 * reported by that `await` (or not at all if the test already failed) and
 * never as an uncaught error cancelling the rest of the file.
 */
export function inBackground<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}
