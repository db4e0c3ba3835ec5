/**
 * The real Jami daemon (`/usr/libexec/jamid` from the Debian package `jami-daemon`, 13.7.0),
 * started in a throwaway HOME on a private D-Bus daemon and driven over D-Bus.
 *
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, closeSync, openSync, readSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import {
  callMethod,
  killOnTestProcessExit,
  SignalMonitor,
  stopChildProcess,
  type DbusSignal,
  type DbusValue,
} from "./dbus.ts";

/** Where the Debian package `jami-daemon` installs the daemon. */
export const JAMID_PATH = "/usr/libexec/jamid";

/** Bus name that jamid owns. */
export const JAMI_SERVICE = "cx.ring.Ring";

/** Object path and interface of jamid's account configuration API. */
export const CONFIGURATION_PATH = "/cx/ring/Ring/ConfigurationManager";
export const CONFIGURATION_INTERFACE = "cx.ring.Ring.ConfigurationManager";

/**
 * Values of the `state` field of `registeredNameFound`, from `NameDirectory::Response` in
 * jami-daemon's `src/jamidht/namedirectory.h`.
 */
export const NameLookupState = {
  found: 0,
  invalidResponse: 1,
  notFound: 2,
  error: 3,
} as const;

/** The fields of jamid's `registeredNameFound(s accountId, i state, s address, s name)` signal. */
export interface RegisteredNameFound {
  /** The account that requested the lookup, or "" for a lookup made without an account. */
  accountId: string;
  /** One of {@link NameLookupState}. */
  state: number;
  address: string;
  name: string;
}

export interface JamidOptions {
  /** Address of the private bus, from `startDbusDaemon()`. */
  busAddress: string;
  /**
   * Extra environment variables, e.g. `SSL_CERT_FILE` for a CA bundle that contains the test
   * server's CA. jamid gets no other variable from the test process apart from PATH.
   */
  env?: Record<string, string>;
  /** Path of the jamid binary. */
  binary?: string;
  /** Milliseconds to wait for jamid to reply on the bus after each start. */
  startTimeoutMs?: number;
  /** Keep the temporary folder (HOME and log) after `stop()`, for debugging. */
  keepFolder?: boolean;
}

/** Lines of jamid's log that errors include. */
const LOG_TAIL_LINES = 40;
/** How much of the end of the log file is read to find those lines. */
const LOG_TAIL_BYTES = 64 * 1024;
const POLL_INTERVAL_MS = 200;

/**
 * Starts jamid with a new throwaway HOME and resolves once it replies on the bus.
 * Rejects with the end of jamid's log if it exits or does not reply in time.
 */
export function startJamid(options: JamidOptions): Promise<Jamid> {
  return Jamid.start(options);
}

/** A running jamid and typed wrappers for the D-Bus methods tests use. */
export class Jamid {
  /** Temporary folder that contains HOME and the log file. */
  readonly folder: string;
  readonly homeDir: string;
  /** `$HOME/.local/share/jami`: one folder per account, named by account id. */
  readonly dataDir: string;
  /** `$HOME/.config/jami/dring.yml`: the daemon's account list and settings. */
  readonly configPath: string;
  /** jamid's stdout and stderr, appended across restarts. */
  readonly logPath: string;
  readonly busAddress: string;

  readonly #options: JamidOptions;
  readonly #monitor: SignalMonitor;
  #child: ChildProcess | undefined;
  #removeExitHook: () => void = () => {};
  #stopped = false;

  private constructor(folder: string, options: JamidOptions, monitor: SignalMonitor) {
    this.folder = folder;
    this.homeDir = join(folder, "home");
    this.dataDir = join(this.homeDir, ".local", "share", "jami");
    this.configPath = join(this.homeDir, ".config", "jami", "dring.yml");
    this.logPath = join(folder, "jamid.log");
    this.busAddress = options.busAddress;
    this.#options = options;
    this.#monitor = monitor;
  }

  /** See {@link startJamid}. */
  static async start(options: JamidOptions): Promise<Jamid> {
    const folder = await mkdtemp(join(tmpdir(), "jams-jamid-"));
    const monitor = await SignalMonitor.start(
      options.busAddress,
      `type='signal',interface='${CONFIGURATION_INTERFACE}'`,
    ).catch(async (error: unknown) => {
      await rm(folder, { recursive: true, force: true });
      throw error;
    });

    const jamid = new Jamid(folder, options, monitor);
    try {
      await jamid.#createHome();
      await jamid.#launch();
      return jamid;
    } catch (error) {
      await jamid.stop();
      throw error;
    }
  }

