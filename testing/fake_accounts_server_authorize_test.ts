import assert from "node:assert/strict";
import { FakeAccountsServer } from "./mod.ts";
import {
  authorizeUrl,
  CHALLENGE,
  CLIENT_ID,
  exchange,
  getCode,
  getMe,
  postToken,
  REDIRECT_URI,
} from "./_test_helpers.ts";

Deno.test("authorize() approves with a code and echoes the state", async () => {
  const server = new FakeAccountsServer();
  const callback = await server.authorize(authorizeUrl({ state: "s t+ate" }));
  const url = new URL(callback);
  assert.equal(`${url.origin}${url.pathname}`, REDIRECT_URI);
  assert.equal(url.searchParams.get("code"), "fake-code-1");
  assert.equal(url.searchParams.get("state"), "s t+ate");
});

Deno.test("authorize() denies with error=access_denied when consent is 'deny'", async () => {
  const server = new FakeAccountsServer({ consent: "deny" });
  const callback = new URL(
    await server.authorize(authorizeUrl({ state: "xyz" })),
  );
  assert.deepEqual([...callback.searchParams], [
    ["error", "access_denied"],
    ["state", "xyz"],
  ]);
});

Deno.test("authorize() consent per request overrides the constructor option", async () => {
  const server = new FakeAccountsServer({ consent: "deny" });
  const approved = new URL(
    await server.authorize(authorizeUrl(), { consent: "approve" }),
  );
  assert.ok(approved.searchParams.has("code"));
  const denied = new URL(
    await new FakeAccountsServer().authorize(authorizeUrl(), {
      consent: "deny",
    }),
  );
  assert.equal(denied.searchParams.get("error"), "access_denied");
  assert.equal(denied.searchParams.has("state"), false);
});

Deno.test("authorize() accepts no state, an empty scope= and show_dialog=True", async () => {
  const server = new FakeAccountsServer();
  const callback = new URL(
    await server.authorize(authorizeUrl({ scope: "", show_dialog: "True" })),
  );
  assert.equal(callback.searchParams.has("state"), false);
  assert.ok(callback.searchParams.has("code"));
});

Deno.test("authorize() form-decodes the query: '+' separates scopes", async () => {
  const server = new FakeAccountsServer();
  const url = authorizeUrl().concat(
    "&scope=user-read-private+user-read-email",
  );
  const code = new URL(await server.authorize(url)).searchParams.get("code")!;
  const answer = await postToken(server.fetch, {
    grant_type: "authorization_code",
    code,
    redirect_uri: REDIRECT_URI,
  });
  assert.equal(answer.body.scope, "user-read-private user-read-email");
});

Deno.test("authorize({ user }) signs in that user, an unknown one is a TypeError", async () => {
  const server = new FakeAccountsServer({
    users: [
      { id: "alice", displayName: "Alice" },
      { id: "bob", displayName: "Bob" },
    ],
  });
  const callback = await server.authorize(authorizeUrl(), { user: "bob" });
  const code = new URL(callback).searchParams.get("code")!;
  const tokens = await postToken(server.fetch, {
    grant_type: "authorization_code",
    code,
    redirect_uri: REDIRECT_URI,
  });
  const me = await getMe(server.fetch, tokens.body.access_token);
  assert.equal(me.body.id, "bob");
  await assert.rejects(
    server.authorize(authorizeUrl(), { user: "carol" }),
    TypeError,
  );
});

Deno.test("authorize() rejects a URL that is not an authorize URL with TypeError", async () => {
  const server = new FakeAccountsServer();
  await assert.rejects(
    server.authorize("https://accounts.spotify.com/api/token"),
    TypeError,
  );
});

for (
  const [name, params, problem] of [
    [
      "an unknown client",
      { client_id: "nobody" },
      "INVALID_CLIENT: Invalid client",
    ],
    [
      "a missing client_id",
      { client_id: undefined },
      "INVALID_CLIENT: Invalid client",
    ],
    [
      "an unregistered redirect URI",
      { redirect_uri: "https://example.com/callback" },
      "INVALID_CLIENT: Invalid redirect URI",
    ],
    [
      "a missing redirect URI",
      { redirect_uri: undefined },
      "INVALID_CLIENT: Invalid redirect URI",
    ],
    [
      "an unknown scope",
      { scope: "user-read-private user-read-mind" },
      "INVALID_SCOPE: Invalid scope",
    ],
    [
      "comma-separated scopes",
      { scope: "user-read-private,user-read-email" },
      "INVALID_SCOPE: Invalid scope",
    ],
    [
      "response_type=token",
      { response_type: "token" },
      "UNSUPPORTED_RESPONSE_TYPE: response_type must be code",
    ],
    [
      "no response_type",
      { response_type: undefined },
      "INVALID_REQUEST: response_type must be supplied",
    ],
    [
      "code_challenge_method=plain",
      { code_challenge_method: "plain", code_challenge: CHALLENGE },
      "INVALID_REQUEST: code_challenge_method must be S256",
    ],
    [
      "a code_challenge without a method",
      { code_challenge: CHALLENGE },
      "INVALID_REQUEST: code_challenge_method must be S256",
    ],
    [
      "a code_challenge that is not 43 characters of base64url",
      { code_challenge_method: "S256", code_challenge: `${CHALLENGE}=` },
      "INVALID_REQUEST: code_challenge must be 43 characters",
    ],
    [
      "a code_challenge_method without a challenge",
      { code_challenge_method: "S256" },
      "INVALID_REQUEST: code_challenge must be supplied",
    ],
  ] as const
) {
  Deno.test(`/authorize with ${name} shows an error page, and authorize() throws it`, async () => {
    const server = new FakeAccountsServer();
    const url = authorizeUrl(params);
    const response = await server.fetch(url, { redirect: "manual" });
    assert.equal(response.status, 400);
    assert.equal(response.headers.get("location"), null);
    assert.ok((await response.text()).includes(problem));
    await assert.rejects(server.authorize(url), (error: Error) => {
      assert.equal(error.constructor, Error);
      assert.ok(error.message.includes(problem), error.message);
      return true;
    });
  });
}

