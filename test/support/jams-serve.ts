/**
 * @module Helpers for tests that run `jams serve` as a separate process: openssl-made TLS
 * certificates for localhost, and a server start that waits for the "ready" log line.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { killOnTestProcessExit } from "./dbus.ts";

/** One JSON log line of the server. */
export interface ServerLogLine {
  msg: string;
  level?: number | string;
  [key: string]: unknown;
}

/** A running `jams serve` process and every log line it has written so far. */
export interface ServeProcess {
  child: ChildProcess;
  /** JSON lines from stdout and stderr, in arrival order. */
  log: ServerLogLine[];
  /** Lines that were not JSON, such as a runtime's crash output. */
  otherOutput: string[];
  /** The "ready" line, with the listener's `url`. */
  ready: ServerLogLine;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<number | string>;
}

function openssl(dir: string, args: string[]): void {
  const result = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${result.stderr}`);
}

/**
 * Makes `root.crt`/`root.key`, a test TLS root, in `dir`, then for each name a server
 * certificate signed by it, for `subjectAltName` (localhost by default): `NAME.key` (a SEC1 EC key, as certbot writes) and
 * `NAME-fullchain.pem` (server certificate, then the root).
 */
export function makeLocalhostCertificates(
  dir: string,
  names: string[],
  subjectAltName = "DNS:localhost,IP:127.0.0.1",
): void {
  openssl(dir, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root.key", "-out", "root.crt",
    "-subj", "/CN=Test TLS Root", "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  writeFileSync(join(dir, "san.ext"), `subjectAltName=${subjectAltName}\nextendedKeyUsage=serverAuth\n`);
  const root = readFileSync(join(dir, "root.crt"), "utf8");
  for (const name of names) {
    openssl(dir, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`]);
    openssl(dir, ["req", "-new", "-key", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=localhost/O=${name}`]);
    openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", "root.crt", "-CAkey", "root.key", "-CAcreateserial",
      "-out", `${name}.crt`, "-days", "2", "-extfile", "san.ext"]);
    writeFileSync(join(dir, `${name}-fullchain.pem`), readFileSync(join(dir, `${name}.crt`), "utf8") + root);
  }
}

/**
 * Starts `command` (a `jams serve` invocation) and resolves once it logs "ready". Rejects with
 * its output if it exits first or is not ready within `timeoutMs`.
 */
export function startServe(
  command: string[],
  options: { cwd: string; env: Record<string, string | undefined>; timeoutMs?: number },
): Promise<ServeProcess> {
  const [file, ...args] = command as [string, ...string[]];
  const child = spawn(file, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
  killOnTestProcessExit(child);
  const log: ServerLogLine[] = [];
  const otherOutput: string[] = [];
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  const timeoutMs = options.timeoutMs ?? 15_000;
  return new Promise((resolve, reject) => {
    const output = () => [...log.map((line) => JSON.stringify(line)), ...otherOutput].join("\n");
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${command.join(" ")} did not log "ready" within ${timeoutMs} ms; output:\n${output()}`));
    }, timeoutMs);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${command.join(" ")} exited with ${code} before "ready"; output:\n${output()}`));
    });
    const collect = (stream: NodeJS.ReadableStream) => {
      let pending = "";
      stream.on("data", (chunk: Buffer) => {
        pending += chunk.toString();
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) {
          const entry = parseLogLine(line);
          if (!entry) {
            if (line.trim() !== "") otherOutput.push(line);
            continue;
          }
          log.push(entry);
          if (entry.msg === "ready") {
            clearTimeout(timer);
            resolve({ child, log, otherOutput, ready: entry, exited });
          }
        }
      });
    };
    collect(child.stdout!);
    collect(child.stderr!);
  });
}

function parseLogLine(line: string): ServerLogLine | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    return JSON.parse(line) as ServerLogLine;
  } catch {
    return undefined;
  }
}

/** Sends SIGTERM and returns the exit code, or kills the process after `timeoutMs`. */
export async function stopServe(server: ServeProcess, timeoutMs = 10_000): Promise<number | string> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return server.exited;
  server.child.kill("SIGTERM");
  const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), timeoutMs));
  const result = await Promise.race([server.exited, timeout]);
  if (result !== "timeout") return result;
  server.child.kill("SIGKILL");
  await server.exited;
  return `no exit within ${timeoutMs} ms of SIGTERM`;
}

/** Polls `probe` every 100 ms until it returns a value, or throws after `timeoutMs`. */
export async function waitForValue<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(100);
  }
}
