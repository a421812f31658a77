/**
 * A token cache in a JSON file that several processes (and the Python SDK)
 * can share.
 *
 * @module
 */

import {
  assertStorableToken,
  SNAKE_CASE_FIELDS,
  snakeCaseRecord,
  tokenFromRecord,
} from "./_cache_token.ts";
import {
  backoffDelay,
  positiveDuration,
  repeatEvery,
} from "./_cache_backoff.ts";
import { randomHex } from "./_encoding.ts";
import { sleep } from "./_timing.ts";
import { SpotifyAuthError } from "./errors.ts";
import type { TokenCache, TokenInfo } from "./token.ts";

/**
 * Options of {@linkcode FileTokenCache}.
 *
 * @example A cache file in an app directory, with shorter lock timings
 * ```ts
 * import { FileTokenCache, type FileTokenCacheOptions } from "@spotify-sdk/auth";
 *
 * const dir = await Deno.makeTempDir();
 * const options: FileTokenCacheOptions = {
 *   path: `${dir}/my-app/token.json`, // missing directories are created
 *   staleLockMs: 10_000,
 *   lockTimeoutMs: 5_000,
 * };
 * const cache = new FileTokenCache(options);
 * await cache.lock(() =>
 *   cache.set({ accessToken: "BQD...", expiresAt: Date.now() / 1000 + 3600 })
 * );
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface FileTokenCacheOptions {
  /**
   * Where the token lives. Missing parent directories are created with mode
   * `0700`; the lock file is this path plus `.lock`.
   *
   * @default {".spotify_sdk_token.json"}
   */
  path?: string;
  /**
   * How old (by modification time) a lock file must be before it is treated
   * as abandoned and broken. A live holder touches its lock every
   * `staleLockMs / 3`, so only a crashed or frozen process lets it age. A
   * lock whose owner process on this host is gone is broken at once when
   * the cache can tell (see {@linkcode FileTokenCache}).
   *
   * @default {30_000}
   */
  staleLockMs?: number;
  /**
   * How long {@linkcode FileTokenCache.lock} waits for the lock before it
   * rejects with a {@linkcode SpotifyAuthError} whose `code` is `"timeout"`.
   *
   * @default {60_000}
   */
  lockTimeoutMs?: number;
}