Deno.test("GET /authorize answers 302 to the callback with a code", async () => {
  const server = new FakeAccountsServer();
  const response = await server.fetch(authorizeUrl({ state: "abc" }), {
    redirect: "manual",
  });
  assert.equal(response.status, 302);
  assert.equal(
    response.headers.get("location"),
    `${REDIRECT_URI}?code=fake-code-1&state=abc`,
  );
});

// Registered URI, requested URI, whether it matches.
const REDIRECT_URI_CASES: [string, string, boolean][] = [
  ["https://example.com/callback", "https://example.com/callback", true],
  ["https://example.com/callback", "https://example.com/callback/", false],
  ["https://example.com/callback", "https://example.com/other", false],
  ["https://example.com/callback", "https://EXAMPLE.com/callback", false],
  ["https://example.com/callback", "https://example.com:443/callback", false],
  ["https://example.com/cb?app=1", "https://example.com/cb?app=1", true],
  ["https://example.com/cb?app=1", "https://example.com/cb?app=2", false],
  ["https://example.com/cb?app=1", "https://example.com/cb", false],
  ["http://127.0.0.1/callback", "http://127.0.0.1/callback", true],
  ["http://127.0.0.1/callback", "http://127.0.0.1:8888/callback", true],
  ["http://127.0.0.1/callback", "http://127.0.0.1:43123/callback", true],
  ["http://127.0.0.1/callback", "http://127.0.0.1:8888/other", false],
  ["http://127.0.0.1/callback", "http://127.0.0.2:8888/callback", false],
  ["http://127.0.0.1/callback", "https://127.0.0.1:8888/callback", false],
  ["http://127.0.0.1/callback", "http://localhost:8888/callback", false],
  ["http://127.0.0.1/callback", "http://[::1]:8888/callback", false],
  ["http://127.0.0.1:8888/callback", "http://127.0.0.1:8888/callback", true],
  ["http://127.0.0.1:8888/callback", "http://127.0.0.1:9999/callback", false],
  ["http://127.0.0.1:8888/callback", "http://127.0.0.1/callback", false],
  ["http://[::1]/callback", "http://[::1]:5000/callback", true],
  ["http://[::1]:5000/callback", "http://[::1]:5000/callback", true],
  ["http://127.1.2.3/cb", "http://127.1.2.3:80/cb", true],
  ["com.example.app://callback", "com.example.app://callback", true],
];

for (const [registered, requested, matches] of REDIRECT_URI_CASES) {
  Deno.test(`redirect URI ${requested} ${matches ? "matches" : "does not match"} registered ${registered}`, async () => {
    const server = new FakeAccountsServer({
      clients: [{ clientId: CLIENT_ID, redirectUris: [registered] }],
    });
    const url = authorizeUrl({ redirect_uri: requested });
    if (matches) {
      const callback = await server.authorize(url);
      assert.ok(callback.includes("code=fake-code-1"), callback);
    } else {
      await assert.rejects(
        server.authorize(url),
        /INVALID_CLIENT: Invalid redirect URI/,
      );
    }
  });
}

for (
  const [registered, advice] of [
    ["http://localhost:8888/callback", "http://127.0.0.1:8888/callback"],
    ["http://localhost/callback", "http://127.0.0.1:PORT/callback"],
    ["https://localhost/callback", "127.0.0.1"],
    ["http://app.localhost:3000/cb", "http://127.0.0.1:3000/cb"],
    ["http://example.com/callback", "https://example.com/callback"],
    ["http://192.168.1.10:8080/callback", "http://127.0.0.1:8080/callback"],
    ["not a url", "http://127.0.0.1:8888/callback"],
  ]
) {
  Deno.test(`registering the redirect URI ${registered} is a TypeError that suggests ${advice}`, () => {
    assert.throws(
      () =>
        new FakeAccountsServer({
          clients: [{ clientId: "app", redirectUris: [registered] }],
        }),
      (error: Error) => {
        assert.ok(error instanceof TypeError);
        assert.ok(error.message.includes(advice), error.message);
        return true;
      },
    );
  });
}

