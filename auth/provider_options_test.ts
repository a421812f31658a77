import assert from "node:assert/strict";
import {
  AuthorizationCode,
  type AuthorizationCodeOptions,
  ClientCredentials,
  type ProviderOptions,
} from "../mod.ts";
import { describeValue } from "./provider_options.ts";

const CREDENTIALS = {
  clientId: "test-client-id",
  clientSecret: "test-client-secret",
};
const REDIRECT_URI = "http://127.0.0.1:8080/callback";

type Construct = (options: Record<string, unknown>) => unknown;

const PROVIDERS: [string, Construct][] = [
  [
    "ClientCredentials",
    (options) =>
      new ClientCredentials({ ...CREDENTIALS, ...options } as ProviderOptions),
  ],
  [
    "AuthorizationCode",
    (options) =>
      new AuthorizationCode(
        {
          ...CREDENTIALS,
          redirectUri: REDIRECT_URI,
          ...options,
        } as AuthorizationCodeOptions,
      ),
  ],
];

/** Asserts that construction throws `type` with exactly these fragments. */
function assertThrows(
  construct: () => unknown,
  type: typeof TypeError | typeof RangeError,
  ...fragments: string[]
): void {
  assert.throws(construct, (error: unknown) => {
    assert.ok(error instanceof type, `${error}`);
    for (const fragment of fragments) {
      assert.ok(
        error.message.includes(fragment),
        `${JSON.stringify(error.message)} lacks ${JSON.stringify(fragment)}`,
      );
    }
    return true;
  });
}

Deno.test('ClientCredentials says timeoutMs: "1000" is a string, not a valid 1000', () => {
  assertThrows(
    () => new ClientCredentials({ ...CREDENTIALS, timeoutMs: "1000" as never }),
    TypeError,
    'ClientCredentials: "timeoutMs" must be a number of milliseconds > 0, got the string "1000"',
  );
});

const WRONG_TYPES: [string, unknown, string, string][] = [
  ["timeoutMs", "1000", "a number of milliseconds > 0", 'the string "1000"'],
  ["maxRetries", "3", "a whole number >= 0", 'the string "3"'],
  ["retryDelayMs", true, "a number of milliseconds >= 0", "the boolean true"],
  ["skewSeconds", "30", "a number of seconds >= 0", 'the string "30"'],
  ["timeoutMs", null, "a number of milliseconds > 0", "null"],
  ["maxRetries", 3n, "a whole number >= 0", "the bigint 3n"],
];

const OUT_OF_RANGE: [string, number, string][] = [
  ["timeoutMs", 0, "the number 0"],
  ["timeoutMs", -5, "the number -5"],
  ["timeoutMs", Infinity, "the number Infinity"],
  ["maxRetries", -1, "the number -1"],
  ["maxRetries", 1.5, "the number 1.5"],
  ["retryDelayMs", NaN, "the number NaN"],
  ["skewSeconds", -1, "the number -1"],
];