const DEFAULT_PATH = ".spotify_sdk_token.json";
const LOCK_BACKOFF_MIN_MS = 5;
const LOCK_BACKOFF_MAX_MS = 100;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A {@linkcode TokenCache} that keeps the token in a JSON file, in the
 * Python SDK's shape, so a Python app and a Deno app (and any number of
 * processes) can share one file:
 *
 * ```json
 * {"access_token": "…", "expires_at": 1700000000, "refresh_token": null, "scope": null}
 * ```
 *
 * `expires_at` is in Unix seconds; absent optional fields are written as
 * `null`. Reading is forgiving: a missing, empty, half-written or corrupt
 * file, a directory at the path, or JSON without a non-empty string
 * `access_token` and a finite numeric `expires_at` reads as no token;
 * optional fields that are `null` or wrongly typed are dropped; unknown keys
 * are ignored.
 *
 * Writing is atomic: the token goes to a new temporary file in the same
 * directory, created with mode `0600` (the token is never readable by other
 * users, not even for a moment), is flushed to disk, then renamed over the
 * old file. Readers see the old token or the new one, never a mix.
 *
 * {@linkcode FileTokenCache.lock} lets processes that share the file
 * refresh once per expiry instead of once each.
 *
 * Permissions: `get()` needs `--allow-read`, `set()` and `lock()` need
 * `--allow-read` and `--allow-write` for the file's directory. On Unix,
 * with `--allow-run` and either `--allow-sys=hostname` or read access to
 * `/etc/hostname`, `lock()` also recognises a lock left by a dead process on
 * this host at once (it probes the owner pid with `SIGCONT`) instead of
 * after `staleLockMs`.
 *
 * @example Keep a user's token between runs
 * ```ts
 * import { AuthorizationCode, FileTokenCache } from "@spotify-sdk/auth";
 *
 * const auth = new AuthorizationCode({
 *   clientId: "your-client-id",
 *   redirectUri: "http://127.0.0.1:8080/callback",
 *   pkce: true,
 *   tokenCache: new FileTokenCache({ path: ".cache/spotify_token.json" }),
 * });
 * ```
 *
 * @example Read and write the file directly
 * ```ts
 * import { FileTokenCache } from "@spotify-sdk/auth";
 *
 * const dir = await Deno.makeTempDir();
 * const cache = new FileTokenCache({ path: `${dir}/token.json` });
 * await cache.set({ accessToken: "BQD...", expiresAt: Date.now() / 1000 + 3600 });
 * const token = await cache.get();
 * console.log(token?.expiresAt);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FileTokenCache implements TokenCache {
  #path: string;
  #staleLockMs: number;
  #lockTimeoutMs: number;

  /**
   * Creates a cache for the file at `options.path`. Nothing is read or
   * written until the first call.
   *
   * @param options Path and lock timing.
   * @throws {TypeError} When `path` is not a non-empty string.
   * @throws {RangeError} When a duration is not a positive finite number.
   */
  constructor(options: FileTokenCacheOptions = {}) {
    const path = options.path ?? DEFAULT_PATH;
    if (typeof path !== "string" || path === "") {
      throw new TypeError(
        "FileTokenCache: options.path must be a non-empty string (a file path).",
      );
    }
    this.#path = path;
    this.#staleLockMs = positiveDuration(
      "FileTokenCache",
      options.staleLockMs,
      30_000,
      "staleLockMs",
    );
    this.#lockTimeoutMs = positiveDuration(
      "FileTokenCache",
      options.lockTimeoutMs,
      60_000,
      "lockTimeoutMs",
    );
  }

  /** The path of the token file, as given. */
  get path(): string {
    return this.#path;
  }

  /**
   * Reads the token from the file.
   *
   * @returns The stored token, or `undefined` when the file is missing or
   * does not hold a usable token.
   * @throws {Deno.errors.NotCapable} When Deno's permissions do not allow
   * reading the file (a configuration mistake, so it is reported rather than
   * read as a miss); the message names the flag and the path.
   * @throws {Error} When the operating system denies access to the file.
   */
  async get(): Promise<TokenInfo | undefined> {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(this.#path);
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) {
        throw notCapable(
          `FileTokenCache cannot read the token file "${this.#path}": run with --allow-read (e.g. --allow-read=${
            directoryOf(this.#path)
          }).`,
          error,
        );
      }
      if (error instanceof Deno.errors.PermissionDenied) {
        throw new Error(
          `FileTokenCache cannot read the token file "${this.#path}": the operating system denied access; check the owner and mode of the file.`,
          { cause: error },
        );
      }
      // Missing file, a directory at the path, a file as a parent directory,
      // I/O errors: there is no token to be had here.
      return undefined;
    }
    let record: unknown;
    try {
      record = JSON.parse(decoder.decode(bytes));
    } catch {
      return undefined;
    }
    return tokenFromRecord(record, SNAKE_CASE_FIELDS);
  }

  /**
   * Replaces the stored token atomically: writes a new `0600` temporary file
   * next to the token file, flushes it to disk and renames it over the old
   * one. Missing parent directories are created with mode `0700`.
   *
   * @param token The token to store.
   * @throws {TypeError} When `token` lacks a non-empty `accessToken` or a
   * finite `expiresAt`, or has a non-string optional field.
   * @throws {Deno.errors.NotCapable} When Deno's permissions do not allow
   * writing; the message names the flags and the path.
   * @throws {Error} When the file cannot be written; the message names the
   * path (never the token), the old file is left intact and no temporary
   * file is left behind.
   */
  async set(token: TokenInfo): Promise<void> {
    assertStorableToken(token, "FileTokenCache");
    const bytes = encoder.encode(JSON.stringify(snakeCaseRecord(token)));
    const tempPath = siblingTempPath(this.#path);
    let file: Deno.FsFile | undefined;
    let created = false;
    try {
      file = await this.#createExclusive(tempPath);
      created = true;
      await writeAll(file, bytes);
      await file.syncData();
      file.close();
      file = undefined;
      await Deno.rename(tempPath, this.#path);
    } catch (error) {
      try {
        file?.close();
      } catch {
        // Already closed; nothing more to release.
      }
      if (created) await Deno.remove(tempPath).catch(() => {});
      if (error instanceof Deno.errors.NotCapable) {
        throw notCapable(this.#needsReadWrite("store the token in"), error);
      }
      throw new Error(
        `FileTokenCache could not write the token file "${this.#path}": ${
          messageOf(error)
        }`,
        { cause: error },
      );
    }
  }

  /**
   * Runs `fn` while holding the lock file `<path>.lock`, so that processes
   * sharing the token file take turns (one refresh per expiry across all of
   * them). The lock is not re-entrant: calling `lock()` again from inside
   * `fn` waits until it times out.
   *
   * The lock file is created exclusively and holds the owner's pid, host and
   * start time. Waiters retry with jittered exponential backoff (5 ms up to
   * 100 ms). A lock is broken when its owner process on this host is known
   * to be gone, or when it has not been touched for `staleLockMs`; breakers
   * take a second, short-lived lock (`<path>.lock.break`) and re-check
   * before deleting, so two waiters never both break and both enter. While
   * `fn` runs, the lock file's modification time is refreshed every
   * `staleLockMs / 3`. The lock is released when `fn` settles, whether it
   * resolves or throws, and only if it is still ours.
   *
   * @typeParam T What `fn` resolves to.
   * @param fn The work to do under the lock.
   * @returns What `fn` resolves to.
   * @throws {SpotifyAuthError} With `code` `"timeout"` when the lock could not
   * be taken within `lockTimeoutMs`; the message names the lock file and its
   * holder.
   * @throws {Deno.errors.NotCapable} When Deno's permissions do not allow
   * creating the lock file.
   * @throws Whatever `fn` throws, after releasing the lock.
   *
   * @example Refresh once across processes
   * ```ts
   * import { FileTokenCache } from "@spotify-sdk/auth";
   *
   * const dir = await Deno.makeTempDir();
   * const cache = new FileTokenCache({ path: `${dir}/token.json` });
   * await cache.lock(async () => {
   *   const token = await cache.get();
   *   if (token === undefined || token.expiresAt < Date.now() / 1000) {
   *     await cache.set({ accessToken: "BQD...", expiresAt: Date.now() / 1000 + 3600 });
   *   }
   * });
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  async lock<T>(fn: () => Promise<T>): Promise<T> {
    const lockPath = `${this.#path}.lock`;
    const owner = JSON.stringify({
      pid: Deno.pid,
      hostname: hostIdentity(),
      acquiredAt: new Date().toISOString(),
      nonce: randomHex(16),
    });
    await this.#acquire(lockPath, owner);
    const stopTouching = repeatEvery(
      Math.max(1, Math.floor(this.#staleLockMs / 3)),
      async () => {
        const now = new Date();
        await Deno.utime(lockPath, now, now);
      },
    );
    try {
      return await fn();
    } finally {
      await stopTouching();
      await releaseIfOurs(lockPath, owner);
    }
  }

  async #acquire(lockPath: string, owner: string): Promise<void> {
    const startedAt = Date.now();
    let lastHolder: LockFileState | undefined;
    for (let attempt = 0;; attempt++) {
      if (await this.#tryCreateLock(lockPath, owner)) return;
      const holder = await readLockFile(lockPath);
      if (holder !== undefined) {
        lastHolder = holder;
        if (this.#isStale(holder) && await this.#breakLock(lockPath, holder)) {
          continue;
        }
      }
      const waited = Date.now() - startedAt;
      if (waited >= this.#lockTimeoutMs) {
        throw new SpotifyAuthError(
          "timeout",
          `FileTokenCache timed out after ${waited} ms waiting for the lock file "${lockPath}"${
            describeHolder(lastHolder)
          }. If no such process is running, delete the lock file.`,
        );
      }
      if (holder !== undefined) {
        await sleep(
          Math.min(
            backoffDelay(attempt, LOCK_BACKOFF_MIN_MS, LOCK_BACKOFF_MAX_MS),
            this.#lockTimeoutMs - waited,
          ),
        );
      }
    }
  }

  /** Creates the lock file with our owner record; `false` when it exists. */
  async #tryCreateLock(lockPath: string, owner: string): Promise<boolean> {
    let file: Deno.FsFile;
    try {
      file = await this.#createExclusive(lockPath);
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) return false;
      if (error instanceof Deno.errors.NotCapable) {
        throw notCapable(this.#needsReadWrite("lock"), error);
      }
      throw new Error(
        `FileTokenCache could not create the lock file "${lockPath}": ${
          messageOf(error)
        }`,
        { cause: error },
      );
    }
    try {
      await writeAll(file, encoder.encode(owner));
    } catch (error) {
      file.close();
      await Deno.remove(lockPath).catch(() => {});
      throw new Error(
        `FileTokenCache could not write the lock file "${lockPath}": ${
          messageOf(error)
        }`,
        { cause: error },
      );
    }
    file.close();
    return true;
  }

  #isStale(holder: LockFileState): boolean {
    if (Date.now() - holder.mtimeMs > this.#staleLockMs) return true;
    const owner = holder.owner;
    if (owner === undefined || owner.pid === Deno.pid) return false;
    const host = hostIdentity();
    return host !== "" && owner.hostname === host &&
      processIsGone(owner.pid);
  }

  /**
   * Deletes the lock file if it is still exactly the stale one we judged,
   * under a short second lock so that only one waiter breaks it. Returns
   * whether it is worth retrying at once.
   */
  async #breakLock(lockPath: string, judged: LockFileState): Promise<boolean> {
    const breakPath = `${lockPath}.break`;
    let file: Deno.FsFile;
    try {
      file = await Deno.open(breakPath, {
        write: true,
        createNew: true,
        mode: 0o600,
      });
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) return false;
      // Another waiter is breaking the lock; its break lock can only be
      // stale if it died within those few milliseconds.
      const breaker = await readLockFile(breakPath);
      if (
        breaker !== undefined &&
        Date.now() - breaker.mtimeMs > this.#staleLockMs
      ) {
        await Deno.remove(breakPath).catch(() => {});
      }
      return false;
    }
    try {
      file.close();
      const current = await readLockFile(lockPath);
      if (current === undefined) return true;
      if (
        current.content !== judged.content ||
        current.mtimeMs !== judged.mtimeMs
      ) {
        return false;
      }
      await Deno.remove(lockPath).catch(() => {});
      return true;
    } finally {
      await Deno.remove(breakPath).catch(() => {});
    }
  }

  /** Opens a new file exclusively, creating missing directories `0700`. */
  async #createExclusive(path: string): Promise<Deno.FsFile> {
    const options: Deno.OpenOptions = {
      write: true,
      createNew: true,
      mode: 0o600,
    };
    try {
      return await Deno.open(path, options);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      await Deno.mkdir(directoryOf(path), { recursive: true, mode: 0o700 });
      return await Deno.open(path, options);
    }
  }

  #needsReadWrite(what: string): string {
    const dir = directoryOf(this.#path);
    return `FileTokenCache cannot ${what} the token file "${this.#path}": run with --allow-read and --allow-write (e.g. --allow-read=${dir} --allow-write=${dir}).`;
  }
}

