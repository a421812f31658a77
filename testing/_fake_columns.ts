// Compact storage for what the fake keeps per request: every access token it
// issued and every request it logged. Kept as columns of typed arrays (with
// repeated strings stored once) rather than one object per entry, because
// under load (hundreds of thousands of grants) a growing heap of small
// objects made garbage collection the fake's main cost over HTTP.

import type {
  FakeEndpoint,
  FakeRequestRecord,
} from "./fake_accounts_server.ts";

/** Stores each distinct string once and names it by a small integer. */
export class Interner {
  #strings: string[] = [];
  #ids = new Map<string, number>();

  /** The id of `value`, assigning one if new. */
  id(value: string): number {
    let id = this.#ids.get(value);
    if (id === undefined) {
      id = this.#strings.length;
      this.#strings.push(value);
      this.#ids.set(value, id);
    }
    return id;
  }

  /** The string an id names. */
  string(id: number): string {
    return this.#strings[id];
  }

  clear(): void {
    this.#strings = [];
    this.#ids.clear();
  }
}

const INITIAL_CAPACITY = 256;

function grow<T extends Float64Array | Int32Array | Uint16Array | Uint8Array>(
  column: T,
  capacity: number,
): T {
  const grown = new (column.constructor as new (length: number) => T)(
    capacity,
  );
  grown.set(column);
  return grown;
}

/** An issued access token, as the endpoints read it. */
export interface AccessTokenRecord {
  readonly clientId: string;
  readonly userId: string | undefined;
  readonly scope: string;
  readonly expiresAtMs: number;
  /** The authorization this token descends from (user tokens only). */
  readonly grantId: number | undefined;
}

const ACCESS_TOKEN_PREFIX = "fake-access-";
const NONE = -1;

/**
 * The access tokens issued so far. Tokens are `fake-access-<n>`, numbered
 * from 1, so the number is the row.
 */
export class AccessTokenTable {
  readonly #strings: Interner;
  #count = 0;
  #expiresAtMs = new Float64Array(INITIAL_CAPACITY);
  #clientId = new Int32Array(INITIAL_CAPACITY);
  #userId = new Int32Array(INITIAL_CAPACITY);
  #scope = new Int32Array(INITIAL_CAPACITY);
  #grantId = new Int32Array(INITIAL_CAPACITY);

  constructor(strings: Interner) {
    this.#strings = strings;
  }