  /** Process id of the current jamid, or undefined while it is not running. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Every ConfigurationManager signal seen since start, across restarts. */
  get signals(): SignalMonitor {
    return this.#monitor;
  }

  /** Folder of one account, with `ring_device.key`, `ring_device.crt` and `config.yml`. */
  accountDir(accountId: string): string {
    return join(this.dataDir, accountId);
  }

  /**
   * Calls a ConfigurationManager method and returns the reply's values. On failure the error
   * includes the end of jamid's log.
   */
  async callConfigurationManager(
    member: string,
    signature = "",
    args: DbusValue[] = [],
  ): Promise<unknown[]> {
    try {
      return await callMethod(this.busAddress, {
        destination: JAMI_SERVICE,
        path: CONFIGURATION_PATH,
        interface: CONFIGURATION_INTERFACE,
        member,
        signature,
        args,
      });
    } catch (error) {
      throw this.#errorWithLog((error as Error).message);
    }
  }

  /** Creates an account (`addAccount a{ss}`) and returns its id. */
  async addAccount(details: Record<string, string>): Promise<string> {
    const [accountId] = await this.callConfigurationManager("addAccount", "a{ss}", [details]);
    return String(accountId);
  }

  /** Removes an account (`removeAccount s`). jamid removes it asynchronously. */
  async removeAccount(accountId: string): Promise<void> {
    await this.callConfigurationManager("removeAccount", "s", [accountId]);
  }

  /** Returns the ids of all accounts (`getAccountList`). */
  async getAccountList(): Promise<string[]> {
    const [ids] = await this.callConfigurationManager("getAccountList");
    return ids as string[];
  }

  /** Returns an account's stored settings (`getAccountDetails`), empty for an unknown id. */
  async getAccountDetails(accountId: string): Promise<Record<string, string>> {
    const [details] = await this.callConfigurationManager("getAccountDetails", "s", [accountId]);
    return details as Record<string, string>;
  }

  /**
   * Returns an account's run-time state (`getVolatileAccountDetails`), such as
   * `Account.registrationStatus`. The map is empty for an unknown id.
   */
  async getVolatileAccountDetails(accountId: string): Promise<Record<string, string>> {
    const [details] = await this.callConfigurationManager("getVolatileAccountDetails", "s", [
      accountId,
    ]);
    return details as Record<string, string>;
  }

