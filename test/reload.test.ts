/**
 * SIGHUP on the built dist/jams: the server re-reads its --cert and --key files, new TLS
 * connections get the new certificate, and a keep-alive connection opened before keeps working.
 * A reload whose files cannot be used (damaged, half-written, missing, key not matching) logs
 * an error and keeps the current certificate. `systemctl reload jams` sends this signal.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type TLSSocket } from "node:tls";
import { makeLocalhostCertificates, startServe, stopServe, waitForValue, type ServeProcess } from "./support/jams-serve.ts";
import { freePort } from "./support/ports.ts";

const root = join(import.meta.dirname, "..");
const jamsBinary = join(root, "dist/jams");

let folder: string;
let port: number;
let tlsCa: string;
let server: ServeProcess;
/** The keep-alive connection opened before any reload. */
let oldConnection: TLSSocket;
/** SHA-256 fingerprints of the test certificates, as node:tls formats `fingerprint256`. */
const fingerprints: Record<string, string> = {};

const certFile = () => join(folder, "live/fullchain.pem");
const keyFile = () => join(folder, "live/privkey.pem");

/** Puts certificate NAME's chain and key where the server's --cert and --key point. */
function installCertificate(name: string): void {
  copyFileSync(join(folder, `${name}-fullchain.pem`), certFile());
  copyFileSync(join(folder, `${name}.key`), keyFile());
}

/** Opens a TLS connection that trusts only the test root. */
function openConnection(): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername: "localhost", ca: tlsCa });
    socket.once("secureConnect", () => resolve(socket));
    socket.once("error", reject);
  });
}

function peerFingerprint(socket: TLSSocket): string {
  return socket.getPeerCertificate().fingerprint256;
}

/** Returns the fingerprint of the certificate that a new connection gets, then closes that connection. */
async function newConnectionFingerprint(): Promise<string> {
  const socket = await openConnection();
  const fingerprint = peerFingerprint(socket);
  socket.end();
  return fingerprint;
}

/** Sends `GET path` over an open keep-alive connection and reads one whole response. */
function get(socket: TLSSocket, path: string): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    let received = "";
    const cleanup = () => {
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("close", onClose);
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      reject(new Error(`the connection closed before a full response to GET ${path}; received: ${JSON.stringify(received)}`));
    };
    const onData = (chunk: Buffer) => {
      received += chunk.toString("latin1");
      const headerEnd = received.indexOf("\r\n\r\n");
      if (headerEnd < 0) return;
      const headers = received.slice(0, headerEnd);
      const body = received.slice(headerEnd + 4);
      const length = /^content-length:\s*(\d+)/im.exec(headers);
      const complete = length ? body.length >= Number(length[1]) : /^transfer-encoding:\s*chunked/im.test(headers) && body.endsWith("0\r\n\r\n");
      if (!complete) return;
      cleanup();
      resolve({ status: Number(headers.split(" ")[1]), headers, body });
    };
    socket.on("data", onData);
    socket.once("error", onError);
    socket.once("close", onClose);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost:${port}\r\nConnection: keep-alive\r\n\r\n`);
  });
}

/** Sends SIGHUP and returns the first log line, after those already logged, with message `msg`. */
async function reload(msg: string): Promise<Record<string, unknown>> {
  const seen = server.log.length;
  server.child.kill("SIGHUP");
  const reloadMessages = ["reloaded TLS certificate", "TLS reload failed; keeping the current certificate"];
  const line = await waitForValue("a TLS reload log line", () =>
    server.log.slice(seen).find((entry) => reloadMessages.includes(entry.msg)),
  );
  expect(line.msg).toBe(msg);
  return line;
}

beforeAll(async () => {
  if (!existsSync(jamsBinary)) throw new Error(`${jamsBinary} is missing: build it with \`bun packaging/build.ts\` first`);
  folder = mkdtempSync(join(tmpdir(), "jams-reload-"));
  port = await freePort();
  makeLocalhostCertificates(folder, ["a", "b", "c"]);
  tlsCa = readFileSync(join(folder, "root.crt"), "utf8");
  for (const name of ["a", "b", "c"]) {
    fingerprints[name] = new X509Certificate(readFileSync(join(folder, `${name}.crt`))).fingerprint256;
  }
  mkdirSync(join(folder, "live"));
  installCertificate("a");
  const args = ["serve", "--host", "127.0.0.1", "--port", String(port), "--cert", certFile(), "--key", keyFile(), "--data-dir", join(folder, "data")];
  const env = { PATH: process.env.PATH, HOME: folder };
  server = await startServe([jamsBinary, ...args], { cwd: folder, env });
}, 60_000);

afterAll(async () => {
  oldConnection?.destroy();
  if (server) await stopServe(server);
  if (folder) rmSync(folder, { recursive: true, force: true });
});

describe("TLS reload on SIGHUP", () => {
  test("serves certificate A at start", async () => {
    expect(await newConnectionFingerprint()).toBe(fingerprints.a!);
    oldConnection = await openConnection();
    const reply = await get(oldConnection, "/livez");
    expect(reply.status).toBe(200);
    expect(reply.body).toContain('"ok"');
  });

  test("damaged certificate file keeps A", async () => {
    writeFileSync(certFile(), "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
    const line = await reload("TLS reload failed; keeping the current certificate");
    expect(line.level).toBe("error");
    expect(String(line.err)).toContain(`--cert ${certFile()}`);
    expect(await newConnectionFingerprint()).toBe(fingerprints.a!);
    expect((await get(oldConnection, "/livez")).status).toBe(200);
  });

  test("half-written certificate file keeps A", async () => {
    // A deploy hook that truncates the file before writing it leaves it empty for a moment.
    writeFileSync(certFile(), "");
    const line = await reload("TLS reload failed; keeping the current certificate");
    expect(line.level).toBe("error");
    expect(await newConnectionFingerprint()).toBe(fingerprints.a!);
  });

  test("key of another certificate keeps A", async () => {
    copyFileSync(join(folder, "b-fullchain.pem"), certFile());
    copyFileSync(join(folder, "c.key"), keyFile());
    const line = await reload("TLS reload failed; keeping the current certificate");
    expect(line.level).toBe("error");
    expect(String(line.err)).toContain("--key");
    expect(await newConnectionFingerprint()).toBe(fingerprints.a!);
    expect((await get(oldConnection, "/livez")).status).toBe(200);
  });

  test("missing key file keeps A", async () => {
    rmSync(keyFile());
    const line = await reload("TLS reload failed; keeping the current certificate");
    expect(line.level).toBe("error");
    expect(String(line.err)).toContain(keyFile());
    expect(await newConnectionFingerprint()).toBe(fingerprints.a!);
  });

  test("new connections get certificate B", async () => {
    installCertificate("b");
    const line = await reload("reloaded TLS certificate");
    expect(line.level).toBe("info");
    expect(await newConnectionFingerprint()).toBe(fingerprints.b!);
  });

  test("keep-alive connection survives the reload", async () => {
    const reply = await get(oldConnection, "/livez");
    expect(reply.status).toBe(200);
    // The handshake happened before the reloads, so this connection still presents A.
    expect(peerFingerprint(oldConnection)).toBe(fingerprints.a!);
  });

  test("second reload switches to C", async () => {
    installCertificate("c");
    await reload("reloaded TLS certificate");
    expect(await newConnectionFingerprint()).toBe(fingerprints.c!);
    expect(server.child.exitCode).toBeNull();
  });
});
