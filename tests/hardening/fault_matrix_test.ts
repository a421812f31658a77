// Every injected fault through every provider and grant: the right outcome
// (recovery after retries, or the right error code), in bounded time, with
// nothing leaked (Deno's sanitizers stay on) and the cache left alone on
// failure.

import assert from "node:assert/strict";
import { SpotifyAuthError } from "../../mod.ts";
import type { FakeFault } from "../../testing/mod.ts";
import { type GrantRun, GRANTS, rejection } from "./_grants.ts";

// Generous: every case needs a few milliseconds; only a real wait (a sleep
// on Retry-After, a missed timeout) would come near.
const TIME_LIMIT_MS = 2_000;
// maxRetries in the grants' setup is 2: three attempts in all.
const ATTEMPTS = 3;

interface RetryableFault {
  label: string;
  fault: FakeFault;
  code: string;
  status?: number;
}

const RETRYABLE: readonly RetryableFault[] = [
  ...[500, 502, 503, 504].map((status) => ({
    label: `HTTP ${status}`,
    fault: { status },
    code: "http_error",
    status,
  })),
  {
    label: "HTTP 429 with Retry-After: 0",
    fault: { status: 429, headers: { "retry-after": "0" } },
    code: "http_error",
    status: 429,
  },
  {
    label: "HTTP 429 without Retry-After",
    fault: { status: 429 },
    code: "http_error",
    status: 429,
  },
  { label: "a dropped connection", fault: "network", code: "network_error" },
  {
    label: "a hang past timeoutMs",
    fault: { delayMs: 60_000 },
    code: "timeout",
  },
];

const VALID = {
  access_token: "hardening-access",
  token_type: "Bearer",
  expires_in: 3600,
  refresh_token: "hardening-refresh",
  scope: "user-read-private",
};

const INVALID: readonly { label: string; fault: FakeFault }[] = [
  { label: "a body that is not JSON", fault: "malformed" },
  { label: "an empty body", fault: { status: 200, body: "" } },
  { label: "a JSON array", fault: { status: 200, body: [VALID] } },
  { label: "JSON null", fault: { status: 200, body: "null" } },
  { label: "a JSON string", fault: { status: 200, body: '"token"' } },
  {
    label: "no access_token",
    fault: { status: 200, body: { ...VALID, access_token: undefined } },
  },
  {
    label: "an empty access_token",
    fault: { status: 200, body: { ...VALID, access_token: "" } },
  },
  {
    label: "a numeric access_token",
    fault: { status: 200, body: { ...VALID, access_token: 1234 } },
  },
  {
    label: "an object access_token",
    fault: { status: 200, body: { ...VALID, access_token: { a: 1 } } },
  },
  {
    label: "token_type mac",
    fault: { status: 200, body: { ...VALID, token_type: "mac" } },
  },
  {
    label: "a numeric token_type",
    fault: { status: 200, body: { ...VALID, token_type: 1 } },
  },
  {
    label: "no expires_in",
    fault: { status: 200, body: { ...VALID, expires_in: undefined } },
  },
  {
    label: "a negative expires_in",
    fault: { status: 200, body: { ...VALID, expires_in: -1 } },
  },
  {
    label: "a negative expires_in string",
    fault: { status: 200, body: { ...VALID, expires_in: "-3600" } },
  },
  {
    label: "expires_in NaN (a bare NaN is not JSON)",
    fault: {
      status: 200,
      body: '{"access_token":"a","token_type":"Bearer","expires_in":NaN}',
    },
  },
  {
    label: 'expires_in "NaN"',
    fault: { status: 200, body: { ...VALID, expires_in: "NaN" } },
  },
  {
    label: "a huge expires_in",
    fault: { status: 200, body: { ...VALID, expires_in: 1e300 } },
  },
  {
    label: "expires_in 1e999 (Infinity once parsed)",
    fault: {
      status: 200,
      body: '{"access_token":"a","token_type":"Bearer","expires_in":1e999}',
    },
  },
  {
    label: 'expires_in "Infinity"',
    fault: { status: 200, body: { ...VALID, expires_in: "Infinity" } },
  },
  {
    label: "a boolean expires_in",
    fault: { status: 200, body: { ...VALID, expires_in: true } },
  },
  {
    label: "an array expires_in",
    fault: { status: 200, body: { ...VALID, expires_in: [3600] } },
  },
  {
    label: "a numeric refresh_token",
    fault: { status: 200, body: { ...VALID, refresh_token: 7 } },
  },
  {
    label: "an empty refresh_token",
    fault: { status: 200, body: { ...VALID, refresh_token: "" } },
  },
  {
    label: "an array scope",
    fault: { status: 200, body: { ...VALID, scope: ["user-read-private"] } },
  },
];