  /**
   * Polls `Account.registrationStatus` until it is one of `expected` (e.g. `REGISTERED`) and
   * returns it. Throws on timeout with the last status seen and the end of jamid's log, and
   * at once when jamid no longer lists the account: a failed first enrollment deletes it.
   */
  async waitForRegistrationStatus(
    accountId: string,
    expected: string | string[],
    timeoutMs = 30_000,
  ): Promise<string> {
    const expectedStatuses = Array.isArray(expected) ? expected : [expected];
    const deadline = Date.now() + timeoutMs;
    let lastStatus = "(none yet)";

    while (Date.now() < deadline) {
      this.#assertRunning();
      const details = await this.getVolatileAccountDetails(accountId);
      const status = details["Account.registrationStatus"];
      if (status === undefined) {
        throw this.#errorWithLog(
          `Account ${accountId} not found while waiting for ${expectedStatuses.join(" or ")} ` +
            `(last status: ${lastStatus}). jamid deletes an account whose first enrollment ` +
            `failed, so check the account server's log.`,
        );
      }
      lastStatus = status;
      if (expectedStatuses.includes(status)) {
        return status;
      }
      await sleep(POLL_INTERVAL_MS);
    }
    throw this.#errorWithLog(
      `Account ${accountId} did not reach registration status ${expectedStatuses.join(" or ")} ` +
        `within ${timeoutMs} ms. Last status: ${lastStatus}`,
    );
  }

  /** Polls `getAccountList` until it no longer contains `accountId`. Throws on timeout. */
  async waitForAccountRemoved(accountId: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      this.#assertRunning();
      if (!(await this.getAccountList()).includes(accountId)) {
        return;
      }
      await sleep(POLL_INTERVAL_MS);
    }
    throw this.#errorWithLog(`Account ${accountId} was still listed after ${timeoutMs} ms`);
  }

  /**
   * Looks up a registered name (`lookupName`) and returns the `registeredNameFound` signal
   * that jamid emits with the result.
   *
   * jamid 13.7.0 ignores `nameServer` when `accountId` is not empty, and queries the account's
   * own name server instead (`RingNS.uri`, `https://ns.jami.net` unless set). Pass `accountId`
   * "" to query `nameServer`.
   */
  async lookupName(
    accountId: string,
    nameServer: string,
    name: string,
    timeoutMs = 10_000,
  ): Promise<RegisteredNameFound> {
    const fromIndex = this.#monitor.count;
    const [accepted] = await this.callConfigurationManager("lookupName", "sss", [
      accountId,
      nameServer,
      name,
    ]);
    if (accepted !== true) {
      throw this.#errorWithLog(
        `jamid returned false for lookupName("${name}"), which it does for an account id it ` +
          `does not have: check ${accountId} against getAccountList()`,
      );
    }
    return this.#waitForNameFound(
      (found) => found.accountId === accountId && found.name === name,
      `name "${name}"`,
      timeoutMs,
      fromIndex,
    );
  }

  /**
   * Looks up the name registered for an account id (`lookupAddress`) and returns the
   * `registeredNameFound` signal that jamid emits with the result. `nameServer` is used only
   * when `accountId` is "", as for {@link lookupName}.
   */
  async lookupAddress(
    accountId: string,
    nameServer: string,
    address: string,
    timeoutMs = 10_000,
  ): Promise<RegisteredNameFound> {
    const fromIndex = this.#monitor.count;
    const [accepted] = await this.callConfigurationManager("lookupAddress", "sss", [
      accountId,
      nameServer,
      address,
    ]);
    if (accepted !== true) {
      throw this.#errorWithLog(
        `jamid returned false for lookupAddress(${address}), which it does for an account id ` +
          `it does not have: check ${accountId} against getAccountList()`,
      );
    }
    return this.#waitForNameFound(
      (found) => found.accountId === accountId && found.address === address,
      `address ${address}`,
      timeoutMs,
      fromIndex,
    );
  }

  /**
   * Waits for a ConfigurationManager signal named `member` for which `predicate` returns true,
   * counting only signals at or after position `fromIndex` of {@link signals}.
   */
  async waitForSignal(
    member: string,
    predicate: (args: unknown[]) => boolean = () => true,
    timeoutMs = 10_000,
    fromIndex = 0,
  ): Promise<DbusSignal> {
    try {
      return await this.#monitor.waitForSignal(
        (signal) => signal.member === member && predicate(signal.args),
        timeoutMs,
        fromIndex,
      );
    } catch (error) {
      throw this.#errorWithLog(`Waiting for signal ${member} failed: ${(error as Error).message}`);
    }
  }

  /**
   * Stops jamid with SIGTERM, waits for it to exit, and starts it again with the same HOME,
   * so it reloads its accounts from disk. Resolves once the new jamid replies on the bus.
   */
  async restart(): Promise<void> {
    await this.#terminate();
    await this.#launch();
  }

  /**
   * Stops jamid and the signal monitor and removes the temporary folder unless `keepFolder`
   * was set. Calling it again does nothing.
   */
  async stop(): Promise<void> {
    if (this.#stopped) {
      return;
    }
    this.#stopped = true;
    await this.#terminate();
    await this.#monitor.stop();
    if (!this.#options.keepFolder) {
      await rm(this.folder, { recursive: true, force: true });
    }
  }

  /** Returns the last `lines` lines of jamid's log, without terminal colour codes. */
  logTail(lines = LOG_TAIL_LINES): string {
    let text: string;
    try {
      text = readFileEnd(this.logPath, LOG_TAIL_BYTES);
    } catch (error) {
      return `(jamid log ${this.logPath} unreadable: ${(error as Error).message})`;
    }
    // jamid 13.7.0 colours its log even when the output is a file.
    const plain = text.replace(/\x1b\[[0-9;]*m/g, "");
    return plain.trimEnd().split("\n").slice(-lines).join("\n");
  }

  async #createHome(): Promise<void> {
    for (const dir of [".config", ".local/share", ".cache"]) {
      await mkdir(join(this.homeDir, dir), { recursive: true });
    }
    await mkdir(join(this.homeDir, "run"), { recursive: true, mode: 0o700 });
  }

  #environment(): Record<string, string> {
    return {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: this.homeDir,
      XDG_CONFIG_HOME: join(this.homeDir, ".config"),
      XDG_DATA_HOME: join(this.homeDir, ".local", "share"),
      XDG_CACHE_HOME: join(this.homeDir, ".cache"),
      XDG_RUNTIME_DIR: join(this.homeDir, "run"),
      DBUS_SESSION_BUS_ADDRESS: this.busAddress,
      ...this.#options.env,
    };
  }

  /** Spawns jamid with its output appended to the log, then waits until it replies on the bus. */
  async #launch(): Promise<void> {
    const binary = this.#options.binary ?? JAMID_PATH;
    const startedAt = new Date().toISOString();
    appendFileSync(this.logPath, `\n=== test harness: starting ${binary} at ${startedAt} ===\n`);
    const log = openSync(this.logPath, "a");
    let child: ChildProcess;
    try {
      child = spawn(binary, ["-c", "-d", "-p"], {
        env: this.#environment(),
        stdio: ["ignore", log, log],
      });
    } finally {
      closeSync(log);
    }
    const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
    if (child.pid === undefined) {
      throw new Error(
        `Failed to start ${binary} (${(await spawnError).message}); ` +
          `install the Debian package "jami-daemon"`,
      );
    }
    this.#child = child;
    this.#removeExitHook = killOnTestProcessExit(child);
    await this.#waitUntilAnswering(this.#options.startTimeoutMs ?? 20_000);
  }

  /** Polls `getAccountList` until jamid owns its bus name and replies. */
  async #waitUntilAnswering(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError = "";

    while (Date.now() < deadline) {
      this.#assertRunning();
      try {
        await callMethod(this.busAddress, {
          destination: JAMI_SERVICE,
          path: CONFIGURATION_PATH,
          interface: CONFIGURATION_INTERFACE,
          member: "getAccountList",
          timeoutSeconds: 5,
        });
        return;
      } catch (error) {
        lastError = (error as Error).message;
      }
      await sleep(POLL_INTERVAL_MS);
    }
    throw this.#errorWithLog(
      `jamid did not reply on the bus within ${timeoutMs} ms. Last D-Bus error: ${lastError}`,
    );
  }

  async #terminate(): Promise<void> {
    const child = this.#child;
    if (!child) {
      return;
    }
    this.#removeExitHook();
    // jamid 13.7.0 took about 2 s to exit after SIGTERM in the self-test, well below this limit.
    await stopChildProcess(child, 10_000);
    appendFileSync(
      this.logPath,
      `=== test harness: jamid exited (code ${child.exitCode}, signal ${child.signalCode}) ===\n`,
    );
    this.#child = undefined;
  }

  /** Throws when the jamid process has exited although the harness did not stop it. */
  #assertRunning(): void {
    const child = this.#child;
    if (!child) {
      throw new Error("jamid is not running because it was stopped or a restart failed");
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      throw this.#errorWithLog(
        `jamid exited unexpectedly (code ${child.exitCode}, signal ${child.signalCode})`,
      );
    }
  }

  async #waitForNameFound(
    matches: (found: RegisteredNameFound) => boolean,
    subject: string,
    timeoutMs: number,
    fromIndex: number,
  ): Promise<RegisteredNameFound> {
    const signal = await this.waitForSignal(
      "registeredNameFound",
      (args) => matches(toRegisteredNameFound(args)),
      timeoutMs,
      fromIndex,
    ).catch((error: Error) => {
      throw new Error(`No registeredNameFound signal for ${subject}. ${error.message}`);
    });
    return toRegisteredNameFound(signal.args);
  }

  #errorWithLog(message: string): Error {
    return new Error(
      `${message}\n--- last ${LOG_TAIL_LINES} lines of ${this.logPath} ---\n${this.logTail()}`,
    );
  }
}

function toRegisteredNameFound(args: unknown[]): RegisteredNameFound {
  const [accountId, state, address, name] = args;
  return {
    accountId: String(accountId),
    state: Number(state),
    address: String(address),
    name: String(name),
  };
}

/** Reads at most the last `maxBytes` bytes of a file as UTF-8. */
function readFileEnd(path: string, maxBytes: number): string {
  const size = statSync(path).size;
  const length = Math.min(size, maxBytes);
  const buffer = Buffer.alloc(length);
  const fd = openSync(path, "r");
  try {
    readSync(fd, buffer, 0, length, size - length);
  } finally {
    closeSync(fd);
  }
  return buffer.toString("utf8");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
