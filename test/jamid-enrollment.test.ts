/**
 * The real Jami client against the built single executable: `dist/jams setup`, `user add` and
 * `serve` with a TLS certificate jamid trusts through SSL_CERT_FILE, a private D-Bus bus, and a
 * loopback dhtnode as the account's bootstrap (without a DHT peer jamid never leaves TRYING).
 *
 * Run `npm run build` first (`npm test` does); a missing binary fails the suite. With
 * JAMS_SERVER_RUNTIME=deno the same sources run under Deno instead of the binary.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeLocalhostCertificates } from "./support/jams-serve.ts";
import { freePort } from "./support/ports.ts";
import { startDbusDaemon, stopChildProcess, type DbusDaemon } from "./support/dbus.ts";
import { startDhtNode, type DhtNode } from "./support/dhtnode.ts";
import { NameLookupState, startJamid, type Jamid } from "./support/jamid.ts";
import { bearerDelete, bearerGet, userLogin } from "./support/jami-client.ts";

const root = join(import.meta.dirname, "..");
const jamsBinary = join(root, "dist/jams");
const runtime = process.env.JAMS_SERVER_RUNTIME ?? "binary";
/** The command that runs `jams`: the built binary, or the sources under Deno. */
const jamsCommand: string[] =
  runtime === "deno"
    ? [join(root, "node_modules/.bin/deno"), "run", "-A", "--node-modules-dir=manual", join(root, "src/main.ts")]
    : [jamsBinary];
const slow = 120_000;

interface ServerLogLine {
  msg: string;
  path?: string;
  method?: string;
  status?: number;
  device?: string;
  [key: string]: unknown;
}

let folder: string;
let port: number;
let tlsCa: string;
let server: ChildProcess;
const serverLog: ServerLogLine[] = [];
let bus: DbusDaemon;
let dht: DhtNode;
let jamid: Jamid;
let aliceAccount: string;
let aliceDeviceId: string;

function run(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const [command, ...prefix] = jamsCommand as [string, ...string[]];
  const result = spawnSync(command, [...prefix, ...args], { cwd, encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}


function startServer(cwd: string): Promise<void> {
  const args = ["serve", "--host", "127.0.0.1", "--port", String(port), "--cert", "server-fullchain.pem", "--key", "server.key", "--data-dir", "data"];
  const [command, ...prefix] = jamsCommand as [string, ...string[]];
  server = spawn(command, [...prefix, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let pending = "";
  let stderr = "";
  server.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`jams serve did not log "ready" in 15 s; stderr: ${stderr}`)), 15_000);
    server.once("exit", (code) => reject(new Error(`jams serve exited with ${code}: ${stderr}`)));
    server.stdout!.on("data", (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        if (!line.startsWith("{")) continue;
        const entry = JSON.parse(line) as ServerLogLine;
        serverLog.push(entry);
        if (entry.msg === "ready") {
          clearTimeout(timer);
          resolve();
        }
      }
    });
  });
}

function requests(method: string, path: string): ServerLogLine[] {
  return serverLog.filter((line) => line.msg === "request" && line.method === method && line.path === path);
}

/** Formats the server's log lines, one per line, for failure messages. */
function requestSummary(): string {
  return serverLog.map((line) => JSON.stringify(line)).join("\n");
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; server requests:\n${requestSummary()}`);
    await Bun.sleep(200);
  }
}

function jamsAccountDetails(username: string, password: string): Record<string, string> {
  return {
    "Account.type": "RING",
    "Account.alias": username,
    "Account.managerUri": `https://localhost:${port}`,
    "Account.managerUsername": username,
    "Account.archivePassword": password,
    "Account.hostname": dht.address,
    "Account.upnpEnabled": "false",
    "TURN.enable": "false",
    "STUN.enable": "false",
    // Keeps any lookup before enrollment on loopback; enrollment replaces it with the server's.
    "RingNS.uri": `https://127.0.0.1:${port}/api/nameserver`,
  };
}

