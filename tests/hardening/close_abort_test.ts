// close() and abort signals while a token request is in flight: pending
// callers hear promptly, nothing is left running (Deno's sanitizers check
// for leaked timers, ops and sockets), the cache keeps what it had.

import assert from "node:assert/strict";
import { AuthorizationCode, ClientCredentials } from "../../mod.ts";
import { FakeAccountsServer, FakeTokenCache } from "../../testing/mod.ts";
import {
  CLIENT_ID,
  CLIENT_SECRET,
  type GrantRun,
  GRANTS,
  inBackground,
  REDIRECT_URI,
  rejection,
  type Transport,
} from "./_grants.ts";

const PROMPT_MS = 500;
const CALLERS = 1_000;

function assertCacheUnchanged(run: GrantRun): void {
  assert.equal(run.cache.history.length, run.cacheBefore.history);
  assert.equal(run.cache.token, run.cacheBefore.token);
}

/** Lets the in-process request reach the fake (and its fault). */
async function untilRequested(run: GrantRun, count = 1): Promise<void> {
  while (run.tokenRequests() < count) {
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

// getAccessToken() is the refreshing path: client credentials and refresh.
const REFRESHING = GRANTS.filter((grant) =>
  grant.grantType !== "authorization_code"
);
const EXCHANGING = GRANTS.filter((grant) =>
  grant.grantType === "authorization_code"
);

for (const grant of REFRESHING) {
  Deno.test(`${grant.name}.close() during a hung request rejects ${CALLERS} waiting callers promptly`, async () => {
    const run = await grant.prepare({ timeoutMs: 60_000 });
    run.server.failNext({ delayMs: 60_000 });
    const pending = Array.from(
      { length: CALLERS },
      () => rejection(run.send()),
    );
    await untilRequested(run);
    const startedAt = performance.now();
    await run.close();
    const errors = await Promise.all(pending);
    assert.ok(performance.now() - startedAt < PROMPT_MS);
    for (const error of errors) {
      assert.ok(error instanceof TypeError, String(error));
    }
    assert.match(String(errors[0]), /closed/);
    assert.equal(run.tokenRequests(), 1);
    assertCacheUnchanged(run);
    // And it stays closed.
    assert.ok(await rejection(run.send()) instanceof TypeError);
    assert.equal(run.tokenRequests(), 1);
  });

  Deno.test(`${grant.name}.close() during a Retry-After wait rejects promptly`, async () => {
    const run = await grant.prepare();
    run.server.failNext({ status: 429, headers: { "retry-after": "30" } });
    const pending = rejection(run.send());
    while (run.server.requests.at(-1)?.status !== 429) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const startedAt = performance.now();
    await run.close();
    assert.ok(await pending instanceof TypeError);
    assert.ok(performance.now() - startedAt < PROMPT_MS);
    assert.equal(run.tokenRequests(), 1);
    assertCacheUnchanged(run);
  });

  Deno.test(`${grant.name} keeps a request going while one of several callers aborts`, async () => {
    const run = await grant.prepare({ timeoutMs: 60_000 });
    try {
      run.server.failNext({ delayMs: 20 });
      const controller = new AbortController();
      const leaving = rejection(run.send(controller.signal));
      const staying = [run.send(), run.send(new AbortController().signal)]
        .map(inBackground);
      controller.abort(new Error("bored"));
      assert.equal(((await leaving) as Error).message, "bored");
      const tokens = await Promise.all(staying);
      assert.equal(tokens[0], tokens[1]);
      assert.equal(run.tokenRequests(), 1);
      assert.equal(run.cache.history.length, run.cacheBefore.history + 1);
    } finally {
      await run.close();
    }
  });

  Deno.test(`${grant.name} stops the request when every caller aborts, and starts afresh after`, async () => {
    const run = await grant.prepare({ timeoutMs: 60_000 });
    try {
      run.server.failNext({ delayMs: 60_000 });
      const controllers = [new AbortController(), new AbortController()];
      const pending = controllers.map((c) => rejection(run.send(c.signal)));
      await untilRequested(run);
      const startedAt = performance.now();
      for (const controller of controllers) controller.abort();
      for (const error of await Promise.all(pending)) {
        assert.equal((error as Error).name, "AbortError");
      }
      assert.ok(performance.now() - startedAt < PROMPT_MS);
      assertCacheUnchanged(run);
      // The abandoned request was answered by nobody (status 0).
      assert.equal(run.server.requests.at(-1)?.status, 0);
      // Once the abandoned request has unwound, a new call starts afresh.
      await new Promise((resolve) => setTimeout(resolve, 0));
      assert.ok(await run.send());
      assert.equal(run.tokenRequests(), 2);
    } finally {
      await run.close();
    }
  });

  // BUG (reported to the lead): the abandoned flight stays joinable until
  // its promise chain unwinds, so a call made right after every caller
  // aborted joins it and rejects with another caller's abort reason.
  Deno.test({
    name:
      `${grant.name} starts a new request for a call made right after every caller aborted`,

    async fn() {
      const run = await grant.prepare({ timeoutMs: 60_000 });
      try {
        run.server.failNext({ delayMs: 60_000 });
        const controller = new AbortController();
        const aborted = rejection(run.send(controller.signal));
        await untilRequested(run);
        controller.abort(new Error("caller gave up"));
        await aborted;
        const token = await run.send();
        assert.ok(token);
        assert.equal(run.tokenRequests(), 2);
      } finally {
        await run.close();
      }
    },
  });
}

for (const grant of EXCHANGING) {
  Deno.test(`${grant.name} rejects promptly when its signal aborts during a hung exchange`, async () => {
    const run = await grant.prepare({ timeoutMs: 60_000 });
    try {
      run.server.failNext({ delayMs: 60_000 });
      const controller = new AbortController();
      const pending = rejection(run.send(controller.signal));
      await untilRequested(run);
      const startedAt = performance.now();
      controller.abort();
      assert.equal(((await pending) as Error).name, "AbortError");
      assert.ok(performance.now() - startedAt < PROMPT_MS);
      assertCacheUnchanged(run);
    } finally {
      await run.close();
    }
  });

  // close() must release "pending requests" (API.md, Providers), but an
  // exchangeCode() in flight is not tied to the provider's lifecycle: it
  // runs on until its own timeout. See the report to the lead.
  Deno.test({
    name: `${grant.name}.close() during a hung exchange rejects it promptly`,

    async fn() {
      const run = await grant.prepare({ timeoutMs: 60_000 });
      run.server.failNext({ delayMs: 60_000 });
      const pending = rejection(run.send());
      await untilRequested(run);
      const startedAt = performance.now();
      await run.close();
      assert.ok(await pending instanceof TypeError);
      assert.ok(performance.now() - startedAt < PROMPT_MS);
      assertCacheUnchanged(run);
    },
  });
}

/**
 * Forwards to the fake until `deaf` is set; from then on every request hangs
 * and ignores its abort signal, as a careless injected fetch would.
 */
function deafTransport(): { transport: Transport; deafen(): void } {
  let deaf = false;
  return {
    transport: (serverFetch) => (input, init) =>
      deaf ? new Promise<Response>(() => {}) : serverFetch(input, init),
    deafen: () => void (deaf = true),
  };
}

for (const grant of GRANTS) {
  Deno.test(`${grant.name} times out a fetch that ignores its signal`, async () => {
    const { transport, deafen } = deafTransport();
    const run = await grant.prepare(
      { timeoutMs: 25, maxRetries: 1 },
      transport,
    );
    try {
      deafen();
      const startedAt = performance.now();
      const error = await rejection(run.send());
      assert.ok(performance.now() - startedAt < PROMPT_MS * 4);
      assert.equal((error as { code?: string }).code, "timeout", String(error));
      assertCacheUnchanged(run);
    } finally {
      await run.close();
    }
  });

  Deno.test(`${grant.name}.close() settles a request whose fetch ignores its signal`, async () => {
    const { transport, deafen } = deafTransport();
    const run = await grant.prepare({ timeoutMs: 60_000 }, transport);
    deafen();
    const pending = rejection(run.send());
    // Let the request start.
    await new Promise((resolve) => setTimeout(resolve, 0));
    const startedAt = performance.now();
    await run.close();
    assert.ok(await pending instanceof TypeError);
    assert.ok(performance.now() - startedAt < PROMPT_MS);
    assertCacheUnchanged(run);
  });
}

Deno.test("ClientCredentials.close() during a hung request over loopback HTTP leaks no socket", async () => {
  await using server = new FakeAccountsServer({
    clients: [{
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: ["http://127.0.0.1/callback"],
    }],
  });
  const accountsUrl = await server.listen();
  const cache = new FakeTokenCache();
  const auth = new ClientCredentials({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    accountsUrl,
    tokenCache: cache,
    timeoutMs: 60_000,
  });
  server.failNext({ delayMs: 60_000 });
  const pending = Array.from(
    { length: 100 },
    () => rejection(auth.getAccessToken()),
  );
  while (server.tokenRequestCount === 0) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const startedAt = performance.now();
  await auth.close();
  for (const error of await Promise.all(pending)) {
    assert.ok(error instanceof TypeError, String(error));
  }
  assert.ok(performance.now() - startedAt < PROMPT_MS);
  assert.equal(cache.sets, 0);
  await server.close();
  assert.ok(performance.now() - startedAt < PROMPT_MS * 2);
});

Deno.test("AuthorizationCode.close() during a hung refresh over loopback HTTP leaks no socket", async () => {
  await using server = new FakeAccountsServer({
    clients: [{
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: ["http://127.0.0.1/callback"],
    }],
  });
  const accountsUrl = await server.listen();
  const { refreshToken } = server.issueTokens({ clientId: CLIENT_ID });
  const auth = new AuthorizationCode({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUri: REDIRECT_URI,
    refreshToken,
    accountsUrl,
    timeoutMs: 60_000,
  });
  server.failNext({ delayMs: 60_000 });
  const pending = rejection(auth.getAccessToken());
  while (server.tokenRequestCount === 0) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await auth.close();
  assert.ok(await pending instanceof TypeError);
});
