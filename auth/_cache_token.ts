/**
 * Reading and checking tokens that come back from a persistent store.
 * Private to the persistent caches.
 *
 * @module
 */

import { describeType } from "./provider_options.ts";
import type { TokenInfo } from "./token.ts";

/** Where each {@linkcode TokenInfo} field lives in a stored record. */
export interface StoredTokenFields {
  accessToken: string;
  expiresAt: string;
  refreshToken: string;
  scope: string;
  authorizedAt: string;
}

/** The Python SDK's on-disk names. */
export const SNAKE_CASE_FIELDS: StoredTokenFields = {
  accessToken: "access_token",
  expiresAt: "expires_at",
  refreshToken: "refresh_token",
  scope: "scope",
  authorizedAt: "authorized_at",
};

/** The names of {@linkcode TokenInfo} itself. */
export const CAMEL_CASE_FIELDS: StoredTokenFields = {
  accessToken: "accessToken",
  expiresAt: "expiresAt",
  refreshToken: "refreshToken",
  scope: "scope",
  authorizedAt: "authorizedAt",
};

/**
 * Turns a stored record into a token, or `undefined` when it cannot be one.
 *
 * The store is untrusted (another program, an older version, a half-written
 * file): the record must be an object with a non-empty string access token
 * and a finite numeric expiry. Optional fields that are `null`, missing or
 * of the wrong type are dropped (an empty refresh token too, as it could
 * never be used); unknown keys are ignored.
 */
export function tokenFromRecord(
  record: unknown,
  fields: StoredTokenFields,
): TokenInfo | undefined {
  const reading = readTokenRecord(record, fields);
  return "token" in reading ? reading.token : undefined;
}

/**
 * Like {@linkcode tokenFromRecord}, but says why a record is no token, for a
 * message that helps a user repair the store. Names the stored keys and the
 * types found, never a value.
 */
export function readTokenRecord(
  record: unknown,
  fields: StoredTokenFields,
): { token: TokenInfo } | { problem: string } {
  if (typeof record !== "object" || record === null || Array.isArray(record)) {
    return { problem: `it holds ${describeType(record)}, not an object` };
  }
  const values = record as Record<string, unknown>;
  const accessToken = values[fields.accessToken];
  if (!(fields.accessToken in values)) {
    return { problem: `"${fields.accessToken}" is missing` };
  }
  if (typeof accessToken !== "string") {
    return {
      problem: `"${fields.accessToken}" is ${
        describeType(accessToken)
      }, not a string`,
    };
  }
  if (accessToken === "") {
    return { problem: `"${fields.accessToken}" is empty` };
  }
  const expiresAt = values[fields.expiresAt];
  if (!(fields.expiresAt in values)) {
    return { problem: `"${fields.expiresAt}" is missing` };
  }
  if (typeof expiresAt !== "number") {
    return {
      problem: `"${fields.expiresAt}" is ${
        describeType(expiresAt)
      }, not a number`,
    };
  }
  if (!Number.isFinite(expiresAt)) {
    return { problem: `"${fields.expiresAt}" is not a finite number` };
  }
  const refreshToken = values[fields.refreshToken];
  const scope = values[fields.scope];
  const authorizedAt = values[fields.authorizedAt];
  return {
    token: {
      accessToken,
      expiresAt,
      ...(typeof refreshToken === "string" && refreshToken !== ""
        ? { refreshToken }
        : {}),
      ...(typeof scope === "string" ? { scope } : {}),
      ...(typeof authorizedAt === "number" && Number.isFinite(authorizedAt)
        ? { authorizedAt }
        : {}),
    },
  };
}

/**
 * Throws a `TypeError` unless `token` would read back as a token: storing
 * something every reader treats as a miss is always a bug in the caller.
 * The message names the cache and the field, never a value.
 */
export function assertStorableToken(token: TokenInfo, cacheName: string): void {
  if (typeof token !== "object" || token === null) {
    throw new TypeError(`${cacheName}.set() expects a TokenInfo object.`);
  }
  if (typeof token.accessToken !== "string" || token.accessToken === "") {
    throw new TypeError(
      `${cacheName}.set() expects token.accessToken to be a non-empty string.`,
    );
  }
  if (
    typeof token.expiresAt !== "number" || !Number.isFinite(token.expiresAt)
  ) {
    throw new TypeError(
      `${cacheName}.set() expects token.expiresAt to be a finite number (Unix seconds).`,
    );
  }
  if (
    token.authorizedAt !== undefined &&
    (typeof token.authorizedAt !== "number" ||
      !Number.isFinite(token.authorizedAt))
  ) {
    throw new TypeError(
      `${cacheName}.set() expects token.authorizedAt to be a finite number (Unix seconds) or undefined.`,
    );
  }
  for (const field of ["refreshToken", "scope"] as const) {
    const value = token[field];
    if (value !== undefined && typeof value !== "string") {
      throw new TypeError(
        `${cacheName}.set() expects token.${field} to be a string or undefined.`,
      );
    }
  }
}

/**
 * The shared on-disk and in-store shape: the Python SDK's four snake_case
 * keys plus `authorized_at`, absent values written as `null` so the Python
 * SDK reads it and we read the Python SDK's files.
 */
export interface SnakeCaseTokenRecord {
  access_token: string;
  expires_at: number;
  refresh_token: string | null;
  scope: string | null;
  authorized_at: number | null;
}

/** Builds the {@linkcode SnakeCaseTokenRecord} stored for `token`. */
export function snakeCaseRecord(token: TokenInfo): SnakeCaseTokenRecord {
  return {
    access_token: token.accessToken,
    expires_at: token.expiresAt,
    refresh_token: token.refreshToken ?? null,
    scope: token.scope ?? null,
    authorized_at: token.authorizedAt ?? null,
  };
}

/**
 * Caches of this package register how to say, for the
 * `authorization_required` message, where they looked and why they found no
 * usable token (never the token itself). A registry rather than a method, so
 * bundlers can still drop a cache class that an app never uses.
 */
const missDescribers = new WeakMap<object, () => Promise<string>>();

/** Registers `describe` as the miss description of `cache`. */
export function registerMissDescriber(
  cache: object,
  describe: () => Promise<string>,
): void {
  missDescribers.set(cache, describe);
}

/** The registered miss description of `cache`, if it has one. */
export function describeCacheMiss(cache: object): Promise<string> | undefined {
  return missDescribers.get(cache)?.();
}
