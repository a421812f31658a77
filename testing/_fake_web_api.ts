// GET https://api.spotify.com/v1/me: enough of the Web API to prove that a
// token is a user token, with the Web API's error shape.

import type { RegisteredUser, TokenStore } from "./_fake_store.ts";
import type { FakeRequest } from "./_fake_http.ts";

export interface MeOutcome {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly clientId?: string;
}

function webApiError(status: number, message: string): MeOutcome {
  return { status, body: { error: { status, message } } };
}

/** Answers `GET /v1/me` (and `/v1/me/`). */
export function handleMe(
  request: FakeRequest,
  store: TokenStore,
  users: ReadonlyMap<string, RegisteredUser>,
): MeOutcome {
  const authorization = request.header("authorization");
  if (authorization === null) return webApiError(401, "No token provided");
  const match = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  if (match === null) return webApiError(401, "No token provided");
  const record = store.accessToken(match[1]);
  if (record === undefined) return webApiError(401, "Invalid access token");
  if (store.clock.now() >= record.expiresAtMs) {
    return {
      ...webApiError(401, "The access token expired"),
      clientId: record.clientId,
    };
  }
  const user = record.userId === undefined
    ? undefined
    : users.get(record.userId);
  if (user === undefined) {
    return {
      ...webApiError(
        403,
        "Forbidden: /v1/me needs a user access token (authorization code flow); a client credentials token has no user",
      ),
      clientId: record.clientId,
    };
  }
  const scopes = new Set(record.scope.split(" "));
  const body: Record<string, unknown> = {
    display_name: user.displayName,
    external_urls: { spotify: `https://open.spotify.com/user/${user.id}` },
    followers: { href: null, total: 0 },
    href: `https://api.spotify.com/v1/users/${user.id}`,
    id: user.id,
    images: [],
    type: "user",
    uri: `spotify:user:${user.id}`,
  };
  // Like the Web API: email needs user-read-email, the rest user-read-private.
  if (scopes.has("user-read-email") && user.email !== undefined) {
    body.email = user.email;
  }
  if (scopes.has("user-read-private")) {
    if (user.country !== undefined) body.country = user.country;
    if (user.product !== undefined) body.product = user.product;
    body.explicit_content = { filter_enabled: false, filter_locked: false };
  }
  return { status: 200, body, clientId: record.clientId };
}
