// Shared by the fake's tests: raw requests, the way OAuth clients send them.

import type { FakeAccountsServer } from "./fake_accounts_server.ts";

export const TOKEN_URL = "https://accounts.spotify.com/api/token";
export const AUTHORIZE_URL = "https://accounts.spotify.com/authorize";
export const ME_URL = "https://api.spotify.com/v1/me";
export const CLIENT_ID = "test-client-id";
export const CLIENT_SECRET = "test-client-secret";
export const REDIRECT_URI = "http://127.0.0.1:8888/callback";
export const BASIC = `Basic ${btoa(`${CLIENT_ID}:${CLIENT_SECRET}`)}`;
/** RFC 7636 appendix B. */
export const VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
export const CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

export interface JsonAnswer {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  body: any;
}

export interface PostOptions {
  /** `Authorization` header; `null` for none. Default: the default client. */
  authorization?: string | null;
  contentType?: string;
}

/** POSTs a form to `/api/token` and reads the JSON answer. */
export async function postToken(
  fetcher: FakeAccountsServer["fetch"],
  params: Record<string, string>,
  options: PostOptions = {},
  url: string = TOKEN_URL,
): Promise<JsonAnswer> {
  const headers: Record<string, string> = {
    "content-type": options.contentType ??
      "application/x-www-form-urlencoded",
  };
  const authorization = options.authorization === undefined
    ? BASIC
    : options.authorization;
  if (authorization !== null) headers.authorization = authorization;
  const response = await fetcher(url, {
    method: "POST",
    headers,
    body: new URLSearchParams(params).toString(),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: parseJsonOrText(await response.text()),
  };
}

function parseJsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Builds an authorize URL for the default client. */
export function authorizeUrl(
  params: Record<string, string | undefined> = {},
): string {
  const query = new URLSearchParams();
  const all: Record<string, string | undefined> = {
    response_type: "code",
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    ...params,
  };
  for (const [key, value] of Object.entries(all)) {
    if (value !== undefined) query.set(key, value);
  }
  return `${AUTHORIZE_URL}?${query}`;
}

/** Runs `/authorize` and returns the code from the callback. */
export async function getCode(
  server: FakeAccountsServer,
  params: Record<string, string | undefined> = {},
): Promise<string> {
  const callback = new URL(await server.authorize(authorizeUrl(params)));
  return callback.searchParams.get("code")!;
}

/** Exchanges a code of the default client, confidential style. */
export function exchange(
  server: FakeAccountsServer,
  code: string,
  extra: Record<string, string> = {},
  options: PostOptions = {},
): Promise<JsonAnswer> {
  return postToken(server.fetch, {
    grant_type: "authorization_code",
    code,
    redirect_uri: REDIRECT_URI,
    ...extra,
  }, options);
}

/** Reads `/v1/me` with a bearer token. */
export async function getMe(
  fetcher: FakeAccountsServer["fetch"],
  token: string | undefined,
  url: string = ME_URL,
): Promise<JsonAnswer> {
  const response = await fetcher(url, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return {
    status: response.status,
    headers: response.headers,
    body: await response.json(),
  };
}