beforeAll(async () => {
  if (!existsSync(jamsCommand[0]!)) throw new Error(`${jamsCommand[0]} is missing: run npm install and npm run build first`);
  folder = mkdtempSync(join(tmpdir(), "jams-jamid-"));
  port = await freePort();
  makeLocalhostCertificates(folder, ["server"]);
  tlsCa = readFileSync(join(folder, "root.crt"), "utf8");
  // Stray files that a compiled Bun binary would read if autoloading were on.
  writeFileSync(join(folder, ".env"), "JAMS_PORT=1\n");
  writeFileSync(join(folder, "bunfig.toml"), 'preload = ["./missing.ts"]\n');
  writeFileSync(join(folder, "admin.pw"), "admin password\n");
  writeFileSync(join(folder, "alice.pw"), "alice: pässwörd\n");
  writeFileSync(join(folder, "bob.pw"), "bob password\n");

  const setup = run(["setup", "--data-dir", "data", "--admin-user", "admin", "--admin-password-file", "admin.pw",
    "--ca-generate", "--ca-subject", "CN=CI Jami CA,O=CI", "--auth", "local",
    "--server-domain", `https://localhost:${port}`], folder);
  if (setup.status !== 0) throw new Error(`jams setup failed: ${setup.stderr}`);
  for (const user of ["alice", "bob"]) {
    const added = run(["user", "add", user, "--password-file", `${user}.pw`, "--data-dir", "data"], folder);
    if (added.status !== 0) throw new Error(`jams user add ${user} failed: ${added.stderr}`);
  }
  await startServer(folder);

  bus = await startDbusDaemon();
  dht = await startDhtNode();
  jamid = await startJamid({ busAddress: bus.address, env: { SSL_CERT_FILE: join(folder, "root.crt") } });
}, slow);

afterAll(async () => {
  await jamid?.stop();
  await dht?.stop();
  await bus?.stop();
  if (server) await stopChildProcess(server);
  if (folder) rmSync(folder, { recursive: true, force: true });
}, slow);

describe("jamid with a local user", () => {
  test("enrolls and reaches REGISTERED", async () => {
    aliceAccount = await jamid.addAccount(jamsAccountDetails("alice", "alice: pässwörd"));
    await jamid.waitForRegistrationStatus(aliceAccount, "REGISTERED", 60_000);
    const details = await jamid.getAccountDetails(aliceAccount);
    expect(details["Account.username"]).toMatch(/^[0-9a-f]{40}$/);
    aliceDeviceId = (await jamid.getVolatileAccountDetails(aliceAccount))["Account.deviceID"] ?? "";
    expect(aliceDeviceId).toMatch(/^[0-9a-f]{64}$/);
    expect(requests("POST", "/api/auth/device").map((line) => line.status)).toEqual([200]);
  }, slow);

  test("stores the three-certificate chain", () => {
    const chain = readFileSync(join(jamid.accountDir(aliceAccount), "ring_device.crt"), "utf8");
    expect(chain.match(/-----BEGIN CERTIFICATE-----/g)?.length).toBe(3);
  });

  test("applies the server's name server", async () => {
    const details = await jamid.getAccountDetails(aliceAccount);
    expect(details["RingNS.uri"]).toBe(`https://localhost:${port}/api/nameserver`);
  });

  test("logs in with its device certificate", async () => {
    const login = await waitFor("a device login", () =>
      requests("POST", "/api/login").find((line) => line.status === 200 && line.device === aliceDeviceId),
    );
    expect(login.user).toBe("alice");
  }, slow);

  test("syncs its contacts and device list", async () => {
    await waitFor("a contacts sync", () => requests("POST", "/api/auth/contacts").find((line) => line.status === 200));
    await waitFor("a device list read", () => requests("GET", "/api/auth/devices").find((line) => line.status === 200));
  }, slow);

  test("appears in the server's device list", async () => {
    const login = await userLogin(`https://localhost:${port}`, tlsCa, "alice", "alice: pässwörd");
    const token = (login.json as { access_token: string }).access_token;
    const list = await bearerGet(`https://localhost:${port}`, tlsCa, token, "/api/auth/devices");
    // jamid 13.7.0 names the device after the host and ignores Account.deviceName.
    const name = (await jamid.getAccountDetails(aliceAccount))["Account.deviceName"];
    expect(list.json).toContainEqual({ deviceId: aliceDeviceId, alias: name, displayName: name, revoked: false });
  });

  test("finds its own name through our name server", async () => {
    const accountId = (await jamid.getAccountDetails(aliceAccount))["Account.username"];
    const found = await jamid.lookupName(aliceAccount, "", "alice");
    expect(found.state).toBe(NameLookupState.found);
    expect(found.address).toBe(accountId!);
    const reverse = await jamid.lookupAddress(aliceAccount, "", accountId!);
    expect(reverse.state).toBe(NameLookupState.found);
    expect(reverse.name).toBe("alice");
  }, slow);

  test("stays REGISTERED after a restart without re-enrolling", async () => {
    const enrollmentsBefore = requests("POST", "/api/auth/device").length;
    await jamid.restart();
    await jamid.waitForRegistrationStatus(aliceAccount, "REGISTERED", 60_000);
    const volatile = await jamid.getVolatileAccountDetails(aliceAccount);
    expect(volatile["Account.registrationStatus"]).toBe("REGISTERED");
    expect(requests("POST", "/api/auth/device").length).toBe(enrollmentsBefore);
    expect(await jamid.getAccountList()).toContain(aliceAccount);
  }, slow);
});

