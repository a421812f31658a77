/**
 * A token cache in a JSON file that several processes (and the Python SDK)
 * can share.
 *
 * @module
 */

import {
  assertStorableToken,
  readTokenRecord,
  registerMissDescriber,
  SNAKE_CASE_FIELDS,
  snakeCaseRecord,
} from "./_cache_token.ts";
import {
  backoffDelay,
  holdLease,
  LOCK_BACKOFF_MAX_MS,
  LOCK_BACKOFF_MIN_MS,
  positiveDuration,
} from "./_cache_backoff.ts";
import { randomHex } from "./_encoding.ts";
import { sleep } from "./_timing.ts";
import { SpotifyAuthError } from "./errors.ts";
import type { TokenCache, TokenCacheLockOptions, TokenInfo } from "./token.ts";

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
/** The largest token file read; a real one is well under 2 KiB. */
const MAX_TOKEN_FILE_BYTES = 64 * 1024;
/** The largest lock file read; ours hold about 150 bytes. */
const MAX_LOCK_FILE_BYTES = 4 * 1024;
/** The largest pid `kill(2)` takes without wrapping into a process group. */
const MAX_PID = 0x7fff_ffff;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A {@linkcode TokenCache} that keeps the token in a JSON file, in the
 * Python SDK's shape, so a Python app and a Deno app (and any number of
 * processes) can share one file:
 *
 * ```json
 * {"access_token": "…", "expires_at": 1700000000, "refresh_token": null, "scope": null, "authorized_at": null}
 * ```
 *
 * `expires_at` and `authorized_at` are in Unix seconds; absent optional
 * fields are written as `null`. A file the Python SDK wrote (no
 * `authorized_at`) reads with `authorizedAt` absent.
 *
 * Reading is forgiving: a missing, empty, half-written or corrupt file, or
 * JSON without a non-empty string `access_token` and a finite numeric
 * `expires_at`, reads as no token; optional fields that are `null` or
 * wrongly typed are dropped; unknown keys are ignored. Only a regular file
 * of at most 64 KiB is read (a symbolic link to one is followed): a
 * directory, FIFO, device or larger file at the path is a miss too, never a
 * hang.
 *
 * Writing is atomic: the token goes to a new temporary file in the same
 * directory, created with mode `0600` (the token is never readable by other
 * users, not even for a moment), is flushed to disk, then renamed over the
 * old file. Readers see the old token or the new one, never a mix. Each
 * write also removes this cache's temporary files older than `staleLockMs`
 * that a crashed process left behind.
 *
 * {@linkcode FileTokenCache.lock} lets processes that share the file
 * refresh once per expiry instead of once each.
 *
 * Permissions: `get()` needs `--allow-read`, `set()`, `delete()` and
 * `lock()` need `--allow-read` and `--allow-write` for the file's
 * directory. On Unix, with `--allow-run` and either `--allow-sys=hostname`
 * or read access to `/etc/hostname`, `lock()` also recognises a lock left by
 * a dead process on this host at once (it probes the owner pid with
 * `SIGCONT`) instead of after `staleLockMs`.
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
    registerMissDescriber(this, () => this.#describeMiss());
  }

  /** The path of the token file, as given. */
  get path(): string {
    return this.#path;
  }

  /**
   * Reads the token from the file.
   *
   * @returns The stored token, or `undefined` when the file is missing or
   * does not hold a usable token (see {@linkcode FileTokenCache} for what
   * is read).
   * @throws {Deno.errors.NotCapable} When Deno's permissions do not allow
   * reading the file (a configuration mistake, so it is reported rather than
   * read as a miss); the message names the flag and the path.
   * @throws {Error} When the operating system denies access to the file.
   */
  async get(): Promise<TokenInfo | undefined> {
    return (await this.#read()).token;
  }

  /**
   * Replaces the stored token atomically: writes a new `0600` temporary file
   * next to the token file, flushes it to disk and renames it over the old
   * one. Missing parent directories are created with mode `0700`. Then
   * removes this cache's temporary files older than `staleLockMs` (left by
   * a crashed process).
   *
   * @param token The token to store.
   * @throws {TypeError} When `token` lacks a non-empty `accessToken` or a
   * finite `expiresAt`, or has a wrongly typed optional field.
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
      file = await createExclusive(tempPath);
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
    await this.#removeStaleTempFiles();
  }

  /**
   * Removes the token file (sign-out, or a refresh token Spotify no longer
   * accepts). A missing file is fine. A symbolic link at the path is
   * removed, not its target; a directory or other non-file at the path is
   * left alone, as it holds no token.
   *
   * @throws {Deno.errors.NotCapable} When Deno's permissions do not allow
   * removing the file; the message names the flags and the path.
   * @throws {Error} When the file exists but cannot be removed; the message
   * names the path.
   *
   * @example Sign out on this machine
   * ```ts
   * import { FileTokenCache } from "@spotify-sdk/auth";
   *
   * const dir = await Deno.makeTempDir();
   * const cache = new FileTokenCache({ path: `${dir}/token.json` });
   * await cache.set({ accessToken: "BQD...", expiresAt: Date.now() / 1000 + 3600 });
   * await cache.delete();
   * console.log(await cache.get()); // undefined
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  async delete(): Promise<void> {
    try {
      const info = await Deno.lstat(this.#path);
      if (!info.isFile && !info.isSymlink) return;
      await Deno.remove(this.#path);
    } catch (error) {
      if (
        error instanceof Deno.errors.NotFound ||
        error instanceof Deno.errors.NotADirectory
      ) {
        return;
      }
      if (error instanceof Deno.errors.NotCapable) {
        throw notCapable(this.#needsReadWrite("delete"), error);
      }
      throw new Error(
        `FileTokenCache could not delete the token file "${this.#path}": ${
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
   * The lock file appears whole: the owner's pid, host and start time are
   * written to a temporary file first, which is then hard-linked into place
   * (exclusive: it fails when the lock exists), so a crash never leaves an
   * empty lock. Waiters retry with jittered exponential backoff (5 ms up to
   * 100 ms). A lock is broken when its owner process on this host is known
   * to be gone, or when it has not been touched for `staleLockMs`; breakers
   * take a second, short-lived lock (`<path>.lock.break`) and re-check
   * before deleting, so two waiters never both break and both enter. A lock
   * path that is not a regular file (a directory, a symbolic link, a FIFO)
   * or cannot be read is never removed: it is waited on like a held lock.
   * Only a pid that is a positive integer other than 1 is ever signalled.
   * While `fn` runs, the lock file's modification time is refreshed every
   * `staleLockMs / 3`. The lock is released when `fn` settles, whether it
   * resolves or throws, and only if it is still ours.
   *
   * @typeParam T What `fn` resolves to.
   * @param fn The work to do under the lock.
   * @param options `signal`: aborting it stops the wait for the lock at once
   * (a provider's `close()` does this); it does not interrupt `fn` once the
   * lock is held.
   * @returns What `fn` resolves to.
   * @throws {SpotifyAuthError} With `code` `"timeout"` when the lock could not
   * be taken within `lockTimeoutMs`; the message names the lock file and its
   * holder, or what is at the lock path instead of a lock file.
   * @throws `signal.reason` when `signal` aborts before the lock is taken.
   * @throws {TypeError} When `options.signal` is not an `AbortSignal`.
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
   *
   * @example Give up waiting when the app shuts down
   * ```ts
   * import { FileTokenCache } from "@spotify-sdk/auth";
   *
   * const dir = await Deno.makeTempDir();
   * const cache = new FileTokenCache({ path: `${dir}/token.json` });
   * const shutdown = new AbortController();
   * shutdown.abort(new Error("shutting down"));
   * await cache.lock(() => Promise.resolve(), { signal: shutdown.signal })
   *   .catch((error) => console.log(error.message)); // "shutting down"
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  async lock<T>(
    fn: () => Promise<T>,
    options?: TokenCacheLockOptions,
  ): Promise<T> {
    const signal = options?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError(
        "FileTokenCache.lock(): options.signal must be an AbortSignal or undefined.",
      );
    }
    signal?.throwIfAborted();
    const lockPath = `${this.#path}.lock`;
    const owner = JSON.stringify({
      pid: Deno.pid,
      hostname: hostIdentity(),
      acquiredAt: new Date().toISOString(),
      nonce: randomHex(16),
    });
    await this.#acquire(lockPath, owner, signal);
    // A fresh modification time tells other processes the holder is alive.
    return await holdLease(this.#staleLockMs, {
      renew: async () => {
        const now = new Date();
        await Deno.utime(lockPath, now, now);
      },
      release: () => releaseIfOurs(lockPath, owner),
    }, fn);
  }

  /**
   * Describes, for the `authorization_required` message, where this cache
   * looked and why it found no usable token: `no token file at "<path>"
   * yet`, or that the file exists but could not be used and why (not valid
   * JSON, a wrongly typed field, a directory, too large…). Reads the file
   * afresh; never includes a token value. Registered in the constructor.
   */
  async #describeMiss(): Promise<string> {
    const where = `the token file "${this.#path}"`;
    let reading: TokenFileReading;
    try {
      reading = await this.#read();
    } catch (error) {
      const why = error instanceof Deno.errors.NotCapable
        ? "Deno's permissions do not allow reading it: run with --allow-read"
        : "the operating system denied access to it";
      return `${where} could not be read (${why})`;
    }
    if (reading.token !== undefined) {
      return reading.token.refreshToken === undefined
        ? `${where} holds an access token but no refresh token`
        : `${where} holds a token`;
    }
    if (reading.absentBecause !== undefined) {
      return `no token file at "${this.#path}" (${reading.absentBecause})`;
    }
    if (reading.problem === undefined) {
      return `no token file at "${this.#path}" yet`;
    }
    return `${where} exists but could not be used (${reading.problem})`;
  }

  /** Reads the token file, saying why there is no token when there is none. */
  async #read(): Promise<TokenFileReading> {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(this.#path);
    } catch (error) {
      this.#throwIfAccessDenied(error);
      if (error instanceof Deno.errors.NotFound) {
        // A symbolic link to nothing is a miss that deserves a hint.
        const link = await Deno.lstat(this.#path).catch(() => undefined);
        return link === undefined
          ? {}
          : { problem: "it is a symbolic link to a missing file" };
      }
      if (error instanceof Deno.errors.NotADirectory) {
        return { absentBecause: "a parent of that path is not a directory" };
      }
      // A symbolic link loop, an I/O error: there is no token to be had.
      return { problem: `it could not be inspected: ${messageOf(error)}` };
    }
    // Checked before opening: opening a FIFO blocks until a writer comes,
    // and a device such as /dev/zero never ends.
    const notAFile = describeNonFile(info);
    if (notAFile !== undefined) return { problem: notAFile };
    if (info.size > MAX_TOKEN_FILE_BYTES) return { problem: TOO_LARGE };
    let bytes: Uint8Array;
    try {
      // Should the path be swapped for a device after the check above, the
      // read is still bounded.
      // try/finally rather than `using`: the module must parse on Node 20.
      const file = await Deno.open(this.#path, { read: true });
      try {
        bytes = await readAtMost(file, MAX_TOKEN_FILE_BYTES + 1, info.size);
      } finally {
        file.close();
      }
    } catch (error) {
      this.#throwIfAccessDenied(error);
      if (error instanceof Deno.errors.NotFound) return {};
      return { problem: `reading it failed: ${messageOf(error)}` };
    }
    if (bytes.length > MAX_TOKEN_FILE_BYTES) return { problem: TOO_LARGE };
    if (bytes.length === 0) return { problem: "it is empty" };
    let record: unknown;
    try {
      record = JSON.parse(decoder.decode(bytes));
    } catch {
      return { problem: "it is not valid JSON" };
    }
    return readTokenRecord(record, SNAKE_CASE_FIELDS);
  }

  #throwIfAccessDenied(error: unknown): void {
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
  }

  async #acquire(
    lockPath: string,
    owner: string,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const startedAt = Date.now();
    // The owner record is written once, whole, to a private temporary file
    // and linked into place on each attempt: the lock path never holds a
    // partly written record, whenever this process dies.
    const ownerPath = siblingTempPath(lockPath);
    let ownerWritten = false;
    let ownerTouchedAt = 0;
    let retriedAtOnce = false;
    let lastSeen: LockPathState | undefined;
    try {
      for (let attempt = 0;; attempt++) {
        signal?.throwIfAborted();
        if (!ownerWritten) {
          await this.#writeOwnerFile(ownerPath, lockPath, owner);
          ownerWritten = true;
          ownerTouchedAt = Date.now();
        } else if (Date.now() - ownerTouchedAt > this.#staleLockMs / 3) {
          // The lock takes the owner file's modification time: keep it
          // fresh, or a lock taken after a long wait would look stale.
          const now = new Date();
          await Deno.utime(ownerPath, now, now).catch(() => {});
          ownerTouchedAt = now.getTime();
        }
        const created = await this.#linkLock(ownerPath, lockPath, owner);
        if (created === true) {
          if (signal?.aborted) {
            await releaseIfOurs(lockPath, owner);
            throw signal.reason;
          }
          return;
        }
        // Our owner file was removed (by a writer's clean-up after a very
        // long wait): write it again.
        if (created === "owner-file-gone") ownerWritten = false;
        const state = created === "owner-file-gone"
          ? { kind: "gone" as const }
          : await inspectLockPath(lockPath);
        if (state.kind === "gone") {
          // Released between our two looks: try again at once, but never
          // twice in a row, so nothing can make this loop spin.
          if (!retriedAtOnce) {
            retriedAtOnce = true;
            continue;
          }
        } else {
          lastSeen = state;
          if (
            state.kind === "held" && this.#isStale(state) &&
            await this.#breakLock(lockPath, state)
          ) {
            continue;
          }
        }
        retriedAtOnce = false;
        const waited = Date.now() - startedAt;
        if (waited >= this.#lockTimeoutMs) {
          throw new SpotifyAuthError(
            "timeout",
            `FileTokenCache timed out after ${waited} ms waiting for the lock file "${lockPath}"${
              describeLockPath(lastSeen)
            }`,
          );
        }
        await sleep(
          Math.min(
            backoffDelay(attempt, LOCK_BACKOFF_MIN_MS, LOCK_BACKOFF_MAX_MS),
            this.#lockTimeoutMs - waited,
          ),
          signal,
        );
      }
    } finally {
      if (ownerWritten) await Deno.remove(ownerPath).catch(() => {});
    }
  }

  async #writeOwnerFile(
    ownerPath: string,
    lockPath: string,
    owner: string,
  ): Promise<void> {
    let file: Deno.FsFile | undefined;
    try {
      file = await createExclusive(ownerPath);
      await writeAll(file, encoder.encode(owner));
    } catch (error) {
      const opened = file !== undefined;
      try {
        file?.close();
      } catch {
        // Already closed.
      }
      if (opened) await Deno.remove(ownerPath).catch(() => {});
      throw this.#lockCreationError(lockPath, error);
    }
    file.close();
  }

  /**
   * Links the owner file to the lock path: `true` when we hold the lock,
   * `false` when something is there already.
   */
  async #linkLock(
    ownerPath: string,
    lockPath: string,
    owner: string,
  ): Promise<boolean | "owner-file-gone"> {
    try {
      await Deno.link(ownerPath, lockPath);
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) return false;
      if (error instanceof Deno.errors.NotFound) return "owner-file-gone";
      if (error instanceof Deno.errors.NotCapable) {
        throw this.#lockCreationError(lockPath, error);
      }
      // A file system without hard links (FAT, some network shares): create
      // the lock in place. A crash between its creation and the write can
      // then leave an empty lock, which ages out after staleLockMs.
      return await this.#createLockInPlace(lockPath, owner);
    }
  }

  async #createLockInPlace(lockPath: string, owner: string): Promise<boolean> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(lockPath, {
        write: true,
        createNew: true,
        mode: 0o600,
      });
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) return false;
      throw this.#lockCreationError(lockPath, error);
    }
    try {
      await writeAll(file, encoder.encode(owner));
    } catch (error) {
      file.close();
      await Deno.remove(lockPath).catch(() => {});
      throw this.#lockCreationError(lockPath, error);
    }
    file.close();
    return true;
  }

  #lockCreationError(lockPath: string, error: unknown): Error {
    if (error instanceof Deno.errors.NotCapable) {
      return notCapable(this.#needsReadWrite("lock"), error);
    }
    return new Error(
      `FileTokenCache could not create the lock file "${lockPath}": ${
        messageOf(error)
      }`,
      { cause: error },
    );
  }

  #isStale(holder: HeldLock): boolean {
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
  async #breakLock(lockPath: string, judged: HeldLock): Promise<boolean> {
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
      // stale if it died within those few milliseconds. Anything but a
      // regular file there is not ours to remove.
      const breaker = await inspectLockPath(breakPath);
      if (
        breaker.kind === "held" &&
        Date.now() - breaker.mtimeMs > this.#staleLockMs
      ) {
        await Deno.remove(breakPath).catch(() => {});
      }
      return false;
    }
    try {
      file.close();
      const current = await inspectLockPath(lockPath);
      if (current.kind === "gone") return true;
      if (
        current.kind !== "held" ||
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

  /**
   * Removes temporary files of this cache (token and lock-owner files) that
   * are older than `staleLockMs`: a process killed while writing leaves
   * them, some holding a whole token. Younger ones may belong to a writer
   * at work. Best effort: failures are ignored.
   */
  async #removeStaleTempFiles(): Promise<void> {
    const index = lastSeparator(this.#path);
    const prefix = this.#path.slice(0, index + 1);
    const pattern = new RegExp(
      `^\\.${
        escapeRegExp(this.#path.slice(index + 1))
      }(?:\\.lock)?\\.[0-9a-f]{${2 * TEMP_SUFFIX_BYTES}}\\.tmp$`,
    );
    const dir = prefix === "" ? "." : prefix;
    try {
      // Asked first: without read access to the directory (only to the
      // file), listing it would prompt the user in a terminal.
      const access = await Deno.permissions.query({ name: "read", path: dir });
      if (access.state !== "granted") return;
      for await (const entry of Deno.readDir(dir)) {
        if (!entry.isFile || !pattern.test(entry.name)) continue;
        const path = prefix + entry.name;
        try {
          const info = await Deno.lstat(path);
          const mtimeMs = info.mtime?.getTime();
          if (
            info.isFile && mtimeMs !== undefined &&
            Date.now() - mtimeMs > this.#staleLockMs
          ) {
            await Deno.remove(path);
          }
        } catch {
          // Renamed or removed meanwhile by its writer or another cleaner.
        }
      }
    } catch {
      // The directory cannot be listed: nothing to clean up that we can see.
    }
  }

  #needsReadWrite(what: string): string {
    const dir = directoryOf(this.#path);
    return `FileTokenCache cannot ${what} the token file "${this.#path}": run with --allow-read and --allow-write (e.g. --allow-read=${dir} --allow-write=${dir}).`;
  }
}

const TOO_LARGE = `it is larger than ${MAX_TOKEN_FILE_BYTES / 1024} KiB`;
const TEMP_SUFFIX_BYTES = 8;

/** What reading the token file found: a token, nothing, or a problem. */
interface TokenFileReading {
  token?: TokenInfo;
  /** Why the file holds no usable token; absent when there is no file. */
  problem?: string;
  /** Why there can be no file at the path (e.g. a parent is a file). */
  absentBecause?: string;
}

interface LockOwner {
  pid: number;
  hostname: string;
  acquiredAt?: string;
}

/** A regular, readable lock file. */
interface HeldLock {
  kind: "held";
  content: string;
  mtimeMs: number;
  owner: LockOwner | undefined;
}

/** Something at a lock path that is not a lock file we can judge. */
interface UnusableLockPath {
  kind: "unusable";
  /** What is there, e.g. "it is a directory". */
  problem: string;
}

type LockPathState = HeldLock | UnusableLockPath | { kind: "gone" };

/**
 * Looks at a lock path without following symbolic links and without
 * opening anything but a small regular file (opening a FIFO would block).
 */
async function inspectLockPath(path: string): Promise<LockPathState> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    if (error instanceof Deno.errors.NotFound) return { kind: "gone" };
    return {
      kind: "unusable",
      problem: `it cannot be inspected (${messageOf(error)})`,
    };
  }
  const notAFile = describeNonFile(info);
  if (notAFile !== undefined) return { kind: "unusable", problem: notAFile };
  if (info.size > MAX_LOCK_FILE_BYTES) {
    return {
      kind: "unusable",
      problem: `it is larger than ${MAX_LOCK_FILE_BYTES / 1024} KiB`,
    };
  }
  let content: string;
  try {
    const file = await Deno.open(path, { read: true });
    try {
      content = decoder.decode(
        await readAtMost(file, MAX_LOCK_FILE_BYTES, info.size),
      );
    } finally {
      file.close();
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    if (error instanceof Deno.errors.NotFound) return { kind: "gone" };
    return {
      kind: "unusable",
      problem: error instanceof Deno.errors.PermissionDenied
        ? "it cannot be read (permission denied)"
        : `it cannot be read (${messageOf(error)})`,
    };
  }
  return {
    kind: "held",
    content,
    mtimeMs: info.mtime?.getTime() ?? 0,
    owner: parseOwner(content),
  };
}

