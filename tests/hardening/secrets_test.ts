// Secrets never travel in errors, inspection output or the fake's request
// log: the client secret, access and refresh tokens, codes and verifiers.

import assert from "node:assert/strict";
import { AuthorizationCode, SpotifyAuthError } from "../../mod.ts";
import {
  FakeAccountsServer,
  FakeClock,
  type FakeFault,
} from "../../testing/mod.ts";
import {
  CLIENT_ID,
  CLIENT_SECRET,
  type GrantRun,
  GRANTS,
  REDIRECT_URI,
  rejection,
} from "./_grants.ts";

const LEAKY_ACCESS = "LEAK-access-7f3a";
const LEAKY_REFRESH = "LEAK-refresh-9c1b";

/** Every way a value can be shown: message, stack, inspection, JSON. */
function renderings(value: unknown): string[] {
  const out = [
    String(value),
    Deno.inspect(value, { depth: Infinity, showHidden: true }),
    Deno.inspect(value, { depth: Infinity, getters: true, colors: false }),
  ];
  if (value instanceof Error) {
    out.push(value.message, value.stack ?? "");
    let cause = value.cause;
    for (let depth = 0; depth < 5 && cause !== undefined; depth++) {
      out.push(Deno.inspect(cause, { depth: Infinity }));
      cause = cause instanceof Error ? cause.cause : undefined;
    }
  }
  try {
    out.push(JSON.stringify(value) ?? "");
  } catch {
    // Not serialisable: nothing to leak through this channel.
  }
  return out;
}

function assertNoSecrets(
  where: string,
  secrets: readonly string[],
  values: readonly unknown[],
): void {
  for (const value of values) {
    for (const text of renderings(value)) {
      for (const secret of secrets) {
        assert.ok(
          !text.includes(secret),
          `${where}: a secret (${secret.slice(0, 4)}…) appears in ${
            text.slice(0, 200)
          }`,
        );
      }
    }
  }
}

function assertRunClean(where: string, run: GrantRun, error?: unknown): void {
  const secrets = [...run.secrets, LEAKY_ACCESS, LEAKY_REFRESH];
  if (run.cache.token !== undefined) {
    secrets.push(run.cache.token.accessToken);
    if (run.cache.token.refreshToken) {
      secrets.push(run.cache.token.refreshToken);
    }
  }
  assertNoSecrets(where, secrets, [
    error,
    run.provider,
    run.server.requests,
    JSON.stringify(run.server.requests),
  ]);
}

const FAILURES: readonly { label: string; fault: FakeFault }[] = [
  { label: "HTTP 500", fault: { status: 500 } },
  { label: "HTTP 429", fault: { status: 429 } },
  { label: "a dropped connection", fault: "network" },
  { label: "a hang", fault: { delayMs: 60_000 } },
  { label: "a body that is not JSON", fault: "malformed" },
  {
    label: "a token response with a negative expires_in",
    fault: {
      status: 200,
      body: {
        access_token: LEAKY_ACCESS,
        refresh_token: LEAKY_REFRESH,
        token_type: "Bearer",
        expires_in: -1,
      },
    },
  },
  {
    label: "a token response with a bad token_type",
    fault: {
      status: 200,
      body: {
        access_token: LEAKY_ACCESS,
        refresh_token: LEAKY_REFRESH,
        token_type: "mac",
        expires_in: 3600,
      },
    },
  },
  {
    label: "an OAuth error",
    fault: {
      status: 400,
      body: { error: "invalid_client", error_description: "Invalid client" },
    },
  },
  {
    label: "a 400 that is not JSON",
    fault: { status: 400, body: `<html>${LEAKY_ACCESS}</html>` },
  },
];

for (const grant of GRANTS) {
  Deno.test(`${grant.name} keeps secrets out of every error path`, async () => {
    for (const { label, fault } of FAILURES) {
      const run = await grant.prepare();
      try {
        run.server.failNext(fault, { times: Infinity });
        const error = await rejection(run.send());
        assert.ok(error instanceof SpotifyAuthError, `${label}: ${error}`);
        assertRunClean(`${grant.name}, ${label}`, run, error);
      } finally {
        await run.close();
      }
    }
  });

  Deno.test(`${grant.name} keeps secrets out of inspection after a success`, async () => {
    const run = await grant.prepare();
    try {
      const token = await run.send();
      assert.ok(token);
      assertRunClean(`${grant.name}, success`, run);
    } finally {
      await run.close();
    }
  });

  Deno.test(`${grant.name} keeps secrets out of an abort and a close`, async () => {
    const run = await grant.prepare({ timeoutMs: 60_000 });
    try {
      run.server.failNext({ delayMs: 60_000 });
      const controller = new AbortController();
      const aborted = rejection(run.send(controller.signal));
      controller.abort();
      assertRunClean(`${grant.name}, abort`, run, await aborted);
    } finally {
      await run.close();
    }
    assertRunClean(
      `${grant.name}, closed`,
      run,
      await rejection(run.provider.getAccessToken()),
    );
  });
}

