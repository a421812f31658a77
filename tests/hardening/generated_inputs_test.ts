// Seeded random inputs where the outside world hands the library data:
// callback URLs, token endpoint answers, the token file. A failure message
// names the seed and iteration so the case can be replayed.

import assert from "node:assert/strict";
import {
  AuthorizationCode,
  ClientCredentials,
  SpotifyAuthError,
  type TokenInfo,
} from "../../mod.ts";
import { FileTokenCache } from "../../auth/file_token_cache.ts";
import { FakeClock } from "../../testing/mod.ts";
import { Prng } from "../_prng.ts";

const SEED = 0x5f07_1f7;

// ---------------------------------------------------------------------------
// Callback URLs

const STATE = "expected-state-Qw3";
const URL_KEYS = [
  "state",
  "code",
  "error",
  "error_description",
  "State",
  "code[]",
  "",
  "x",
];

function randomValue(prng: Prng): string {
  switch (prng.int(0, 9)) {
    case 0:
      return STATE;
    case 1:
      return encodeURIComponent(STATE);
    case 2:
      return "";
    case 3:
      return "access_denied";
    case 4:
      // Broken percent-encoding and encoded delimiters.
      return prng.pick(["%", "%zz", "%E0%A4%A", "%26state%3D", "%00", "%ff"]);
    case 5:
      return encodeURIComponent(prng.unicode(20).toWellFormed());
    case 6:
      return prng.unicode(12);
    case 7:
      return "a".repeat(prng.int(1, 5000));
    default:
      return prng.string(24);
  }
}

function randomCallbackUrl(prng: Prng): string {
  if (prng.chance(0.05)) return prng.unicode(40);
  const base = prng.pick([
    "http://127.0.0.1:8080/callback",
    "https://example.com/cb",
    "http://[::1]/x",
    "myapp://callback",
    "http://127.0.0.1:8080",
    "file:///tmp/x",
    "/relative/path",
    "",
    "http://user:pass@127.0.0.1:99999/",
  ]);
  const pairs: string[] = [];
  const count = prng.int(0, 6);
  for (let i = 0; i < count; i++) {
    const key = prng.chance(0.8)
      ? prng.pick(URL_KEYS)
      : encodeURIComponent(prng.unicode(6).toWellFormed());
    pairs.push(prng.chance(0.1) ? key : `${key}=${randomValue(prng)}`);
  }
  const separator = prng.pick(["?", "?", "?", "#", "?&", "??"]);
  const fragment = prng.chance(0.2) ? `#${prng.string(10)}` : "";
  return `${base}${separator}${
    pairs.join(prng.pick(["&", "&", ";", "&&"]))
  }${fragment}`;
}

