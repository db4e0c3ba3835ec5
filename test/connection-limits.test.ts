/**
 * Connection limits of the TLS listener: stalled and trickling clients are disconnected, while
 * a keep-alive connection that keeps making requests is served.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { createApp } from "../src/api/app.ts";
import { setLogLevel } from "../src/log/logger.ts";
import { loadTlsMaterial } from "../src/pki/tls-files.ts";
import { ensureTrialCertificate } from "../src/pki/trial-certificate.ts";
import { listenTls, type Listener } from "../src/runtime/tls-listener.ts";
import { openStore, type Store } from "../src/store/database.ts";

const idleMs = 1000;
const requestMs = 3000;
let folder: string;
let store: Store;
let listener: Listener;
let ca: Buffer;

interface Outcome {
  closedAfterMs: number;
  received: string;
}

/** Opens a TLS connection, sends `payload`, optionally keeps sending `trickle`, and waits for the close. */
function exchange(payload: string, trickle?: string, giveUpMs = 8000): Promise<Outcome> {
  const port = Number(new URL(listener.url).port);
  return new Promise((resolve) => {
    const started = Date.now();
    let received = "";
    let ticker: ReturnType<typeof setInterval> | undefined;
    const socket = connect({ host: "127.0.0.1", port, servername: "localhost", ca }, () => {
      socket.write(payload);
      if (trickle) ticker = setInterval(() => socket.write(trickle), idleMs / 2);
    });
    const giveUp = setTimeout(() => socket.destroy(), giveUpMs);
    socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearInterval(ticker);
      clearTimeout(giveUp);
      resolve({ closedAfterMs: Date.now() - started, received });
    });
  });
}

beforeAll(async () => {
  setLogLevel("error");
  folder = mkdtempSync(join(tmpdir(), "jams-limits-"));
  store = await openStore(folder);
  const trial = await ensureTrialCertificate(join(folder, "tls"));
  ca = readFileSync(trial.certFile);
  const credentials = await loadTlsMaterial({ certFile: trial.certFile, keyFile: trial.keyFile });
  listener = await listenTls({
    host: "127.0.0.1",
    port: 0,
    credentials,
    fetch: createApp({ store, tokenSecret: "test-secret" }).fetch,
    timeouts: { idleMs, requestMs },
  });
});

afterAll(async () => {
  await listener?.close(100);
  store?.close();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

describe("stalled clients", () => {
  test("silent connection is closed when idle", async () => {
    const outcome = await exchange("");
    expect(outcome.closedAfterMs).toBeLessThan(idleMs + 1000);
    expect(outcome.received).toBe("");
  });

  test("half-sent headers are closed when idle", async () => {
    const outcome = await exchange("GET /livez HTTP/1.1\r\nHost: localhost\r\n");
    expect(outcome.closedAfterMs).toBeLessThan(idleMs + 1000);
  });

  test("half-sent body is closed when idle", async () => {
    const outcome = await exchange("POST /api/login HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{}");
    expect(outcome.closedAfterMs).toBeLessThan(idleMs + 1000);
  });

  test("trickled headers hit the request deadline", async () => {
    const outcome = await exchange("GET /livez HTTP/1.1\r\nHost: localhost\r\n", "X-Padding: a\r\n");
    expect(outcome.closedAfterMs).toBeGreaterThanOrEqual(requestMs - 100);
    expect(outcome.closedAfterMs).toBeLessThan(requestMs + 1500);
    expect(outcome.received).toBe("");
  });
});

describe("well-behaved clients", () => {
  test("keep-alive connection serves many requests", async () => {
    const request = "GET /livez HTTP/1.1\r\nHost: localhost\r\n\r\n";
    const last = "GET /livez HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    const outcome = await exchange(request.repeat(14) + last);
    expect(outcome.received.match(/HTTP\/1\.1 200/g)?.length).toBe(15);
  });
});