Deno.test("AuthorizationCode keeps a revoked or unknown refresh token out of authorization_required and its cause", async () => {
  const server = new FakeAccountsServer({
    clients: [{
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: ["http://127.0.0.1/callback"],
    }],
  });
  const issued = server.issueTokens({ clientId: CLIENT_ID });
  server.revokeRefreshToken(issued.refreshToken!);
  for (const refreshToken of [issued.refreshToken!, "unknown-refresh-Pq2"]) {
    await using auth = new AuthorizationCode({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUri: REDIRECT_URI,
      refreshToken,
      fetch: server.fetch,
    });
    const error = await rejection(auth.getAccessToken());
    assert.ok(error instanceof SpotifyAuthError);
    assert.equal(error.code, "authorization_required");
    assert.ok(error.cause instanceof SpotifyAuthError);
    assert.equal(error.cause.code, "invalid_grant");
    assertNoSecrets("refresh", [refreshToken, CLIENT_SECRET], [
      error,
      error.cause,
      auth,
      server.requests,
    ]);
  }
});

Deno.test("AuthorizationCode keeps a wrong code and verifier out of invalid_grant", async () => {
  const server = new FakeAccountsServer({
    clients: [{
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: ["http://127.0.0.1/callback"],
    }],
  });
  for (const pkce of [false, true]) {
    await using auth = new AuthorizationCode({
      clientId: CLIENT_ID,
      clientSecret: pkce ? undefined : CLIENT_SECRET,
      redirectUri: REDIRECT_URI,
      pkce,
      fetch: server.fetch,
    });
    const code = "forged-code-Hh71";
    const codeVerifier = "v".repeat(43) + "Xk2";
    const error = await rejection(auth.exchangeCode(code, { codeVerifier }));
    assert.ok(error instanceof SpotifyAuthError);
    assert.equal(error.code, "invalid_grant");
    assertNoSecrets("exchange", [code, codeVerifier, CLIENT_SECRET], [
      error,
      auth,
      server.requests,
    ]);
  }
});

Deno.test("AuthorizationCode.parseResponseUrl() keeps the code out of its errors", () => {
  const code = "callback-code-Zx90";
  const callbacks = [
    `${REDIRECT_URI}?code=${code}&state=forged`,
    `${REDIRECT_URI}?code=${code}`,
    `${REDIRECT_URI}?code=${code}&error=access_denied&state=s`,
    `${REDIRECT_URI}?code=${code}&error=${code}%20x&state=s`,
  ];
  for (const url of callbacks) {
    const error = (() => {
      try {
        AuthorizationCode.parseResponseUrl(url, { expectedState: "s" });
      } catch (error) {
        return error;
      }
      throw new Error(`accepted ${url}`);
    })();
    assert.ok(error instanceof SpotifyAuthError);
    assertNoSecrets(url, [code], [error]);
  }
});

Deno.test("AuthorizationCode keeps its bootstrap refresh token and secret out of inspection", () => {
  const auth = new AuthorizationCode({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUri: REDIRECT_URI,
    refreshToken: "bootstrap-refresh-Wm4",
  });
  assertNoSecrets("inspect", [CLIENT_SECRET, "bootstrap-refresh-Wm4"], [auth]);
});

Deno.test("the leak check itself finds a secret hidden in an error's cause", () => {
  const error = new SpotifyAuthError("network_error", "nothing here", {
    cause: new TypeError(`connect failed for ${CLIENT_SECRET}`),
  });
  assert.throws(
    () => assertNoSecrets("self-check", [CLIENT_SECRET], [error]),
    /a secret/,
  );
});

Deno.test("AuthorizationCode with PKCE never sends a client secret, in an exchange or a refresh", async () => {
  // The only secret a PKCE provider can still see is one in the
  // environment; it must never leave the process.
  Deno.env.set("SPOTIFY_SDK_CLIENT_SECRET", CLIENT_SECRET);
  try {
    const clock = new FakeClock();
    const server = new FakeAccountsServer({
      clock,
      clients: [{
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        redirectUris: ["http://127.0.0.1/callback"],
      }],
    });
    const sent: {
      grantType: string | null;
      authorization: string | null;
      body: string;
    }[] = [];
    await using auth = new AuthorizationCode({
      clientId: CLIENT_ID,
      redirectUri: REDIRECT_URI,
      pkce: true,
      clock,
      fetch: async (input, init) => {
        const request = new Request(input, init);
        const body = await request.clone().text();
        sent.push({
          grantType: new URLSearchParams(body).get("grant_type"),
          authorization: request.headers.get("authorization"),
          body,
        });
        return server.fetch(request);
      },
    });
    const { url, state, codeVerifier } = await auth
      .createAuthorizationRequest();
    const code = auth.parseResponseUrl(await server.authorize(url), {
      expectedState: state,
    });
    await auth.exchangeCode(code, { codeVerifier });
    clock.tick(3_600_000);
    await auth.getAccessToken();
    await auth.getAccessToken({ forceRefresh: true });

    assert.deepEqual(sent.map((request) => request.grantType), [
      "authorization_code",
      "refresh_token",
      "refresh_token",
    ]);
    for (const request of sent) {
      assert.equal(request.authorization, null, request.grantType!);
      const form = new URLSearchParams(request.body);
      assert.equal(form.get("client_id"), CLIENT_ID);
      assert.equal(form.has("client_secret"), false);
      assert.ok(!request.body.includes(CLIENT_SECRET), "secret in the body");
    }
  } finally {
    Deno.env.delete("SPOTIFY_SDK_CLIENT_SECRET");
  }
});