Deno.test("AuthorizationCode.parseResponseUrl() only returns a code or throws SpotifyAuthError / TypeError for 10 000 random callbacks", () => {
  const prng = new Prng(SEED);
  const auth = new AuthorizationCode({
    clientId: "id",
    clientSecret: "secret",
    redirectUri: "http://127.0.0.1:8080/callback",
  });
  const outcomes = new Map<string, number>();
  const startedAt = performance.now();
  for (let i = 0; i < 10_000; i++) {
    const url = randomCallbackUrl(prng);
    const expectedState = prng.chance(0.97) ? STATE : prng.pick(["", "other"]);
    for (
      const parse of [
        () => AuthorizationCode.parseResponseUrl(url, { expectedState }),
        () => auth.parseResponseUrl(url, { expectedState }),
      ]
    ) {
      let outcome: string;
      try {
        const code = parse();
        assert.equal(typeof code, "string");
        assert.notEqual(code, "", `seed ${SEED} #${i}: empty code from ${url}`);
        const params = new URL(url).searchParams;
        assert.equal(params.get("state"), expectedState);
        assert.equal(params.get("error"), null);
        assert.equal(params.get("code"), code);
        outcome = "code";
      } catch (error) {
        if (error instanceof SpotifyAuthError) {
          assert.match(error.code, /^[\x21-\x7e]{1,64}$/);
          outcome = error.code === "state_mismatch" ||
              error.code === "missing_code"
            ? error.code
            : "callback error";
        } else if (error instanceof TypeError) {
          outcome = "TypeError";
        } else {
          throw new Error(
            `seed ${SEED} #${i}: unexpected ${error} for ${
              JSON.stringify(url)
            }`,
          );
        }
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
  }
  assert.ok(performance.now() - startedAt < 10_000);
  // The generator reaches every outcome, so the test means something.
  for (
    const outcome of [
      "code",
      "state_mismatch",
      "missing_code",
      "callback error",
      "TypeError",
    ]
  ) {
    assert.ok(
      (outcomes.get(outcome) ?? 0) > 20,
      `${outcome}: ${[...outcomes]}`,
    );
  }
});

// ---------------------------------------------------------------------------
// Token endpoint answers

const FIELDS = [
  "access_token",
  "token_type",
  "expires_in",
  "refresh_token",
  "scope",
  "error",
  "error_description",
];

function randomJsonValue(prng: Prng, depth = 0): unknown {
  switch (prng.int(0, depth > 1 ? 8 : 10)) {
    case 0:
      return null;
    case 1:
      return prng.chance(0.5);
    case 2:
      return prng.pick([
        0,
        -1,
        1,
        3600,
        1.5,
        -0.5,
        2 ** 31,
        2 ** 31 + 1,
        1e300,
      ]);
    case 3:
      return prng.pick([
        "3600",
        " 60 ",
        "1e3",
        "-5",
        "NaN",
        "0x10",
        "",
        "12.5",
      ]);
    case 4:
      return prng.pick(["Bearer", "bearer", "BEARER", "mac", "Bearer "]);
    case 5:
      return prng.string(12);
    case 6:
      return prng.unicode(8);
    case 7:
      return prng.int(-1e6, 1e6);
    case 8:
      return "tok-" + prng.string(8, "abcdef0123456789");
    case 9:
      return [randomJsonValue(prng, depth + 1)];
    default:
      return { nested: randomJsonValue(prng, depth + 1) };
  }
}

function randomTokenBody(prng: Prng): string {
  switch (prng.int(0, 9)) {
    case 0:
      return prng.unicode(30);
    case 1:
      return JSON.stringify(randomJsonValue(prng));
    case 2: {
      // A valid body, cut short.
      const full = JSON.stringify({
        access_token: "a",
        token_type: "Bearer",
        expires_in: 3600,
      });
      return full.slice(0, prng.int(0, full.length - 1));
    }
    default: {
      const body: Record<string, unknown> = {};
      // Mostly plausible answers, so the success path is reached too.
      if (prng.chance(0.8)) body.access_token = "acc-" + prng.string(6, "xyz");
      if (prng.chance(0.7)) body.token_type = "Bearer";
      if (prng.chance(0.8)) body.expires_in = 3600;
      for (const field of FIELDS) {
        if (prng.chance(0.25)) body[field] = randomJsonValue(prng);
      }
      return JSON.stringify(body);
    }
  }
}

const isString = (value: unknown): value is string => typeof value === "string";
const absent = (value: unknown) => value === undefined || value === null;

/** What the API contract accepts as a token response (success bodies). */
function acceptable(body: string): boolean {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return false;
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return false;
  }
  const record = json as Record<string, unknown>;
  const { access_token, token_type, expires_in, refresh_token, scope } = record;
  if (!isString(access_token) || access_token === "") return false;
  // It must fit in an Authorization header (0.2): no C0 control or DEL.
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(access_token)) return false;
  if (
    !absent(token_type) &&
    !(isString(token_type) && token_type.toLowerCase() === "bearer")
  ) return false;
  const seconds = typeof expires_in === "number"
    ? expires_in
    : isString(expires_in) && /^\s*\d+(\.\d+)?\s*$/.test(expires_in)
    ? Number(expires_in)
    : NaN;
  // The implementation also refuses lifetimes beyond 2^31 s (68 years).
  if (!(Number.isFinite(seconds) && seconds >= 0 && seconds <= 2 ** 31)) {
    return false;
  }
  if (!absent(refresh_token) && !(isString(refresh_token) && refresh_token)) {
    return false;
  }
  return absent(scope) || isString(scope);
}

const STATUSES = [200, 200, 200, 200, 201, 400, 401, 403, 404, 429, 500, 503];

