// What the benchmarks share: providers with warm caches of each kind, the
// competitors' set-up, and a counting token endpoint.

import { ClientCredentials, type TokenCache } from "../mod.ts";
import { FileTokenCache } from "../auth/file_token_cache.ts";
import { KvTokenCache } from "../auth/kv_token_cache.ts";
import { FakeAccountsServer } from "../testing/mod.ts";

export const CLIENT_ID = "test-client-id";
export const CLIENT_SECRET = "test-client-secret";
export const STORED_TOKEN = "bench-token";

/** A token endpoint that answers at once and counts what it is asked. */
export function countingTokenFetch(): {
  fetch: typeof fetch;
  requests: () => number;
} {
  let requests = 0;
  return {
    fetch: () => {
      requests++;
      return Promise.resolve(
        Response.json({
          access_token: STORED_TOKEN,
          token_type: "Bearer",
          expires_in: 3600,
        }),
      );
    },
    requests: () => requests,
  };
}

export interface WarmProviders {
  memory: ClientCredentials;
  file: ClientCredentials;
  kv: ClientCredentials;
  dispose(): Promise<void>;
}

/** One provider per cache kind, each holding a fresh token already. */
export async function warmProviders(): Promise<WarmProviders> {
  const dir = await Deno.makeTempDir({ prefix: "spotify_auth_bench_" });
  const kv = await Deno.openKv(`${dir}/kv.sqlite`);
  const make = (tokenCache?: TokenCache) =>
    new ClientCredentials({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      fetch: countingTokenFetch().fetch,
      tokenCache,
    });
  const providers = {
    memory: make(),
    file: make(new FileTokenCache({ path: `${dir}/token.json` })),
    kv: make(new KvTokenCache({ kv, key: ["bench", "token"] })),
  };
  for (const provider of Object.values(providers)) {
    await provider.getAccessToken();
  }
  return {
    ...providers,
    async dispose() {
      for (const provider of Object.values(providers)) await provider.close();
      kv.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/**
 * 10 000 concurrent cold calls through the official `@spotify/web-api-ts-sdk`
 * with a counting fetch. Its client credentials strategy calls the global
 * `fetch` for tokens (not `SdkOptions.fetch`), so the global is swapped for
 * the duration. Returns the token requests made.
 */
export async function officialSdkColdRequests(calls: number): Promise<number> {
  // Bench-only competitor: kept out of deno.json so the module itself
  // stays free of dependencies.
  // deno-lint-ignore no-import-prefix
  const { SpotifyApi } = await import("npm:@spotify/web-api-ts-sdk@1.2.0");
  const counter = countingTokenFetch();
  const original = globalThis.fetch;
  globalThis.fetch = counter.fetch;
  try {
    const sdk = SpotifyApi.withClientCredentials(CLIENT_ID, CLIENT_SECRET, [], {
      fetch: counter.fetch,
    });
    await Promise.all(
      Array.from({ length: calls }, () => sdk.authenticate()),
    );
    return counter.requests();
  } finally {
    globalThis.fetch = original;
  }
}

/** Our cold concurrency: how many token requests `calls` callers cause. */
export async function ourColdRequests(calls: number): Promise<number> {
  const counter = countingTokenFetch();
  await using auth = new ClientCredentials({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    fetch: counter.fetch,
  });
  await Promise.all(Array.from({ length: calls }, () => auth.getAccessToken()));
  return counter.requests();
}

/** The client credentials request as our provider sends it. */
export function clientCredentialsInit(): RequestInit {
  return {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
      authorization: `Basic ${btoa(`${CLIENT_ID}:${CLIENT_SECRET}`)}`,
    },
    body: "grant_type=client_credentials",
  };
}

/** `oauth2-mock-server` answering on our token path; returns its base URL. */
export async function startOauth2MockServer(): Promise<{
  url: string;
  stop(): Promise<void>;
}> {
  // Bench-only competitor, like the official SDK above.
  // deno-lint-ignore no-import-prefix
  const { OAuth2Server } = await import("npm:oauth2-mock-server@9.3.0");
  const server = new OAuth2Server(undefined, undefined, {
    endpoints: { token: "/api/token" },
  });
  await server.issuer.keys.generate("RS256");
  await server.start(0, "127.0.0.1");
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stop: () => server.stop(),
  };
}

/** Our fake over loopback HTTP. */
export async function startFakeServer(): Promise<{
  url: string;
  stop(): Promise<void>;
}> {
  const server = new FakeAccountsServer();
  const url = await server.listen();
  return { url, stop: () => server.close() };
}

/**
 * Client credentials grants per second through our provider
 * (`forceRefresh`), `workers` providers in parallel, against `accountsUrl`.
 */
export async function grantsPerSecond(
  accountsUrl: string,
  durationMs: number,
  workers = 8,
): Promise<number> {
  let grants = 0;
  const deadline = performance.now() + durationMs;
  const startedAt = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      await using auth = new ClientCredentials({
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        accountsUrl,
        maxRetries: 0,
      });
      while (performance.now() < deadline) {
        await auth.getAccessToken({ forceRefresh: true });
        grants++;
      }
    }),
  );
  return grants / ((performance.now() - startedAt) / 1000);
}