function assertCacheUnchanged(run: GrantRun): void {
  assert.equal(run.cache.history.length, run.cacheBefore.history);
  assert.equal(run.cache.token, run.cacheBefore.token);
}

function assertQuick(startedAt: number): void {
  const elapsed = performance.now() - startedAt;
  assert.ok(elapsed < TIME_LIMIT_MS, `took ${elapsed.toFixed(0)} ms`);
}

for (const grant of GRANTS) {
  for (const { label, fault, code, status } of RETRYABLE) {
    Deno.test(`${grant.name} recovers after one ${label}`, async () => {
      const run = await grant.prepare();
      try {
        run.server.failNext(fault);
        const startedAt = performance.now();
        const token = await run.send();
        assertQuick(startedAt);
        assert.ok(typeof token === "string" && token !== "");
        assert.equal(run.tokenRequests(), 2);
        assert.equal(run.cache.history.length, run.cacheBefore.history + 1);
        assert.equal(run.cache.token?.accessToken, token);
        const grants = run.server.requests.slice(-2).map((r) => r.grantType);
        assert.deepEqual(grants, [grant.grantType, grant.grantType]);
      } finally {
        await run.close();
      }
    });

    Deno.test(`${grant.name} fails with ${code} when ${label} persists`, async () => {
      const run = await grant.prepare();
      try {
        run.server.failNext(fault, { times: Infinity });
        const startedAt = performance.now();
        const error = await rejection(run.send());
        assertQuick(startedAt);
        assert.ok(error instanceof SpotifyAuthError, String(error));
        assert.equal(error.code, code);
        assert.equal(error.status, status);
        assert.equal(run.tokenRequests(), ATTEMPTS);
        assertCacheUnchanged(run);
      } finally {
        await run.close();
      }
    });
  }

  for (const { label, fault } of INVALID) {
    Deno.test(`${grant.name} rejects ${label} as invalid_response without retrying`, async () => {
      const run = await grant.prepare();
      try {
        run.server.failNext(fault);
        const startedAt = performance.now();
        const error = await rejection(run.send());
        assertQuick(startedAt);
        assert.ok(error instanceof SpotifyAuthError, String(error));
        assert.equal(error.code, "invalid_response");
        assert.equal(run.tokenRequests(), 1);
        assertCacheUnchanged(run);
      } finally {
        await run.close();
      }
    });
  }

  Deno.test(`${grant.name} reports an OAuth error body by its code, without retrying`, async () => {
    const run = await grant.prepare();
    try {
      run.server.failNext({
        status: 400,
        body: { error: "invalid_client", error_description: "Invalid client" },
      });
      const error = await rejection(run.send());
      assert.ok(error instanceof SpotifyAuthError, String(error));
      assert.equal(error.code, "invalid_client");
      assert.equal(error.status, 400);
      assert.equal(error.description, "Invalid client");
      assert.equal(run.tokenRequests(), 1);
      assertCacheUnchanged(run);
    } finally {
      await run.close();
    }
  });

  Deno.test(`${grant.name} does not wait out a Retry-After over a minute`, async () => {
    const run = await grant.prepare();
    try {
      run.server.failNext({ status: 429, headers: { "retry-after": "3600" } });
      const startedAt = performance.now();
      const error = await rejection(run.send());
      assertQuick(startedAt);
      assert.ok(error instanceof SpotifyAuthError, String(error));
      assert.equal(error.code, "http_error");
      assert.equal(error.status, 429);
      assert.equal(run.tokenRequests(), 1);
      assertCacheUnchanged(run);
    } finally {
      await run.close();
    }
  });

  Deno.test(`${grant.name} waits out a 30 s Retry-After until the caller aborts`, async () => {
    const run = await grant.prepare();
    try {
      run.server.failNext({ status: 429, headers: { "retry-after": "30" } });
      const controller = new AbortController();
      const reason = new Error("caller gave up");
      const startedAt = performance.now();
      const pending = rejection(run.send(controller.signal));
      // Abort once the 429 has been answered: the provider is then sleeping.
      while (run.server.requests.at(-1)?.status !== 429) {
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      controller.abort(reason);
      assert.equal(await pending, reason);
      assertQuick(startedAt);
      assert.equal(run.tokenRequests(), 1);
      assertCacheUnchanged(run);
    } finally {
      await run.close();
    }
  });
}
