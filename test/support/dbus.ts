/**
 * A private D-Bus daemon for integration tests, and helpers that call methods and capture
 * signals on it.
 *
 * Needs `dbus-daemon` (Debian package `dbus`) and `busctl` (Debian package `systemd`). Method
 * calls and signal capture go through `busctl --json=short`, so replies arrive as JSON.
 *
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const DBUS_DAEMON = "dbus-daemon";
const BUSCTL = "busctl";

/** Maximum number of characters kept from a child process's error output. */
const MAX_CAPTURED_OUTPUT = 16_384;

// ---------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------

/**
 * Sends SIGTERM to a child process and waits for it to exit, then sends SIGKILL if it is still
 * running after `timeoutMs`. Resolves once the process has exited and been reaped.
 */
export async function stopChildProcess(child: ChildProcess, timeoutMs = 5_000): Promise<void> {
  if (hasExited(child)) {
    return;
  }
  const exited = waitForExit(child);
  child.kill("SIGTERM");
  if (await resolvesWithin(exited, timeoutMs)) {
    return;
  }
  child.kill("SIGKILL");
  await exited;
}

/** Children that `killOnTestProcessExit` kills if the test process exits before they do. */
const childrenToKillOnExit = new Set<ChildProcess>();

/**
 * Kills the child with SIGKILL if the test process exits first, for example when a test calls
 * `process.exit`, so no daemon outlives the run. Returns a function that removes the hook.
 *
 * NOTE: this runs on the process "exit" event only. A test process killed by a signal leaves
 * jamid and dbus-daemon running; dhtnode exits by itself when its stdin pipe closes.
 */
export function killOnTestProcessExit(child: ChildProcess): () => void {
  if (childrenToKillOnExit.size === 0) {
    process.once("exit", killRemainingChildren);
  }
  childrenToKillOnExit.add(child);
  return () => {
    childrenToKillOnExit.delete(child);
    if (childrenToKillOnExit.size === 0) {
      process.removeListener("exit", killRemainingChildren);
    }
  };
}

function killRemainingChildren(): void {
  for (const child of childrenToKillOnExit) {
    if (!hasExited(child)) {
      child.kill("SIGKILL");
    }
  }
  childrenToKillOnExit.clear();
}