interface LockOwner {
  pid: number;
  hostname: string;
  acquiredAt?: string;
}

interface LockFileState {
  content: string;
  mtimeMs: number;
  owner: LockOwner | undefined;
}

/** Reads a lock file; `undefined` when it does not exist (any more). */
async function readLockFile(
  path: string,
): Promise<LockFileState | undefined> {
  try {
    const stat = await Deno.stat(path);
    const content = await Deno.readTextFile(path);
    return {
      content,
      mtimeMs: stat.mtime?.getTime() ?? 0,
      owner: parseOwner(content),
    };
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    return undefined;
  }
}

function parseOwner(content: string): LockOwner | undefined {
  try {
    const value = JSON.parse(content);
    if (
      typeof value === "object" && value !== null &&
      Number.isSafeInteger(value.pid) && typeof value.hostname === "string"
    ) {
      return {
        pid: value.pid,
        hostname: value.hostname,
        acquiredAt: typeof value.acquiredAt === "string"
          ? value.acquiredAt
          : undefined,
      };
    }
  } catch {
    // Being written right now, or not ours: judged by age alone.
  }
  return undefined;
}

async function releaseIfOurs(lockPath: string, owner: string): Promise<void> {
  try {
    if (await Deno.readTextFile(lockPath) === owner) {
      await Deno.remove(lockPath);
    }
  } catch {
    // Gone already (broken as stale) or unreadable: another waiter will
    // break it after staleLockMs; failing here would hide fn's outcome.
  }
}