for (const [owner, construct] of PROVIDERS) {
  for (const [name, value, expected, got] of WRONG_TYPES) {
    Deno.test(`${owner} rejects ${name}: ${describeValue(value)} with a TypeError naming its type`, () => {
      assertThrows(
        () => construct({ [name]: value }),
        TypeError,
        `${owner}: "${name}" must be ${expected}, got ${got}`,
      );
    });
  }

  for (const [name, value, got] of OUT_OF_RANGE) {
    Deno.test(`${owner} rejects ${name}: ${value} with a RangeError showing it`, () => {
      assertThrows(
        () => construct({ [name]: value }),
        RangeError,
        `${owner}: "${name}" must be`,
        `got ${got}`,
      );
    });
  }

  Deno.test(`${owner} accepts the boundary values of its numeric options`, async () => {
    const provider = construct({
      timeoutMs: 1,
      maxRetries: 0,
      retryDelayMs: 0,
      skewSeconds: 0,
    }) as AsyncDisposable;
    await provider[Symbol.asyncDispose]();
  });

  Deno.test(`${owner} rejects tokenCache: {} at construction`, () => {
    assertThrows(
      () => construct({ tokenCache: {} }),
      TypeError,
      `${owner}: "tokenCache" must be a TokenCache with get() and set() methods`,
      "without a get() method",
    );
  });

  Deno.test(`${owner} rejects a tokenCache without set()`, () => {
    assertThrows(
      () => construct({ tokenCache: { get: () => undefined } }),
      TypeError,
      "without a set() method",
    );
  });

  Deno.test(`${owner} rejects a tokenCache that is not an object`, () => {
    for (
      const [value, got] of [
        ["token.json", 'the string "token.json"'],
        [null, "null"],
        [true, "the boolean true"],
      ]
    ) {
      assertThrows(
        () => construct({ tokenCache: value }),
        TypeError,
        `"tokenCache" must be a TokenCache`,
        `got ${got}`,
      );
    }
  });

  Deno.test(`${owner} rejects a tokenCache whose lock or delete is not a function`, () => {
    const cache = { get: () => undefined, set: () => {} };
    assertThrows(
      () => construct({ tokenCache: { ...cache, lock: true } }),
      TypeError,
      '"tokenCache.lock" must be a function when present, got the boolean true',
    );
    assertThrows(
      () => construct({ tokenCache: { ...cache, delete: "yes" } }),
      TypeError,
      '"tokenCache.delete" must be a function when present',
    );
  });

  Deno.test(`${owner} accepts a tokenCache class instance with get() and set()`, async () => {
    class MapCache {
      #token: unknown;
      get() {
        return this.#token as undefined;
      }
      set(token: unknown) {
        this.#token = token;
      }
    }
    const provider = construct({
      tokenCache: new MapCache(),
    }) as AsyncDisposable;
    await provider[Symbol.asyncDispose]();
  });

  Deno.test(`${owner} rejects fetch, clock and accountsUrl of the wrong type`, () => {
    assertThrows(
      () => construct({ fetch: "https://proxy" }),
      TypeError,
      `"fetch" must be a function like globalThis.fetch, got the string "https://proxy"`,
    );
    assertThrows(
      () => construct({ clock: {} }),
      TypeError,
      `"clock" must have a now() method`,
      "got an object",
    );
    assertThrows(
      () => construct({ accountsUrl: 443 }),
      TypeError,
      `"accountsUrl" must be a string`,
      "got the number 443",
    );
    assertThrows(
      () => construct({ accountsUrl: "accounts.spotify.com" }),
      TypeError,
      `"accountsUrl" must be an absolute URL`,
      'got the string "accounts.spotify.com"',
    );
  });

  Deno.test(`${owner} names the type of a wrong clientId, and never shows a wrong clientSecret`, () => {
    assertThrows(
      () => construct({ clientId: 12345 }),
      TypeError,
      `${owner}: "clientId" must be a non-empty string, got the number 12345`,
    );
    assert.throws(
      () => construct({ clientSecret: 987654321 }),
      (error: unknown) =>
        error instanceof TypeError &&
        error.message.includes('"clientSecret" must be a non-empty string') &&
        error.message.includes("got a number") &&
        !error.message.includes("987654321"),
    );
  });
}

Deno.test("describeValue() names the value and its type", () => {
  assert.equal(describeValue("1000"), 'the string "1000"');
  assert.equal(describeValue(""), "an empty string");
  assert.equal(describeValue(-1), "the number -1");
  assert.equal(describeValue(false), "the boolean false");
  assert.equal(describeValue(undefined), "undefined");
  assert.equal(describeValue(null), "null");
  assert.equal(describeValue([1]), "an array");
  assert.equal(describeValue({}), "an object");
  assert.equal(describeValue(new Map()), "an instance of Map");
  assert.equal(describeValue(() => 1), "a function");
  assert.equal(describeValue(Symbol("s")), "a symbol");
  assert.equal(
    describeValue("x".repeat(100)),
    `the string "${"x".repeat(60)}…"`,
  );
});

// --- AuthorizationCode: pkce -------------------------------------------------

Deno.test('AuthorizationCode rejects pkce: "yes" as not a boolean, not as a missing secret', () => {
  assertThrows(
    () =>
      new AuthorizationCode({
        clientId: "test-client-id",
        redirectUri: REDIRECT_URI,
        pkce: "yes" as never,
      }),
    TypeError,
    'AuthorizationCode: "pkce" must be true or false, got the string "yes"',
  );
});