Deno.test("a provider turns 3 000 random token answers into a token or a SpotifyAuthError, nothing else", async () => {
  const prng = new Prng(SEED + 1);
  const clock = new FakeClock();
  let body = "";
  let status = 200;
  const fetch = () =>
    Promise.resolve(
      new Response(body, {
        status,
        headers: { "content-type": "application/json" },
      }),
    );
  const options = {
    clientId: "id",
    clientSecret: "secret",
    fetch,
    clock,
    maxRetries: 0,
    retryDelayMs: 0,
  };
  const appAuth = new ClientCredentials(options);
  const userAuth = new AuthorizationCode({
    ...options,
    redirectUri: "http://127.0.0.1/callback",
    refreshToken: "bootstrap-refresh",
  });
  let successes = 0;
  let failures = 0;
  try {
    for (let i = 0; i < 3_000; i++) {
      body = randomTokenBody(prng);
      status = prng.pick(STATUSES);
      const where = `seed ${SEED + 1} #${i}: HTTP ${status} ${
        JSON.stringify(body)
      }`;
      const provider = prng.chance(0.5) ? appAuth : userAuth;
      try {
        const token = await provider.getAccessToken({ forceRefresh: true });
        assert.ok(status < 300 && acceptable(body), `accepted ${where}`);
        assert.equal(token, JSON.parse(body).access_token, where);
        successes++;
      } catch (error) {
        assert.ok(error instanceof SpotifyAuthError, `${error} for ${where}`);
        if (status < 300) {
          assert.equal(error.code, "invalid_response", where);
          assert.ok(!acceptable(body), `refused ${where}`);
        } else if (status === 429 || status >= 500) {
          assert.equal(error.code, "http_error", where);
        } else {
          assert.match(error.code, /^[\x21-\x7e]{1,64}$/, where);
        }
        assert.ok(error.status === undefined || error.status === status);
        failures++;
      }
    }
  } finally {
    await appAuth.close();
    await userAuth.close();
  }
  assert.ok(successes > 200 && failures > 200, `${successes}/${failures}`);
});

// ---------------------------------------------------------------------------
// The token file

function randomFileContent(prng: Prng): Uint8Array {
  const encoder = new TextEncoder();
  switch (prng.int(0, 5)) {
    case 0:
      return prng.bytes(prng.int(0, 300));
    case 1:
      return encoder.encode(prng.unicode(60));
    default: {
      const record: Record<string, unknown> = {};
      if (prng.chance(0.8)) record.access_token = "acc-" + prng.string(4);
      if (prng.chance(0.8)) record.expires_at = 1_767_229_200;
      for (
        const field of [
          "access_token",
          "expires_at",
          "refresh_token",
          "scope",
          "accessToken",
        ]
      ) {
        if (prng.chance(0.3)) record[field] = randomJsonValue(prng);
      }
      const text = JSON.stringify(prng.chance(0.9) ? record : [record]);
      // Sometimes half-written, sometimes with a stray byte.
      const cut = prng.chance(0.2)
        ? text.slice(0, prng.int(0, text.length))
        : text;
      const bytes = encoder.encode(cut);
      if (prng.chance(0.1) && bytes.length > 0) {
        bytes[prng.int(0, bytes.length - 1)] = prng.int(0, 255);
      }
      return bytes;
    }
  }
}

function assertTokenInfo(token: TokenInfo, where: string): void {
  assert.equal(typeof token.accessToken, "string", where);
  assert.notEqual(token.accessToken, "", where);
  assert.ok(Number.isFinite(token.expiresAt), where);
  for (const field of ["refreshToken", "scope"] as const) {
    const value = token[field];
    assert.ok(value === undefined || typeof value === "string", where);
  }
}

Deno.test("FileTokenCache.get() reads 1 500 random files as a miss or a valid token, never a throw", async () => {
  const prng = new Prng(SEED + 2);
  const dir = await Deno.makeTempDir({ prefix: "hardening_file_cache_" });
  try {
    const path = `${dir}/token.json`;
    const cache = new FileTokenCache({ path });
    let hits = 0;
    let misses = 0;
    for (let i = 0; i < 1_500; i++) {
      const content = randomFileContent(prng);
      await Deno.writeFile(path, content);
      const where = `seed ${SEED + 2} #${i}: ${
        JSON.stringify(new TextDecoder().decode(content))
      }`;
      let token: TokenInfo | undefined;
      try {
        token = await cache.get();
      } catch (error) {
        throw new Error(`get() threw ${error} for ${where}`);
      }
      if (token === undefined) {
        misses++;
      } else {
        assertTokenInfo(token, where);
        hits++;
      }
    }
    assert.ok(hits > 100 && misses > 100, `${hits}/${misses}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
