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

export interface Grant {
  readonly name: string;
  readonly grantType: string;
  prepare(options?: ProviderOptions): Promise<GrantRun>;
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
): ProviderOptions {
  return {
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    fetch: server.fetch,
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
  prepare(options = {}) {
    const clock = new FakeClock();
    const server = newServer(clock);
    const cache = new FakeTokenCache();
    const provider = new ClientCredentials(
      common(server, clock, cache, options),
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
    async prepare(options = {}) {
      const clock = new FakeClock();
      const server = newServer(clock);
      const cache = new FakeTokenCache();
      const provider = new AuthorizationCode({
        ...common(server, clock, cache, options),
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
    async prepare(options = {}) {
      const clock = new FakeClock();
      const server = newServer(clock);
      const cache = new FakeTokenCache();
      const provider = new AuthorizationCode({
        ...common(server, clock, cache, options),
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

/** Runs `promise`, returning what it rejected with (fails if it resolved). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection, but the promise resolved");
}
