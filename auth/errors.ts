/**
 * The one error class for everything that comes from the outside world.
 *
 * @module
 */

/**
 * Options of {@linkcode SpotifyAuthError}.
 *
 * @example Report an OAuth error from a custom provider
 * ```ts
 * import { SpotifyAuthError, type SpotifyAuthErrorOptions } from "@spotify-sdk/auth";
 *
 * const options: SpotifyAuthErrorOptions = {
 *   status: 400,
 *   description: "Invalid refresh token",
 * };
 * const error = new SpotifyAuthError(
 *   "invalid_grant",
 *   "The stored refresh token was rejected: log in again",
 *   options,
 * );
 * console.log(error.status, error.description); // 400 "Invalid refresh token"
 * ```
 */
export interface SpotifyAuthErrorOptions {
  /** HTTP status of the response that caused the error, if any. */
  status?: number;
  /** Spotify's `error_description`, if it sent one. */
  description?: string;
  /** The underlying error (a network failure, an abort reason, …). */
  cause?: unknown;
}

/**
 * An authorization failure: an OAuth error from Spotify, a bad callback, an
 * unusable response, a network problem or a timeout.
 *
 * `code` is stable and safe to branch on: Spotify's OAuth `error`
 * (`invalid_client`, `invalid_grant`, `invalid_request`,
 * `unsupported_grant_type`, `invalid_scope`, `access_denied`, …) or one of
 * ours: `state_mismatch`, `missing_code`, `invalid_response`, `http_error`,
 * `network_error`, `timeout`, `authorization_required`.
 *
 * Messages never contain client secrets, tokens, codes or verifiers.
 *
 * @example Branch on the code
 * ```ts
 * import { AuthorizationCode, SpotifyAuthError } from "@spotify-sdk/auth";
 *
 * try {
 *   AuthorizationCode.parseResponseUrl(
 *     "http://127.0.0.1:8080/callback?error=access_denied&state=abc",
 *     { expectedState: "abc" },
 *   );
 * } catch (error) {
 *   if (error instanceof SpotifyAuthError && error.code === "access_denied") {
 *     console.log("The user said no.");
 *   }
 * }
 * ```
 */
export class SpotifyAuthError extends Error {
  /** Stable machine-readable error code. */
  readonly code: string;
  /** HTTP status of the response that caused the error, if any. */
  readonly status?: number;
  /** Spotify's `error_description`, if it sent one. */
  readonly description?: string;

  /**
   * Creates an error.
   *
   * @param code Stable machine-readable error code.
   * @param message Human-readable explanation; must not contain secrets.
   * @param options Status, description and cause.
   */
  constructor(
    code: string,
    message: string,
    options: SpotifyAuthErrorOptions = {},
  ) {
    super(
      message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "SpotifyAuthError";
    this.code = code;
    if (options.status !== undefined) this.status = options.status;
    if (options.description !== undefined) {
      this.description = options.description;
    }
  }
}