Deno.test("registering https, loopback IP and custom-scheme redirect URIs is fine, and each is usable", async () => {
  const redirectUris = [
    "https://example.com/callback",
    "http://127.0.0.1/callback",
    "http://127.0.0.1:8888/callback",
    "http://127.5.5.5:1/cb",
    "http://[::1]:8080/callback",
    "https://127.0.0.1/callback",
    "myapp://callback",
  ];
  const server = new FakeAccountsServer({
    clients: [{ clientId: "app", redirectUris }],
  });
  const callbacks: string[] = [];
  for (const redirectUri of redirectUris) {
    const callback = await server.authorize(
      authorizeUrl({ client_id: "app", redirect_uri: redirectUri }),
    );
    callbacks.push(callback.slice(0, callback.indexOf("?")));
  }
  assert.deepEqual(callbacks, redirectUris);
});

for (
  const registered of [
    " http://127.0.0.1/callback",
    "http://127.0.0.1/callback ",
    "http://127.0.0.1/call back",
    "\thttp://127.0.0.1/callback",
  ]
) {
  Deno.test(`registering the redirect URI ${JSON.stringify(registered)} (whitespace) is a TypeError`, () => {
    assert.throws(
      () =>
        new FakeAccountsServer({
          clients: [{ clientId: "app", redirectUris: [registered] }],
        }),
      (error: Error) => {
        assert.ok(error instanceof TypeError);
        assert.ok(error.message.includes("without spaces"), error.message);
        return true;
      },
    );
  });
}

// --- malformed redirect URIs (issue 16, items 12 and 13) -------------------

/** Requested URIs that no registration matches and no parser should crash on. */
const MALFORMED_REDIRECT_URIS = [
  "http://127.0.0.1:99999/callback",
  "http://127.0.0.1:65536/callback",
  "http://127.0.0.1:0/callback",
  "http://127.0.0.1:08888/callback",
  "http://127.0.0.1:/callback",
  " http://127.0.0.1:8888/callback",
  "\thttp://127.0.0.1:8888/callback",
  "http://127.0.0.1:8888/callback\n",
  "http://[::1:8888/callback",
  "http://127.0.0.1:8888/call back",
];

for (const requested of MALFORMED_REDIRECT_URIS) {
  Deno.test(`/authorize with the malformed redirect URI ${JSON.stringify(requested)} shows the Invalid redirect URI page`, async () => {
    const server = new FakeAccountsServer(); // registers http://127.0.0.1/callback, no port
    const url = authorizeUrl({ redirect_uri: requested });
    const response = await server.fetch(url, { redirect: "manual" });
    assert.equal(response.status, 400);
    assert.equal(response.headers.get("location"), null);
    assert.ok(
      (await response.text()).includes("INVALID_CLIENT: Invalid redirect URI"),
    );
    assert.deepEqual(
      server.requests.map(({ endpoint, status }) => [endpoint, status]),
      [["authorize", 400]],
    );
  });

  Deno.test(`authorize() with the malformed redirect URI ${JSON.stringify(requested)} throws an Error naming Invalid redirect URI`, async () => {
    const server = new FakeAccountsServer();
    await assert.rejects(
      server.authorize(authorizeUrl({ redirect_uri: requested })),
      (error: Error) => {
        assert.equal(error.constructor, Error); // a TypeError means "network"
        assert.ok(
          error.message.includes("Invalid redirect URI"),
          error.message,
        );
        return true;
      },
    );
  });
}

Deno.test("over HTTP, /authorize with redirect URI port 99999 is the 400 page, not a 500", async () => {
  await using server = new FakeAccountsServer();
  await server.listen();
  const query = new URL(
    authorizeUrl({ redirect_uri: "http://127.0.0.1:99999/callback" }),
  ).search;
  const response = await fetch(`${server.url}/authorize${query}`, {
    redirect: "manual",
  });
  assert.equal(response.status, 400);
  const page = await response.text();
  assert.ok(page.includes("INVALID_CLIENT: Invalid redirect URI"), page);
});

for (
  const requested of [
    "http://127.0.0.1:99999/callback",
    " http://127.0.0.1:8888/callback",
    "not a url",
  ]
) {
  Deno.test(`exchanging a code with the malformed redirect_uri ${JSON.stringify(requested)} is invalid_grant 'Invalid redirect URI'`, async () => {
    const server = new FakeAccountsServer();
    const code = await getCode(server);
    const answer = await exchange(server, code, { redirect_uri: requested });
    assert.equal(answer.status, 400);
    assert.deepEqual(answer.body, {
      error: "invalid_grant",
      error_description: "Invalid redirect URI",
    });
    assert.equal((await exchange(server, code)).status, 200); // still usable
  });
}
