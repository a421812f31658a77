// What UserSessions keeps in Deno KV, and how it reads it back:
//   [...prefix, "session", id]   { signedInAt, expiresAt }   expireIn: session TTL
//   [...prefix, "token", id]     the session's TokenInfo (KvTokenCache)
//   [...prefix, "signin", state] a pending sign-in            expireIn: 10 min
// Every value read back is untrusted (another version of the app, a person
// with a KV console): a value of the wrong shape reads as absent.

import type {
  KvAtomicOperationLike,
  KvKeyLike,
  KvLike,
} from "./kv_token_cache.ts";
import type { Clock } from "./token.ts";

/** How long a sign-in may take, from `signIn()` to the callback. */
export const SIGN_IN_TTL_MS = 10 * 60 * 1000;

/** A session id or a sign-in state: 32 random bytes, base64url. */
const RANDOM_ID = /^[A-Za-z0-9_-]{43}$/;

/** Whether `value` has the shape of an id this module generates. */
export function isRandomId(value: unknown): value is string {
  return typeof value === "string" && RANDOM_ID.test(value);
}

/** A signed-in browser. Times are by the provider clock, in milliseconds. */
export interface SessionRecord {
  readonly signedInAt: number;
  readonly expiresAt: number;
}

/** A sign-in between `signIn()` and its callback. */
export interface PendingSignIn {
  /** Provider clock, milliseconds. */
  readonly createdAt: number;
  readonly successUrl: string;
  readonly codeVerifier?: string;
}

/** Reads a session record; junk and expired records read as absent. */
export function sessionFromValue(
  value: unknown,
  nowMs: number,
): SessionRecord | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { signedInAt, expiresAt } = value as Record<string, unknown>;
  if (!isFiniteNumber(signedInAt) || !isFiniteNumber(expiresAt)) {
    return undefined;
  }
  // KV deletes expired keys lazily: the record's own deadline decides.
  return nowMs < expiresAt ? { signedInAt, expiresAt } : undefined;
}

/** Reads a pending sign-in; junk reads as absent. */
export function pendingFromValue(value: unknown): PendingSignIn | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { createdAt, successUrl, codeVerifier } = value as Record<
    string,
    unknown
  >;
  if (!isFiniteNumber(createdAt) || typeof successUrl !== "string") {
    return undefined;
  }
  if (codeVerifier !== undefined && typeof codeVerifier !== "string") {
    return undefined;
  }
  return codeVerifier === undefined
    ? { createdAt, successUrl }
    : { createdAt, successUrl, codeVerifier };
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

/**
 * A view of the store for one session's `KvTokenCache`: every write without
 * its own `expireIn` gets the session's remaining lifetime, so a session's
 * token never outlives the session in KV (nobody would ever delete it), and
 * a token is written only while the session exists: a refresh that ends
 * after a sign-out (in any process) never writes the token back.
 */
export function expiringKv(
  kv: KvLike,
  sessionKey: KvKeyLike,
  expiresAtMs: number,
  clock: Clock,
): KvLike {
  const remaining = () => Math.max(1, Math.ceil(expiresAtMs - clock.now()));
  const withExpiry = (options?: { expireIn?: number }) =>
    options?.expireIn === undefined ? { expireIn: remaining() } : options;
  return {
    get: (key) => kv.get(key),
    set: async (key, value, options) => {
      const session = await kv.get(sessionKey);
      if (session.value === null) return; // signed out: nothing to keep
      // Fails (and writes nothing) if the session went away meanwhile.
      await kv.atomic()
        .check({ key: sessionKey, versionstamp: session.versionstamp })
        .set(key, value, withExpiry(options))
        .commit();
    },
    delete: (key) => kv.delete(key),
    atomic: () => {
      const inner = kv.atomic();
      const operation: KvAtomicOperationLike = {
        check: (...checks) => (inner.check(...checks), operation),
        set: (key: KvKeyLike, value: unknown, options) => (
          inner.set(key, value, withExpiry(options)), operation
        ),
        delete: (key: KvKeyLike) => (inner.delete(key), operation),
        commit: () => inner.commit(),
      };
      return operation;
    },
  };
}
