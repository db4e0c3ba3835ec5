/**
 * An OpenDHT bootstrap node for integration tests, from the `dhtnode` binary (Debian package
 * `dhtnode`, OpenDHT 2.4.12).
 *
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";

import { killOnTestProcessExit, stopChildProcess } from "./dbus.ts";

const DHTNODE = "dhtnode";

/** Maximum number of characters kept from dhtnode's console output. */
const MAX_CAPTURED_OUTPUT = 16_384;

/** A running `dhtnode`. */
export interface DhtNode {
  /** Always `127.0.0.1`: the address clients should bootstrap from. */
  readonly host: string;
  /** UDP port the node listens on. */
  readonly port: number;
  /** `host:port`, the form Jami's `Account.hostname` takes. */
  readonly address: string;
  readonly networkId: number;
  readonly pid: number;
  /** The node's console output so far, cut to its last MAX_CAPTURED_OUTPUT characters. */
  output(): string;
  /** Stops the node. Calling it again does nothing. */
  stop(): Promise<void>;
}

export interface DhtNodeOptions {
  /**
   * OpenDHT network id (`-n`). Nodes on different ids ignore each other, and 0 is the public
   * Jami network. jamid 13.7.0 has no account setting for it and always uses 0, so a node that
   * jamid must reach needs the default 0.
   */
  networkId?: number;
  /** When set, dhtnode writes its verbose log (`-v -l FILE`) to this file. */
  logPath?: string;
  /** Milliseconds to wait for the node to report its port. */
  startTimeoutMs?: number;
}

/**
 * Starts `dhtnode` in the foreground on a port the kernel chooses (`-p 0`) and resolves with
 * the port it reports.
 *
 * dhtnode has no option to bind one address, so it listens on all interfaces. The returned
 * address is on loopback, and the node contacts no one unless a client bootstraps from it.
 * Its stdin stays an open pipe: dhtnode reads commands from stdin, exits at once on
 * end of file, and exits by itself when the test process dies. `-d` (daemonize) is not used
 * because the forked node would escape `stop()`.
 */
export async function startDhtNode(options: DhtNodeOptions = {}): Promise<DhtNode> {
  const networkId = options.networkId ?? 0;
  if (!Number.isInteger(networkId) || networkId < 0 || networkId > 0xffff_ffff) {
    throw new Error(`Invalid DHT network id ${networkId}: use an integer from 0 to 4294967295`);
  }

  const args = ["-p", "0", "-n", String(networkId)];
  if (options.logPath) {
    args.push("-v", "-l", options.logPath);
  }
  const child = spawn(DHTNODE, args, { stdio: ["pipe", "pipe", "pipe"] });
  const removeExitHook = killOnTestProcessExit(child);
  const output = { text: "" };
  captureOutput(child, output);

  const stop = async () => {
    removeExitHook();
    await stopChildProcess(child);
  };

  try {
    const port = await readPort(child, output, options.startTimeoutMs ?? 10_000);
    return {
      host: "127.0.0.1",
      port,
      address: `127.0.0.1:${port}`,
      networkId,
      pid: child.pid!,
      output: () => output.text,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function captureOutput(child: ChildProcess, target: { text: string }): void {
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      target.text = (target.text + chunk).slice(-MAX_CAPTURED_OUTPUT);
    });
  }
}

/** Waits for dhtnode's "OpenDHT node <id> running on port <port>" line. */
function readPort(
  child: ChildProcess,
  output: { text: string },
  timeoutMs: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const onData = () => {
      const match = /running on port (\d+)/.exec(output.text);
      if (match) {
        finish();
        resolve(Number(match[1]));
      }
    };
    const onExit = (code: number | null, signal: string | null) =>
      fail(`exited early (code ${code}, signal ${signal})`);
    const onError = (error: Error) =>
      fail(`failed to start (${error.message}); install the Debian package "dhtnode"`);
    const timer = setTimeout(() => fail(`reported no port within ${timeoutMs} ms`), timeoutMs);

    const finish = () => {
      clearTimeout(timer);
      child.stdout?.removeListener("data", onData);
      child.removeListener("exit", onExit);
      child.removeListener("error", onError);
    };
    const fail = (reason: string) => {
      finish();
      reject(new Error(`${DHTNODE} ${reason}. Its output:\n${output.text}`));
    };

    // captureOutput's listener was added first, so output.text already contains each chunk.
    child.stdout?.on("data", onData);
    child.once("exit", onExit);
    child.once("error", onError);
  });
}