  /** Records a new token and returns it. */
  add(
    clientId: string,
    userId: string | undefined,
    scope: string,
    expiresAtMs: number,
    grantId: number | undefined,
  ): string {
    const row = this.#count;
    if (row === this.#expiresAtMs.length) this.#grow(row * 2);
    const strings = this.#strings;
    this.#expiresAtMs[row] = expiresAtMs;
    this.#clientId[row] = strings.id(clientId);
    this.#userId[row] = userId === undefined ? NONE : strings.id(userId);
    this.#scope[row] = strings.id(scope);
    this.#grantId[row] = grantId ?? NONE;
    this.#count = row + 1;
    return ACCESS_TOKEN_PREFIX + this.#count;
  }

  /** The record of a token this table issued, or `undefined`. */
  get(token: string): AccessTokenRecord | undefined {
    if (!token.startsWith(ACCESS_TOKEN_PREFIX)) return undefined;
    const digits = token.slice(ACCESS_TOKEN_PREFIX.length);
    const number = Number(digits);
    if (
      !Number.isInteger(number) || number < 1 || number > this.#count ||
      String(number) !== digits
    ) {
      return undefined;
    }
    const row = number - 1;
    const strings = this.#strings;
    const userId = this.#userId[row];
    const grantId = this.#grantId[row];
    return {
      clientId: strings.string(this.#clientId[row]),
      userId: userId === NONE ? undefined : strings.string(userId),
      scope: strings.string(this.#scope[row]),
      expiresAtMs: this.#expiresAtMs[row],
      grantId: grantId === NONE ? undefined : grantId,
    };
  }

  clear(): void {
    this.#count = 0;
    this.#grow(INITIAL_CAPACITY, true);
  }

  #grow(capacity: number, empty = false): void {
    if (empty) {
      this.#expiresAtMs = new Float64Array(capacity);
      this.#clientId = new Int32Array(capacity);
      this.#userId = new Int32Array(capacity);
      this.#scope = new Int32Array(capacity);
      this.#grantId = new Int32Array(capacity);
      return;
    }
    this.#expiresAtMs = grow(this.#expiresAtMs, capacity);
    this.#clientId = grow(this.#clientId, capacity);
    this.#userId = grow(this.#userId, capacity);
    this.#scope = grow(this.#scope, capacity);
    this.#grantId = grow(this.#grantId, capacity);
  }
}

/** The endpoints a logged request can hit, by column code. */
const ENDPOINTS: readonly FakeEndpoint[] = ["token", "authorize", "me"];
const ENDPOINT_CODES: Readonly<Record<FakeEndpoint, number>> = {
  token: 0,
  authorize: 1,
  me: 2,
};

/**
 * The request log. A request is logged on arrival (status 0) and completed
 * through its id as its grant type, client and status become known. Ids keep
 * counting across `clear()`, so a request still in flight at `reset()`
 * cannot complete a row that a newer request has taken.
 */
export class RequestLog {
  readonly #strings: Interner;
  /** Ids below this were cleared: their late updates are dropped. */
  #firstId = 0;
  #count = 0;
  #endpoint = new Uint8Array(INITIAL_CAPACITY);
  #status = new Uint16Array(INITIAL_CAPACITY);
  #at = new Float64Array(INITIAL_CAPACITY);
  #grantType = new Int32Array(INITIAL_CAPACITY);
  #clientId = new Int32Array(INITIAL_CAPACITY);

  constructor(strings: Interner) {
    this.#strings = strings;
  }

  /** Logs a request that just arrived; returns its id. */
  add(endpoint: FakeEndpoint, at: number): number {
    const row = this.#count;
    if (row === this.#at.length) this.#grow(row * 2);
    this.#endpoint[row] = ENDPOINT_CODES[endpoint];
    this.#status[row] = 0;
    this.#at[row] = at;
    this.#grantType[row] = NONE;
    this.#clientId[row] = NONE;
    this.#count = row + 1;
    return this.#firstId + row;
  }

  setStatus(id: number, status: number): void {
    const row = id - this.#firstId;
    if (row >= 0) this.#status[row] = status;
  }

  setGrantType(id: number, grantType: string): void {
    const row = id - this.#firstId;
    if (row >= 0) this.#grantType[row] = this.#strings.id(grantType);
  }

  setClientId(id: number, clientId: string): void {
    const row = id - this.#firstId;
    if (row >= 0) this.#clientId[row] = this.#strings.id(clientId);
  }

  /** Every request logged, in order, as frozen objects. */
  snapshot(): readonly FakeRequestRecord[] {
    const strings = this.#strings;
    const requests: FakeRequestRecord[] = [];
    for (let row = 0; row < this.#count; row++) {
      const request: {
        -readonly [K in keyof FakeRequestRecord]: FakeRequestRecord[K];
      } = {
        endpoint: ENDPOINTS[this.#endpoint[row]],
        status: this.#status[row],
        at: this.#at[row],
      };
      const grantType = this.#grantType[row];
      if (grantType !== NONE) request.grantType = strings.string(grantType);
      const clientId = this.#clientId[row];
      if (clientId !== NONE) request.clientId = strings.string(clientId);
      requests.push(Object.freeze(request));
    }
    return requests;
  }

  clear(): void {
    this.#firstId += this.#count;
    this.#count = 0;
    this.#endpoint = new Uint8Array(INITIAL_CAPACITY);
    this.#status = new Uint16Array(INITIAL_CAPACITY);
    this.#at = new Float64Array(INITIAL_CAPACITY);
    this.#grantType = new Int32Array(INITIAL_CAPACITY);
    this.#clientId = new Int32Array(INITIAL_CAPACITY);
  }

  #grow(capacity: number): void {
    this.#endpoint = grow(this.#endpoint, capacity);
    this.#status = grow(this.#status, capacity);
    this.#at = grow(this.#at, capacity);
    this.#grantType = grow(this.#grantType, capacity);
    this.#clientId = grow(this.#clientId, capacity);
  }
}
