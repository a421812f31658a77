// GET /authorize: the checks Spotify makes before it shows the consent page,
// and the redirect the simulated user's answer produces.

import { parseRedirectUri, redirectUriMatches } from "./_fake_redirect_uri.ts";
import type { RegisteredClient, TokenStore } from "./_fake_store.ts";

/** The scopes Spotify's `/authorize` knows. */
export const KNOWN_SCOPES: ReadonlySet<string> = new Set([
  "ugc-image-upload",
  "user-read-playback-state",
  "user-modify-playback-state",
  "user-read-currently-playing",
  "app-remote-control",
  "streaming",
  "playlist-read-private",
  "playlist-read-collaborative",
  "playlist-modify-private",
  "playlist-modify-public",
  "user-follow-modify",
  "user-follow-read",
  "user-read-playback-position",
  "user-top-read",
  "user-read-recently-played",
  "user-library-modify",
  "user-library-read",
  "user-read-email",
  "user-read-private",
]);

const CODE_CHALLENGE_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface AuthorizeConfig {
  readonly clients: ReadonlyMap<string, RegisteredClient>;
  readonly store: TokenStore;
  readonly codeTtlSeconds: number;
}

/** A redirect (`location`) or the problem an error page shows. */
export type AuthorizeOutcome =
  | { readonly location: string; readonly problem?: undefined }
  | { readonly problem: string; readonly location?: undefined };

/**
 * Decides what `/authorize` answers to `query` when `userId` signs in and
 * chooses `consent`.
 */
export function decideAuthorize(
  config: AuthorizeConfig,
  query: URLSearchParams,
  consent: "approve" | "deny",
  userId: string,
): AuthorizeOutcome {
  const client = config.clients.get(query.get("client_id") ?? "");
  if (client === undefined) {
    return { problem: "INVALID_CLIENT: Invalid client" };
  }
  const redirectUri = query.get("redirect_uri");
  const target = redirectUri === null
    ? undefined
    : parseRedirectUri(redirectUri);
  if (
    redirectUri === null || target === undefined ||
    !client.redirectUris.some((registered) =>
      redirectUriMatches(registered, redirectUri)
    )
  ) {
    return { problem: "INVALID_CLIENT: Invalid redirect URI" };
  }
  const responseType = query.get("response_type");
  if (responseType === null || responseType === "") {
    return { problem: "INVALID_REQUEST: response_type must be supplied" };
  }
  if (responseType !== "code") {
    return {
      problem: "UNSUPPORTED_RESPONSE_TYPE: response_type must be code",
    };
  }
  const scopes = (query.get("scope") ?? "").split(/[ \t\n\r]+/).filter((
    scope,
  ) => scope !== "");
  if (!scopes.every((scope) => KNOWN_SCOPES.has(scope))) {
    return { problem: "INVALID_SCOPE: Invalid scope" };
  }
  const codeChallenge = query.get("code_challenge");
  const codeChallengeMethod = query.get("code_challenge_method");
  if (codeChallenge !== null) {
    if (codeChallengeMethod !== "S256") {
      return {
        problem: "INVALID_REQUEST: code_challenge_method must be S256",
      };
    }
    if (!CODE_CHALLENGE_PATTERN.test(codeChallenge)) {
      return {
        problem:
          "INVALID_REQUEST: code_challenge must be 43 characters of base64url (SHA-256 of the verifier)",
      };
    }
  } else if (codeChallengeMethod !== null) {
    return {
      problem:
        "INVALID_REQUEST: code_challenge must be supplied with code_challenge_method",
    };
  }
  const state = query.get("state");
  if (consent === "deny") {
    target.searchParams.append("error", "access_denied");
  } else {
    const code = config.store.issueCode({
      clientId: client.clientId,
      userId,
      scope: [...new Set(scopes)].join(" "),
      redirectUri,
      codeChallenge: codeChallenge ?? undefined,
      expiresAtMs: config.store.clock.now() + config.codeTtlSeconds * 1000,
    });
    target.searchParams.append("code", code);
  }
  if (state !== null) target.searchParams.append("state", state);
  return { location: target.href };
}