function describeHolder(holder: LockFileState | undefined): string {
  const owner = holder?.owner;
  if (owner === undefined) return "";
  const host = owner.hostname === "" ? "" : ` on host ${owner.hostname}`;
  const since = owner.acquiredAt === undefined
    ? ""
    : ` since ${owner.acquiredAt}`;
  return ` (held by pid ${owner.pid}${host}${since})`;
}

let cachedHostIdentity: string | undefined;

/**
 * This machine's name, when it can be learnt without a permission prompt
 * (`--allow-sys=hostname`, or read access to `/etc/hostname`); `""` when it
 * cannot, and then dead owners are recognised by the lock's age only.
 */
function hostIdentity(): string {
  if (cachedHostIdentity !== undefined) return cachedHostIdentity;
  let host = "";
  try {
    if (
      Deno.permissions.querySync({ name: "sys", kind: "hostname" }).state ===
        "granted"
    ) {
      host = Deno.hostname();
    } else if (
      Deno.build.os !== "windows" &&
      Deno.permissions.querySync({ name: "read", path: "/etc/hostname" })
          .state === "granted"
    ) {
      host = Deno.readTextFileSync("/etc/hostname").trim();
    }
  } catch {
    host = "";
  }
  cachedHostIdentity = host;
  return host;
}