describe("jamid with a wrong password", () => {
  test("drops the new account after a 401", async () => {
    const account = await jamid.addAccount(jamsAccountDetails("bob", "not bob's password"));
    await jamid.waitForAccountRemoved(account, 30_000);
    expect(await jamid.getAccountList()).not.toContain(account);
    const rejected = requests("POST", "/api/auth/device").filter((line) => line.status === 401);
    expect(rejected.length).toBe(1);
  }, slow);
});

describe("jamid with a revoked device", () => {
  let revokedAtLogLine = 0;

  test("gets 401 at its next login", async () => {
    const base = `https://localhost:${port}`;
    const login = await userLogin(base, tlsCa, "alice", "alice: pässwörd");
    const token = (login.json as { access_token: string }).access_token;
    const revoked = await bearerDelete(base, tlsCa, token, `/api/auth/device/${aliceDeviceId}`);
    expect(revoked.status).toBe(200);

    // jamid makes a device login at every start, to fetch its policy.
    const rejectedBefore = requests("POST", "/api/login").filter((line) => line.status === 401).length;
    await jamid.restart();
    const rejection = await waitFor("a rejected device login", () =>
      requests("POST", "/api/login").filter((line) => line.status === 401)[rejectedBefore],
    );
    expect(rejection.error).toBe("device_revoked");
    revokedAtLogLine = serverLog.indexOf(rejection);
  }, slow);

  test("jamid 13.7.0 keeps its identity after the 401", async () => {
    // Daemons since March 2024 delete the identity on this 401 and ask for the password
    // (ERROR_NEED_MIGRATION). Debian's jamid 13.7.0 (February 2023) predates that: it logs the
    // rejected login and stays REGISTERED on the DHT, while the server rejects all its calls.
    await Bun.sleep(2000);
    const status = (await jamid.getVolatileAccountDetails(aliceAccount))["Account.registrationStatus"];
    console.log(`jamid 13.7.0 registration status after device revocation: ${status}`);
    expect(status).toBe("REGISTERED");
    expect(existsSync(join(jamid.accountDir(aliceAccount), "ring_device.key"))).toBe(true);
    const grantedSince = serverLog
      .slice(revokedAtLogLine)
      .filter((line) => line.msg === "request" && line.status === 200 && line.device === aliceDeviceId);
    expect(grantedSince).toEqual([]);
  }, slow);
});

// Only the compiled binary has autoloading and a build commit to check.
if (runtime === "binary") describe("the single executable", () => {
  test("ignores .env and bunfig.toml in its directory", () => {
    // The server bound the port given on the command line, not JAMS_PORT=1 from .env.
    expect(serverLog.find((line) => line.msg === "ready")?.url).toBe(`https://127.0.0.1:${port}`);
  });

  test("reports its version and commit", () => {
    const result = run(["--version"], folder);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^jams \d+\.\d+\.\d+ \([0-9a-f]{12}\)\n$/);
  });
});