Deno.test("AuthorizationCode rejects pkce: true with an explicit clientSecret", () => {
  assert.throws(
    () =>
      new AuthorizationCode({
        ...CREDENTIALS,
        redirectUri: REDIRECT_URI,
        pkce: true,
      }),
    (error: unknown) =>
      error instanceof TypeError &&
      /pkce: true or clientSecret, not both/.test(error.message) &&
      !error.message.includes(CREDENTIALS.clientSecret),
  );
});

Deno.test("AuthorizationCode with pkce: true ignores a secret that only comes from the environment", async () => {
  Deno.env.set("SPOTIFY_SDK_CLIENT_SECRET", "env-secret");
  try {
    await using _auth = new AuthorizationCode({
      clientId: "test-client-id",
      redirectUri: REDIRECT_URI,
      pkce: true,
    });
  } finally {
    Deno.env.delete("SPOTIFY_SDK_CLIENT_SECRET");
  }
});

Deno.test("AuthorizationCode accepts pkce: false with a secret, and clientSecret: undefined with pkce", async () => {
  await using _confidential = new AuthorizationCode({
    ...CREDENTIALS,
    redirectUri: REDIRECT_URI,
    pkce: false,
  });
  await using _public = new AuthorizationCode({
    clientId: "test-client-id",
    clientSecret: undefined,
    redirectUri: REDIRECT_URI,
    pkce: true,
  });
});

// --- AuthorizationCode: redirectUri ------------------------------------------

const ACCEPTED_REDIRECT_URIS = [
  "https://example.com/callback",
  "https://example.com:8443/auth/spotify?from=app",
  "http://127.0.0.1:8080/callback",
  "http://127.0.0.1/callback",
  "http://[::1]:8080/callback",
  "http://localhost:8080/callback",
  "HTTP://127.0.0.1:8080/callback",
];

for (const redirectUri of ACCEPTED_REDIRECT_URIS) {
  Deno.test(`AuthorizationCode accepts the redirect URI ${redirectUri}`, async () => {
    await using auth = new AuthorizationCode({ ...CREDENTIALS, redirectUri });
    assert.equal(auth.redirectUri, redirectUri);
  });
}

const REFUSED_REDIRECT_URIS: [string, string][] = [
  ["http://example.com/cb", 'uses plain http on "example.com"'],
  ["http://192.168.1.20:8080/callback", "only on 127.0.0.1 or [::1]"],
  ["http://127.0.0.2:8080/callback", "only on 127.0.0.1 or [::1]"],
  ["http://0.0.0.0:8080/callback", "only on 127.0.0.1 or [::1]"],
  [" http://127.0.0.1:8080/callback", "leading or trailing whitespace"],
  ["http://127.0.0.1:8080/callback\n", "leading or trailing whitespace"],
  ["\thttps://example.com/callback", "leading or trailing whitespace"],
  ["/callback", "must be an absolute URL"],
  ["127.0.0.1:8080/callback", "must be an absolute URL"],
  ["localhost:8080/callback", "must be an https URL"],
  ["ftp://127.0.0.1:8080/callback", "must be an https URL"],
  ["myapp://callback", "must be an https URL"],
];

for (const [redirectUri, message] of REFUSED_REDIRECT_URIS) {
  Deno.test(
    `AuthorizationCode refuses the redirect URI ${
      JSON.stringify(redirectUri)
    } at construction`,
    () => {
      assertThrows(
        () => new AuthorizationCode({ ...CREDENTIALS, redirectUri }),
        TypeError,
        'AuthorizationCode: "redirectUri"',
        message,
      );
    },
  );
}

Deno.test("AuthorizationCode never shows a redirect URI's password in its error", () => {
  assert.throws(
    () =>
      new AuthorizationCode({
        ...CREDENTIALS,
        redirectUri: "http://user:hunter2@example.com/callback",
      }),
    (error: unknown) =>
      error instanceof TypeError && /plain http/.test(error.message) &&
      !error.message.includes("hunter2"),
  );
});

Deno.test("AuthorizationCode says when a refused redirect URI came from the environment", () => {
  Deno.env.set("SPOTIFY_SDK_REDIRECT_URI", "http://example.com/callback");
  try {
    assertThrows(
      () => new AuthorizationCode(CREDENTIALS),
      TypeError,
      '"redirectUri" (from SPOTIFY_SDK_REDIRECT_URI) uses plain http',
    );
  } finally {
    Deno.env.delete("SPOTIFY_SDK_REDIRECT_URI");
  }
});
