// POST /api/token: the three grants Spotify supports, with its error bodies.

import { createCodeChallenge } from "../auth/pkce.ts";
import type { RegisteredClient, TokenStore } from "./_fake_store.ts";

export interface TokenEndpointConfig {
  readonly clients: ReadonlyMap<string, RegisteredClient>;
  readonly store: TokenStore;
  readonly refreshTokenRotation: "never" | "always";
}

/** Status and JSON body of an answer, before it becomes a `Response`. */
export interface TokenOutcome {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

const VERIFIER_PATTERN = /^[A-Za-z0-9\-._~]{43,128}$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

function oauthError(error: string, description: string): TokenOutcome {
  return { status: 400, body: { error, error_description: description } };
}

const GRANT_TYPE_MISSING = oauthError(
  "unsupported_grant_type",
  "grant_type parameter is missing",
);
const GRANT_TYPE_UNKNOWN = oauthError(
  "unsupported_grant_type",
  "grant_type must be client_credentials, authorization_code or refresh_token",
);
const INVALID_CLIENT = oauthError("invalid_client", "Invalid client");
const INVALID_CLIENT_SECRET = oauthError(
  "invalid_client",
  "Invalid client secret",
);
const CODE_MISSING = oauthError("invalid_request", "code must be supplied");
const REFRESH_TOKEN_MISSING = oauthError(
  "invalid_request",
  "refresh_token must be supplied",
);
const INVALID_CODE = oauthError("invalid_grant", "Invalid authorization code");
const CODE_EXPIRED = oauthError("invalid_grant", "Authorization code expired");
const INVALID_REDIRECT_URI = oauthError(
  "invalid_grant",
  "Invalid redirect URI",
);
const WRONG_VERIFIER = oauthError(
  "invalid_grant",
  "code_verifier was incorrect",
);
const INVALID_REFRESH_TOKEN = oauthError(
  "invalid_grant",
  "Invalid refresh token",
);
const REVOKED_REFRESH_TOKEN = oauthError(
  "invalid_grant",
  "Refresh token revoked",
);
const EXPIRED_REFRESH_TOKEN = oauthError(
  "invalid_grant",
  "Refresh token expired",
);

interface ClientCredentials {
  readonly clientId: string | null;
  /** `null` when the client did not authenticate with a secret. */
  readonly clientSecret: string | null;
}

/** `undefined` when the `Authorization` header is not usable Basic. */
function parseClientCredentials(
  authorization: string | null,
  form: URLSearchParams,
): ClientCredentials | undefined {
  const bodyClientId = nonEmpty(form.get("client_id"));
  if (authorization === null) {
    return {
      clientId: bodyClientId,
      clientSecret: nonEmpty(form.get("client_secret")),
    };
  }
  const basic = decodeBasic(authorization);
  if (basic === undefined) return undefined;
  if (bodyClientId !== null && bodyClientId !== basic.clientId) {
    return undefined;
  }
  return basic;
}

// Clients send the same header on every request: remember the last one.
let lastBasicHeader: string | undefined;
let lastBasic: ClientCredentials | undefined;

function decodeBasic(authorization: string): ClientCredentials | undefined {
  if (authorization === lastBasicHeader) return lastBasic;
  let basic: ClientCredentials | undefined;
  const match = /^basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i.exec(authorization);
  if (match !== null) {
    const decoded = decodeBase64Utf8(match[1]);
    const colon = decoded === undefined ? -1 : decoded.indexOf(":");
    if (colon !== -1) {
      basic = {
        clientId: decoded!.slice(0, colon),
        clientSecret: decoded!.slice(colon + 1),
      };
    }
  }
  lastBasicHeader = authorization;
  lastBasic = basic;
  return basic;
}

function decodeBase64Utf8(base64: string): string | undefined {
  let binary: string;
  try {
    binary = atob(base64);
  } catch {
    return undefined;
  }
  const bytes = new Uint8Array(binary.length);
  let ascii = true;
  for (let index = 0; index < binary.length; index++) {
    const byte = binary.charCodeAt(index);
    if (byte > 0x7f) ascii = false;
    bytes[index] = byte;
  }
  if (ascii) return binary;
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

function nonEmpty(value: string | null): string | null {
  return value === "" ? null : value;
}

/** The client id a token request names, for the request log. */
export function requestedClientId(
  authorization: string | null,
  form: URLSearchParams,
): string | undefined {
  return parseClientCredentials(authorization, form)?.clientId ?? undefined;
}

/**
 * Answers a token request whose body was form-decoded into `form` (an empty
 * `form` for bodies that are not `application/x-www-form-urlencoded`).
 */
export function handleTokenGrant(
  config: TokenEndpointConfig,
  form: URLSearchParams,
  authorization: string | null,
): TokenOutcome | Promise<TokenOutcome> {
  const grantType = form.get("grant_type");
  if (grantType === null || grantType === "") return GRANT_TYPE_MISSING;
  if (
    grantType !== "client_credentials" &&
    grantType !== "authorization_code" &&
    grantType !== "refresh_token"
  ) {
    return GRANT_TYPE_UNKNOWN;
  }
  const credentials = parseClientCredentials(authorization, form);
  if (credentials === undefined || credentials.clientId === null) {
    return INVALID_CLIENT;
  }
  const client = config.clients.get(credentials.clientId);
  if (client === undefined) return INVALID_CLIENT;
  const authenticated = credentials.clientSecret !== null;
  if (authenticated && credentials.clientSecret !== client.clientSecret) {
    return INVALID_CLIENT_SECRET;
  }
  switch (grantType) {
    case "client_credentials":
      return authenticated
        ? clientCredentialsGrant(config, client)
        : INVALID_CLIENT;
    case "authorization_code":
      return authorizationCodeGrant(config, client, authenticated, form);
    case "refresh_token":
      return refreshTokenGrant(config, client, authenticated, form);
  }
}

function clientCredentialsGrant(
  config: TokenEndpointConfig,
  client: RegisteredClient,
): TokenOutcome {
  const { token } = config.store.issueAccessToken(
    client.clientId,
    undefined,
    "",
    undefined,
  );
  return {
    status: 200,
    body: {
      access_token: token,
      token_type: "Bearer",
      expires_in: config.store.accessTokenTtlSeconds,
    },
  };
}

function authorizationCodeGrant(
  config: TokenEndpointConfig,
  client: RegisteredClient,
  authenticated: boolean,
  form: URLSearchParams,
): TokenOutcome | Promise<TokenOutcome> {
  const code = nonEmpty(form.get("code"));
  if (code === null) return CODE_MISSING;
  const { store } = config;
  const record = store.codes.get(code);
  if (record === undefined || record.clientId !== client.clientId) {
    return INVALID_CODE;
  }
  if (record.used) {
    // RFC 6749 §4.1.2: a replayed code revokes what it was exchanged for.
    store.revokeGrant(record.grantId);
    return INVALID_CODE;
  }
  if (store.clock.now() >= record.expiresAtMs) return CODE_EXPIRED;
  if (form.get("redirect_uri") !== record.redirectUri) {
    return INVALID_REDIRECT_URI;
  }
  const exchange = (): TokenOutcome => {
    if (record.used) {
      store.revokeGrant(record.grantId);
      return INVALID_CODE;
    }
    record.used = true;
    const pkce = record.codeChallenge !== undefined;
    const { token } = store.issueAccessToken(
      client.clientId,
      record.userId,
      record.scope,
      record.grantId,
    );
    const refreshToken = store.issueRefreshToken(
      client.clientId,
      record.userId,
      record.scope,
      pkce,
      record.grantId,
      record.authorizedAtMs,
    );
    return {
      status: 200,
      body: {
        access_token: token,
        token_type: "Bearer",
        scope: record.scope,
        expires_in: store.accessTokenTtlSeconds,
        refresh_token: refreshToken,
      },
    };
  };
  if (record.codeChallenge === undefined) {
    return authenticated ? exchange() : INVALID_CLIENT;
  }
  const verifier = form.get("code_verifier");
  if (verifier === null || !VERIFIER_PATTERN.test(verifier)) {
    return WRONG_VERIFIER;
  }
  return createCodeChallenge(verifier).then((challenge) =>
    challenge === record.codeChallenge ? exchange() : WRONG_VERIFIER
  );
}

function refreshTokenGrant(
  config: TokenEndpointConfig,
  client: RegisteredClient,
  authenticated: boolean,
  form: URLSearchParams,
): TokenOutcome {
  const refreshToken = nonEmpty(form.get("refresh_token"));
  if (refreshToken === null) return REFRESH_TOKEN_MISSING;
  const { store } = config;
  const record = store.refreshTokens.get(refreshToken);
  if (
    record === undefined || record.clientId !== client.clientId ||
    record.status === "rotated"
  ) {
    return INVALID_REFRESH_TOKEN;
  }
  if (record.status === "revoked") return REVOKED_REFRESH_TOKEN;
  // Since 2026 a refresh token dies 6 months after the sign-in, however
  // often it was refreshed or rotated.
  if (store.refreshTokenExpired(record)) return EXPIRED_REFRESH_TOKEN;
  if (!record.pkce && !authenticated) return INVALID_CLIENT;
  const { token } = store.issueAccessToken(
    client.clientId,
    record.userId,
    record.scope,
    record.grantId,
  );
  const body: Record<string, unknown> = {
    access_token: token,
    token_type: "Bearer",
    scope: record.scope,
    expires_in: store.accessTokenTtlSeconds,
  };
  if (record.pkce || config.refreshTokenRotation === "always") {
    record.status = "rotated";
    body.refresh_token = store.issueRefreshToken(
      client.clientId,
      record.userId,
      record.scope,
      record.pkce,
      record.grantId,
      record.authorizedAtMs,
    );
  }
  return { status: 200, body };
}
