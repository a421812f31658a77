// A real redis-server for tests: its own process on a free loopback port,
// nothing written to disk, always stopped. Missing redis-server is a test
// failure that says how to install it, never a skip.

const READY = "Ready to accept connections";
const START_TIMEOUT_MS = 10_000;
const LOG_TAIL_CHARS = 4_000;

/** A running redis-server; `stop()`/`start()` simulate an outage. */
export class RedisServer implements AsyncDisposable {
  readonly port: number;
  #process: Deno.ChildProcess | undefined;
  #output: Promise<void> = Promise.resolve();
  #log = "";

  private constructor(port: number) {
    this.port = port;
  }

  /** `redis://127.0.0.1:<port>` */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts a server on a free loopback port and waits until it is ready. */
  static async start(): Promise<RedisServer> {
    // A port found free can be taken before redis binds it: try a few.
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const server = new RedisServer(freePort());
      try {
        await server.start();
        return server;
      } catch (error) {
        lastError = error;
        if (error instanceof RedisNotInstalledError) throw error;
      }
    }
    throw lastError;
  }

  /** (Re)starts the server on the same port, empty, and waits until ready. */
  async start(): Promise<void> {
    if (this.#process !== undefined) return;
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command("redis-server", {
        args: [
          "--port",
          String(this.port),
          "--bind",
          "127.0.0.1",
          "--save",
          "",
          "--appendonly",
          "no",
          "--protected-mode",
          "yes",
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new RedisNotInstalledError();
      }
      throw error;
    }
    this.#process = child;
    this.#log = "";
    const ready = Promise.withResolvers<void>();
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        this.#log = (this.#log + text).slice(-LOG_TAIL_CHARS);
        if (this.#log.includes(READY)) ready.resolve();
      }
    };
    this.#output = Promise.all([
      collect(child.stdout),
      collect(child.stderr),
    ]).then(() => {});
    const timer = setTimeout(
      () =>
        ready.reject(
          new Error(
            `redis-server not ready after ${START_TIMEOUT_MS} ms:\n${this.#log}`,
          ),
        ),
      START_TIMEOUT_MS,
    );
    child.status.then((status) =>
      ready.reject(
        new Error(
          `redis-server exited (${status.code}) before it was ready:\n${this.#log}`,
        ),
      )
    );
    try {
      await ready.promise;
    } catch (error) {
      await this.stop();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the server (SIGKILL: no goodbye to clients, like a crash). */
  async stop(): Promise<void> {
    const child = this.#process;
    if (child === undefined) return;
    this.#process = undefined;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child.status;
    await this.#output;
  }

  /** Freezes the server (SIGSTOP): connections stay open, nothing answers. */
  freeze(): void {
    this.#process?.kill("SIGSTOP");
  }

  /** Lets a frozen server go on (SIGCONT), answering what it was sent. */
  thaw(): void {
    this.#process?.kill("SIGCONT");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** redis-server is not on PATH: the Redis tests cannot run. */
export class RedisNotInstalledError extends Error {
  constructor() {
    super(
      "redis-server is not installed, so the Redis tests cannot run: install it (`apt-get install -y redis-server`; `.ci/run` does this) and run the tests again.",
    );
    this.name = "RedisNotInstalledError";
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}