/** Resolves when the child process has exited, at once if it already has. */
function waitForExit(child: ChildProcess): Promise<void> {
  if (hasExited(child)) {
    return Promise.resolve();
  }
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** True once the child has exited, or when it never started (spawn failed, so it has no pid). */
function hasExited(child: ChildProcess): boolean {
  return child.pid === undefined || child.exitCode !== null || child.signalCode !== null;
}

async function resolvesWithin(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Appends a stream's text to `target`, keeping only the last MAX_CAPTURED_OUTPUT characters. */
function captureOutput(stream: NodeJS.ReadableStream | null, target: { text: string }): void {
  stream?.setEncoding("utf8");
  stream?.on("data", (chunk: string) => {
    target.text = (target.text + chunk).slice(-MAX_CAPTURED_OUTPUT);
  });
}

// ---------------------------------------------------------------------------------------------
// The bus daemon
// ---------------------------------------------------------------------------------------------

/** A running private D-Bus daemon. */
export interface DbusDaemon {
  /** Address for `DBUS_SESSION_BUS_ADDRESS` and `busctl --address`, e.g. `unix:path=...`. */
  readonly address: string;
  /** Folder that contains the bus configuration and its socket. */
  readonly folder: string;
  readonly pid: number;
  /** Stops the daemon and removes its folder. Calling it again does nothing. */
  stop(): Promise<void>;
}

export interface DbusDaemonOptions {
  /** Milliseconds to wait for the daemon to print its address. */
  startTimeoutMs?: number;
}

/**
 * Builds a session-bus configuration that listens on a path socket in `folder` and allows
 * everything. It lists no service directories, because Debian's `jami-daemon` ships a D-Bus
 * activation file and a stock session bus would start a second jamid under the wrong HOME.
 * A path socket, unlike the abstract socket of `unix:tmpdir`, also works across network
 * namespaces.
 */
function buildBusConfig(folder: string): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=${folder}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`;
}

/**
 * Starts a private `dbus-daemon` in a new temporary folder and resolves once it prints its
 * address. Rejects with the daemon's error output if it exits or prints nothing within
 * `startTimeoutMs` (default 10 s). The daemon is already stopped when the promise rejects.
 */
export async function startDbusDaemon(options: DbusDaemonOptions = {}): Promise<DbusDaemon> {
  const folder = await mkdtemp(join(tmpdir(), "jams-dbus-"));
  const configPath = join(folder, "bus.conf");
  await writeFile(configPath, buildBusConfig(folder));

  const child = spawn(
    DBUS_DAEMON,
    [`--config-file=${configPath}`, "--nofork", "--print-address=1"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const removeExitHook = killOnTestProcessExit(child);
  const errors = { text: "" };
  captureOutput(child.stderr, errors);

  const stop = async () => {
    removeExitHook();
    await stopChildProcess(child);
    await rm(folder, { recursive: true, force: true });
  };

  try {
    const address = await readBusAddress(child, errors, options.startTimeoutMs ?? 10_000);
    return { address, folder, pid: child.pid!, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Reads the first stdout line of a `dbus-daemon --print-address=1`. */
function readBusAddress(
  child: ChildProcess,
  errors: { text: string },
  timeoutMs: number,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const onLine = (line: string) => {
      finish();
      resolve(line.trim());
    };
    const onExit = (code: number | null, signal: string | null) =>
      fail(`exited early (code ${code}, signal ${signal})`);
    const onError = (error: Error) =>
      fail(`failed to start (${error.message}); install the Debian package "dbus"`);
    const timer = setTimeout(() => fail(`printed no address within ${timeoutMs} ms`), timeoutMs);

    const finish = () => {
      clearTimeout(timer);
      lines.removeListener("line", onLine);
      child.removeListener("exit", onExit);
      child.removeListener("error", onError);
    };
    const fail = (reason: string) => {
      finish();
      reject(new Error(`${DBUS_DAEMON} ${reason}. Its error output:\n${errors.text}`));
    };

    lines.once("line", onLine);
    child.once("exit", onExit);
    child.once("error", onError);
  });
}

// ---------------------------------------------------------------------------------------------
// Method calls
// ---------------------------------------------------------------------------------------------

/** A D-Bus variant argument: the value and the signature of its content. */
export interface DbusVariant {
  signature: string;
  value: DbusValue;
}

/**
 * A method argument. A basic type takes a string, number, bigint or boolean, and an array a JS
 * array. A dictionary takes a plain object, and a struct an array of its members.
 */
export type DbusValue =
  | string
  | number
  | bigint
  | boolean
  | DbusVariant
  | DbusValue[]
  | { [key: string]: DbusValue };

/** One method call: where it goes and its arguments in D-Bus signature order. */
export interface DbusMethodCall {
  destination: string;
  path: string;
  interface: string;
  member: string;
  /** D-Bus signature of all arguments, e.g. `sa{ss}`. Empty or absent for no arguments. */
  signature?: string;
  args?: DbusValue[];
  /** Seconds `busctl` waits for the reply. */
  timeoutSeconds?: number;
}

/**
 * Calls a D-Bus method with `busctl` and returns the reply's values, decoded from busctl's
 * JSON (an empty array for a method that returns nothing). Rejects with busctl's error
 * message when the call fails, for example when no process owns `destination`.
 */
export async function callMethod(address: string, call: DbusMethodCall): Promise<unknown[]> {
  const signature = call.signature ?? "";
  const args = encodeArguments(signature, call.args ?? []);
  const command = [
    `--address=${address}`,
    "--json=short",
    `--timeout=${call.timeoutSeconds ?? 25}`,
    // Ends option parsing, so an argument that starts with "-" reaches the method unchanged.
    "--",
    "call",
    call.destination,
    call.path,
    call.interface,
    call.member,
    ...(signature === "" ? [] : [signature, ...args]),
  ];

  const { code, stdout, stderr } = await runBusctl(command);
  if (code !== 0) {
    throw new Error(
      `D-Bus call ${call.interface}.${call.member} on ${call.destination} failed: ` +
        (stderr.trim() || `busctl exited with code ${code}`),
    );
  }
  if (stdout.trim() === "") {
    return [];
  }
  const reply = JSON.parse(stdout) as { type: string; data: unknown[] };
  return reply.data;
}

function busctlNotRunnable(error: Error): Error {
  return new Error(
    `Failed to run ${BUSCTL} (${error.message}); install the Debian package "systemd"`,
  );
}

function runBusctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(BUSCTL, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("error", (error) => reject(busctlNotRunnable(error)));
    child.once("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Turns typed arguments into busctl's command-line form, e.g. `a{ss}` → `2 k1 v1 k2 v2`. */
export function encodeArguments(signature: string, values: DbusValue[]): string[] {
  const types = splitSignature(signature);
  if (types.length !== values.length) {
    throw new Error(
      `D-Bus signature "${signature}" has ${types.length} arguments ` +
        `but ${values.length} were given`,
    );
  }
  return types.flatMap((type, i) => encodeValue(type, values[i]!));
}

function encodeValue(type: string, value: DbusValue): string[] {
  if (type === "v") {
    const variant = value as DbusVariant;
    return [variant.signature, ...encodeValue(variant.signature, variant.value)];
  }
  if (type.startsWith("a{")) {
    const [keyType, valueType] = splitSignature(type.slice(2, -1)) as [string, string];
    const entries = Object.entries(value as Record<string, DbusValue>);
    return [
      String(entries.length),
      ...entries.flatMap(([key, item]) => [
        ...encodeValue(keyType, key),
        ...encodeValue(valueType, item),
      ]),
    ];
  }
  if (type.startsWith("a")) {
    const items = value as DbusValue[];
    return [String(items.length), ...items.flatMap((item) => encodeValue(type.slice(1), item))];
  }
  if (type.startsWith("(")) {
    return encodeArguments(type.slice(1, -1), value as DbusValue[]);
  }
  return [String(value)];
}

/** Splits a D-Bus signature into its complete types, e.g. `sa{ss}(ii)` → `s`, `a{ss}`, `(ii)`. */
export function splitSignature(signature: string): string[] {
  const types: string[] = [];
  let index = 0;
  while (index < signature.length) {
    const end = endOfCompleteType(signature, index);
    types.push(signature.slice(index, end));
    index = end;
  }
  return types;
}

function endOfCompleteType(signature: string, start: number): number {
  const first = signature[start];
  if (first === "a") {
    return endOfCompleteType(signature, start + 1);
  }
  if (first !== "(" && first !== "{") {
    if (first === undefined || first === ")" || first === "}") {
      throw new Error(`Invalid D-Bus signature "${signature}" at position ${start}`);
    }
    return start + 1;
  }
  const close = first === "(" ? ")" : "}";
  let index = start + 1;
  while (signature[index] !== close) {
    index = endOfCompleteType(signature, index);
  }
  return index + 1;
}

// ---------------------------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------------------------

/** A signal seen on the bus. */
export interface DbusSignal {
  /** Unique bus name of the sender, e.g. `:1.4`. */
  sender: string;
  path: string;
  interface: string;
  member: string;
  signature: string;
  /** Signal arguments as decoded from busctl's JSON. */
  args: unknown[];
}

interface SignalWaiter {
  predicate: (signal: DbusSignal) => boolean;
  fromIndex: number;
  resolve: (signal: DbusSignal) => void;
  reject: (error: Error) => void;
}

/**
 * Records every signal that matches a D-Bus match rule, from a `busctl monitor` process, and
 * lets tests wait for one.
 */
export class SignalMonitor {
  readonly #child: ChildProcess;
  readonly #removeExitHook: () => void;
  readonly #signals: DbusSignal[] = [];
  readonly #waiters = new Set<SignalWaiter>();
  readonly #errors = { text: "" };

  private constructor(child: ChildProcess) {
    this.#child = child;
    this.#removeExitHook = killOnTestProcessExit(child);
    captureOutput(child.stderr, this.#errors);
    createInterface({ input: child.stdout! }).on("line", (line) => this.#record(line));
    child.once("exit", () => this.#rejectWaiters("stopped"));
  }

  /**
   * Starts `busctl monitor` on the bus at `address` with the match rule `match` and resolves
   * once the bus has made it a monitor, so no later signal is missed.
   */
  static async start(
    address: string,
    match = "type='signal'",
    timeoutMs = 10_000,
  ): Promise<SignalMonitor> {
    const args = [`--address=${address}`, "--json=short", "monitor", `--match=${match}`];
    const child = spawn(BUSCTL, args, { stdio: ["ignore", "pipe", "pipe"] });
    const monitor = new SignalMonitor(child);
    try {
      await monitor.#waitUntilMonitoring(timeoutMs);
      return monitor;
    } catch (error) {
      await monitor.stop();
      throw error;
    }
  }

  /** Process id of the `busctl monitor` process. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Signals recorded so far, oldest first. */
  get signals(): readonly DbusSignal[] {
    return this.#signals;
  }

  /** Number of signals recorded so far: pass it as `fromIndex` to ignore older signals. */
  get count(): number {
    return this.#signals.length;
  }

  /**
   * Resolves with the first signal at or after position `fromIndex` for which `predicate`
   * returns true, waiting up to `timeoutMs` for it to arrive.
   */
  waitForSignal(
    predicate: (signal: DbusSignal) => boolean,
    timeoutMs: number,
    fromIndex = 0,
  ): Promise<DbusSignal> {
    const found = this.#signals.slice(fromIndex).find(predicate);
    if (found) {
      return Promise.resolve(found);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`No matching D-Bus signal arrived within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: SignalWaiter = {
        predicate,
        fromIndex,
        resolve: (signal) => {
          clearTimeout(timer);
          resolve(signal);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#waiters.add(waiter);
    });
  }

  /** Stops the `busctl monitor` process. Pending waits reject. */
  async stop(): Promise<void> {
    this.#removeExitHook();
    await stopChildProcess(this.#child);
  }

  #record(line: string): void {
    const signal = parseSignalLine(line);
    if (!signal) {
      return;
    }
    const index = this.#signals.push(signal) - 1;
    for (const waiter of this.#waiters) {
      if (index >= waiter.fromIndex && waiter.predicate(signal)) {
        this.#waiters.delete(waiter);
        waiter.resolve(signal);
      }
    }
  }

  #rejectWaiters(reason: string): void {
    for (const waiter of this.#waiters) {
      const message = `busctl monitor ${reason} before a matching signal arrived.`;
      waiter.reject(new Error(`${message} ${this.#errors.text}`));
    }
    this.#waiters.clear();
  }

  /**
   * Waits for busctl's "Monitoring bus message stream." line on stderr, which busctl (systemd
   * 252) prints after the bus accepted its BecomeMonitor call.
   */
  #waitUntilMonitoring(timeoutMs: number): Promise<void> {
    const child = this.#child;
    return new Promise((resolve, reject) => {
      const onStderr = () => {
        if (this.#errors.text.includes("Monitoring bus message stream")) {
          finish();
          resolve();
        }
      };
      const onExit = (code: number | null) =>
        fail(`busctl monitor exited with code ${code}: ${this.#errors.text}`);
      const onError = (error: Error) => fail(busctlNotRunnable(error).message);
      const timer = setTimeout(
        () => fail(`busctl monitor did not start within ${timeoutMs} ms. ${this.#errors.text}`),
        timeoutMs,
      );

      const finish = () => {
        clearTimeout(timer);
        child.stderr?.removeListener("data", onStderr);
        child.removeListener("exit", onExit);
        child.removeListener("error", onError);
      };
      const fail = (message: string) => {
        finish();
        reject(new Error(message));
      };

      // captureOutput's "data" listener was added first, so #errors already contains the chunk.
      child.stderr?.on("data", onStderr);
      child.once("exit", onExit);
      child.once("error", onError);
    });
  }
}

/** Parses one `busctl monitor --json=short` line. Returns undefined for anything but a signal. */
function parseSignalLine(line: string): DbusSignal | undefined {
  let message: Record<string, unknown>;
  try {
    message = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (message.type !== "signal") {
    return undefined;
  }
  const payload = (message.payload ?? { type: "", data: [] }) as { type: string; data: unknown[] };
  return {
    sender: String(message.sender ?? ""),
    path: String(message.path ?? ""),
    interface: String(message.interface ?? ""),
    member: String(message.member ?? ""),
    signature: payload.type,
    args: payload.data,
  };
}
