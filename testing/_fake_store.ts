// Everything the fake has issued: codes, access and refresh tokens. Values
// are counters per instance, so runs are reproducible.

import type { Clock } from "../auth/token.ts";

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

export interface AccessTokenRecord {
  readonly clientId: string;
  readonly userId: string | undefined;
  readonly scope: string;
  readonly expiresAtMs: number;
  /** The authorization this token descends from (user tokens only). */
  readonly grantId: number | undefined;
}

export interface RefreshTokenRecord {
  readonly clientId: string;
  readonly userId: string;
  readonly scope: string;
  /** Issued through PKCE: rotates on every refresh, no secret needed. */
  readonly pkce: boolean;
  readonly grantId: number;
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
  used: boolean;
}

export class TokenStore {
  readonly clock: Clock;
  readonly accessTokenTtlSeconds: number;
  #accessCount = 0;
  #refreshCount = 0;
  #codeCount = 0;
  #grantCount = 0;
  readonly accessTokens = new Map<string, AccessTokenRecord>();
  readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  readonly codes = new Map<string, CodeRecord>();
  readonly #revokedGrants = new Set<number>();

  constructor(clock: Clock, accessTokenTtlSeconds: number) {
    this.clock = clock;
    this.accessTokenTtlSeconds = accessTokenTtlSeconds;
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
    const token = `fake-access-${++this.#accessCount}`;
    const expiresAtMs = this.clock.now() + this.accessTokenTtlSeconds * 1000;
    this.accessTokens.set(token, {
      clientId,
      userId,
      scope,
      expiresAtMs,
      grantId,
    });
    return { token, expiresAtMs };
  }

  issueRefreshToken(
    clientId: string,
    userId: string,
    scope: string,
    pkce: boolean,
    grantId: number,
  ): string {
    const token = `fake-refresh-${++this.#refreshCount}`;
    this.refreshTokens.set(token, {
      clientId,
      userId,
      scope,
      pkce,
      grantId,
      status: "active",
    });
    return token;
  }

  issueCode(record: Omit<CodeRecord, "used" | "grantId">): string {
    const code = `fake-code-${++this.#codeCount}`;
    this.codes.set(code, {
      ...record,
      grantId: this.newGrantId(),
      used: false,
    });
    return code;
  }

  /** The record of a usable (not revoked) access token, expired or not. */
  accessToken(token: string): AccessTokenRecord | undefined {
    const record = this.accessTokens.get(token);
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
    this.#accessCount = 0;
    this.#refreshCount = 0;
    this.#codeCount = 0;
    this.#grantCount = 0;
    this.accessTokens.clear();
    this.refreshTokens.clear();
    this.codes.clear();
    this.#revokedGrants.clear();
  }
}