/** "it is a directory" and the like; `undefined` for a regular file. */
function describeNonFile(info: Deno.FileInfo): string | undefined {
  if (info.isFile) return undefined;
  if (info.isDirectory) return "it is a directory";
  if (info.isSymlink) return "it is a symbolic link";
  if (info.isFifo) return "it is a FIFO, not a regular file";
  if (info.isCharDevice || info.isBlockDevice) {
    return "it is a device, not a regular file";
  }
  if (info.isSocket) return "it is a socket, not a regular file";
  return "it is not a regular file";
}

function parseOwner(content: string): LockOwner | undefined {
  try {
    const value = JSON.parse(content);
    if (
      typeof value === "object" && value !== null &&
      isSignallablePid(value.pid) && typeof value.hostname === "string"
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
    // Not written by this cache: judged by age alone.
  }
  return undefined;
}

/**
 * Whether `pid` names one process: `kill(2)` reads 0 as our own process
 * group, a negative pid as a whole group, 1 is init, and anything past
 * 2^31 - 1 would wrap around into one of those.
 */
function isSignallablePid(pid: unknown): pid is number {
  return typeof pid === "number" && Number.isInteger(pid) && pid > 1 &&
    pid <= MAX_PID;
}

async function releaseIfOurs(lockPath: string, owner: string): Promise<void> {
  try {
    const current = await inspectLockPath(lockPath);
    if (current.kind === "held" && current.content === owner) {
      await Deno.remove(lockPath);
    }
  } catch {
    // Gone already (broken as stale) or unreadable: another waiter will
    // break it after staleLockMs; failing here would hide fn's outcome.
  }
}

function describeLockPath(state: LockPathState | undefined): string {
  if (state?.kind === "unusable") {
    return `: ${state.problem}, not a lock file this cache wrote, so it is never removed automatically. Remove it if nothing else uses it.`;
  }
  const owner = state?.kind === "held" ? state.owner : undefined;
  let holder = "";
  if (owner !== undefined) {
    const host = owner.hostname === "" ? "" : ` on host ${owner.hostname}`;
    const since = owner.acquiredAt === undefined
      ? ""
      : ` since ${owner.acquiredAt}`;
    holder = ` (held by pid ${owner.pid}${host}${since})`;
  }
  return `${holder}. If no such process is running, delete the lock file.`;
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
 * otherwise, and on Windows, the answer is "not known to be gone". Only a
 * single process is ever signalled (see {@linkcode isSignallablePid}).
 */
function processIsGone(pid: number): boolean {
  if (Deno.build.os === "windows" || !isSignallablePid(pid)) return false;
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

/** Opens a new file exclusively, creating missing directories `0700`. */
async function createExclusive(path: string): Promise<Deno.FsFile> {
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

/**
 * Reads up to `limit` bytes. `expected` is the size the file had: reading
 * stops there without a second read for the end of the file, and goes on
 * (still bounded) only when the file turns out longer.
 */
async function readAtMost(
  file: Deno.FsFile,
  limit: number,
  expected: number,
): Promise<Uint8Array> {
  let buffer = new Uint8Array(Math.min(limit, Math.max(expected + 1, 256)));
  let length = 0;
  while (length < limit) {
    if (length === buffer.length) {
      const grown = new Uint8Array(Math.min(limit, buffer.length * 2));
      grown.set(buffer);
      buffer = grown;
    }
    const read = await file.read(buffer.subarray(length));
    if (read === null) break;
    length += read;
    if (length === expected) break;
  }
  return buffer.subarray(0, length);
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

/**
 * A unique hidden name in the same directory, so rename and link stay
 * atomic: `.<name>.<16 hex digits>.tmp`.
 */
function siblingTempPath(path: string): string {
  const index = lastSeparator(path);
  return `${path.slice(0, index + 1)}.${path.slice(index + 1)}.${
    randomHex(TEMP_SUFFIX_BYTES)
  }.tmp`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");
}

function notCapable(message: string, cause: unknown): Error {
  return new Deno.errors.NotCapable(message, { cause });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
