// Everything the fake has issued: codes, access and refresh tokens. Values
// are counters per instance, so runs are reproducible.

import type { Clock } from "../auth/token.ts";
import {
  type AccessTokenRecord,
  AccessTokenTable,
  Interner,
} from "./_fake_columns.ts";

export type { AccessTokenRecord };

/** A registered app, as the fake keeps it. */
export interface RegisteredClient {
  readonly clientId: string;
  readonly clientSecret: string | undefined;
  readonly redirectUris: readonly string[];
}

/** A profile the fake serves at `/v1/me`. */
export interface RegisteredUser {
  readonly id: string;
  readonly displayName: string;
  readonly email?: string;
  readonly country?: string;
  readonly product?: string;
}

export interface RefreshTokenRecord {
  readonly clientId: string;
  readonly userId: string;
  readonly scope: string;
  /** Issued through PKCE: rotates on every refresh, no secret needed. */
  readonly pkce: boolean;
  readonly grantId: number;
  /** The sign-in this token descends from, in milliseconds; rotation keeps it. */
  readonly authorizedAtMs: number;
  status: "active" | "rotated" | "revoked";
}

export interface CodeRecord {
  readonly clientId: string;
  readonly userId: string;
  readonly scope: string;
  readonly redirectUri: string;
  readonly codeChallenge: string | undefined;
  readonly expiresAtMs: number;
  readonly grantId: number;
  /** When the user signed in at `/authorize`, in milliseconds. */
  readonly authorizedAtMs: number;
  used: boolean;
}

export class TokenStore {
  readonly clock: Clock;
  readonly accessTokenTtlSeconds: number;
  /** Refresh-token lifetime from the sign-in, in milliseconds. */
  readonly refreshTokenTtlMs: number;
  #refreshCount = 0;
  #codeCount = 0;
  #grantCount = 0;
  readonly #strings = new Interner();
  readonly #accessTokens = new AccessTokenTable(this.#strings);
  readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  readonly codes = new Map<string, CodeRecord>();
  readonly #revokedGrants = new Set<number>();

  constructor(
    clock: Clock,
    accessTokenTtlSeconds: number,
    refreshTokenTtlSeconds: number,
  ) {
    this.clock = clock;
    this.accessTokenTtlSeconds = accessTokenTtlSeconds;
    this.refreshTokenTtlMs = refreshTokenTtlSeconds * 1000;
  }

  newGrantId(): number {
    return ++this.#grantCount;
  }

  issueAccessToken(
    clientId: string,
    userId: string | undefined,
    scope: string,
    grantId: number | undefined,
  ): { token: string; expiresAtMs: number } {
    const expiresAtMs = this.clock.now() + this.accessTokenTtlSeconds * 1000;
    const token = this.#accessTokens.add(
      clientId,
      userId,
      scope,
      expiresAtMs,
      grantId,
    );
    return { token, expiresAtMs };
  }

  issueRefreshToken(
    clientId: string,
    userId: string,
    scope: string,
    pkce: boolean,
    grantId: number,
    authorizedAtMs: number,
  ): string {
    const token = `fake-refresh-${++this.#refreshCount}`;
    this.refreshTokens.set(token, {
      clientId,
      userId,
      scope,
      pkce,
      grantId,
      authorizedAtMs,
      status: "active",
    });
    return token;
  }

  /** When a refresh token stops working: its sign-in plus the lifetime. */
  refreshTokenExpiresAtMs(record: RefreshTokenRecord): number {
    return record.authorizedAtMs + this.refreshTokenTtlMs;
  }

  /** Whether a refresh token's lifetime is over by the clock. */
  refreshTokenExpired(record: RefreshTokenRecord): boolean {
    return this.clock.now() >= this.refreshTokenExpiresAtMs(record);
  }

  /** Issues a code; the user signs in now, which starts a new lifetime. */
  issueCode(
    record: Omit<CodeRecord, "used" | "grantId" | "authorizedAtMs">,
  ): string {
    const code = `fake-code-${++this.#codeCount}`;
    this.codes.set(code, {
      ...record,
      grantId: this.newGrantId(),
      authorizedAtMs: this.clock.now(),
      used: false,
    });
    return code;
  }

  /** The record of a usable (not revoked) access token, expired or not. */
  accessToken(token: string): AccessTokenRecord | undefined {
    const record = this.#accessTokens.get(token);
    if (record === undefined) return undefined;
    if (
      record.grantId !== undefined && this.#revokedGrants.has(record.grantId)
    ) {
      return undefined;
    }
    return record;
  }

  /**
   * Revokes everything issued from one authorization: its refresh tokens
   * (rotated ones included) read as revoked, its access tokens as unknown.
   */
  revokeGrant(grantId: number): void {
    this.#revokedGrants.add(grantId);
    for (const record of this.refreshTokens.values()) {
      if (record.grantId === grantId && record.status === "active") {
        record.status = "revoked";
      }
    }
  }

  clear(): void {
    this.#refreshCount = 0;
    this.#codeCount = 0;
    this.#grantCount = 0;
    this.#accessTokens.clear();
    this.#strings.clear();
    this.refreshTokens.clear();
    this.codes.clear();
    this.#revokedGrants.clear();
  }
}