/**
 * Whether process `pid` on this host has certainly exited. Asks the kernel
 * with `SIGCONT`, the one signal that is harmless to a running process (it
 * only resumes a stopped one), and only when `--allow-run` was granted;
 * otherwise, and on Windows, the answer is "not known to be gone".
 */
function processIsGone(pid: number): boolean {
  if (Deno.build.os === "windows") return false;
  try {
    if (Deno.permissions.querySync({ name: "run" }).state !== "granted") {
      return false;
    }
    Deno.kill(pid, "SIGCONT");
    return false;
  } catch (error) {
    // ESRCH: no such process. EPERM (another user's live process) is alive.
    return error instanceof Deno.errors.NotFound;
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await file.write(bytes.subarray(written));
  }
}

function lastSeparator(path: string): number {
  const slash = path.lastIndexOf("/");
  return Deno.build.os === "windows"
    ? Math.max(slash, path.lastIndexOf("\\"))
    : slash;
}

function directoryOf(path: string): string {
  const index = lastSeparator(path);
  if (index === -1) return ".";
  if (index === 0) return path.slice(0, 1);
  return path.slice(0, index);
}

/** A unique hidden name in the same directory, so rename stays atomic. */
function siblingTempPath(path: string): string {
  const index = lastSeparator(path);
  return `${path.slice(0, index + 1)}.${path.slice(index + 1)}.${
    randomHex(8)
  }.tmp`;
}

function notCapable(message: string, cause: unknown): Error {
  return new Deno.errors.NotCapable(message, { cause });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
