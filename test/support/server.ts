/**
 * @module Starts the real server in-process for tests: a temporary data directory, the trial
 * localhost certificate, and the same TLS listener `jams serve` uses, on an ephemeral port.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../src/api/app.ts";
import { generateCa, type CaMaterial } from "../../src/authority/ca.ts";
import type { InstallSettings } from "../../src/config/install-settings.ts";
import {
  createFirstAdmin,
  parseInstallSettings,
  storeAuthType,
  storeCa,
  storeSettingsAndFinish,
} from "../../src/install/setup.ts";
import { setLogLevel } from "../../src/log/logger.ts";
import { loadTlsMaterial } from "../../src/pki/tls-files.ts";
import { ensureTrialCertificate } from "../../src/pki/trial-certificate.ts";
import { listenTls } from "../../src/runtime/tls-listener.ts";
import { openStore, type Store } from "../../src/store/database.ts";
import { loadTokenSecret } from "../../src/tokens/tokens.ts";
import { createLocalUser } from "../../src/users/users.ts";

/** A running test server. */
export interface TestServer {
  url: string;
  /** PEM of the server's self-signed certificate, to trust in clients. */
  serverCa: string;
  dataDir: string;
  store: Store;
  stop(): Promise<void>;
}

/** Credentials of the administrator that `installed: true` creates. */
export const testAdmin = { username: "admin", password: "admin-password" };

let sharedCa: Promise<CaMaterial> | undefined;

/** Returns one generated CA for the whole test process, because RSA 4096 generation takes about a second. */
export function testCa(): Promise<CaMaterial> {
  sharedCa ??= generateCa({ commonName: "Test Organisation CA", organization: "Test" });
  return sharedCa;
}

/**
 * Starts a server. With `installed`, setup is completed (admin, shared test CA, LOCAL users,
 * `settings`) and `users` are created with their passwords.
 */
export async function startServer(options: {
  installed?: boolean;
  settings?: Record<string, unknown>;
  users?: Record<string, string>;
  /** Serve this existing data directory instead of a new one (it is still removed by stop). */
  dataDir?: string;
} = {}): Promise<TestServer> {
  setLogLevel(process.env.JAMS_TEST_LOG_LEVEL === "debug" ? "debug" : "error");
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "jams-test-"));
  const store = await openStore(dataDir);
  if (options.installed) await install(store, parseInstallSettings(options.settings ?? {}));
  for (const [username, password] of Object.entries(options.users ?? {})) {
    await createLocalUser(store, { username, password });
  }
  const trial = await ensureTrialCertificate(join(dataDir, "tls"));
  const material = await loadTlsMaterial({ certFile: trial.certFile, keyFile: trial.keyFile });
  const app = createApp({ store, tokenSecret: await loadTokenSecret(store) });
  const listener = await listenTls({ host: "127.0.0.1", port: 0, credentials: material, fetch: app.fetch });
  return {
    url: listener.url.replace("127.0.0.1", "localhost"),
    serverCa: readFileSync(trial.certFile, "utf8"),
    dataDir,
    store,
    stop: async () => {
      await listener.close(1000);
      store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function install(store: Store, settings: InstallSettings): Promise<void> {
  const ca = await testCa();
  await store.write(async (tx) => {
    await createFirstAdmin(store, tx, testAdmin.username, testAdmin.password);
    await storeCa(tx, ca);
    await storeAuthType(tx, "LOCAL");
    await storeSettingsAndFinish(tx, settings);
  });
}
