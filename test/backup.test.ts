/**
 * Backup while the server runs, restore into a new data directory, and serve it: enrolled
 * devices still log in, revoked ones are still refused, the CRL is the same, and new devices
 * enroll.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkEnrollmentReply } from "./support/jami-client-checks.ts";
import { bearerDelete, deviceLogin, enroll, makeDeviceKey, makeJamiCsr, userLogin, type DeviceKey } from "./support/jami-client.ts";
import { httpsRequest } from "./support/https.ts";
import { startServer, type TestServer } from "./support/server.ts";

const root = join(import.meta.dirname, "..");
let folder: string;
let original: TestServer;
let restored: TestServer | undefined;
let kept: { key: DeviceKey; chain: string };
let lost: { key: DeviceKey; chain: string };
let accountId: string;
let crlBefore: Buffer;

function jams(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(join(root, "node_modules/.bin/bun"), [join(root, "src/main.ts"), ...args], { cwd: folder, encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function enrollDevice(server: TestServer, name: string): Promise<{ key: DeviceKey; chain: string; reply: unknown }> {
  const key = makeDeviceKey(2048);
  const reply = await enroll(server.url, server.serverCa, "alice", "alice-password", await makeJamiCsr(key), name);
  if (reply.status !== 200) throw new Error(`enrollment failed: ${reply.status} ${reply.text}`);
  return { key, chain: (reply.json as { certificateChain: string }).certificateChain, reply: reply.json };
}

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), "jams-backup-"));
  writeFileSync(join(folder, "pass.txt"), "correct horse battery staple\n");
  writeFileSync(join(folder, "wrong.txt"), "wrong\n");
  original = await startServer({
    installed: true,
    settings: { serverDomain: "https://jams.example.test" },
    users: { alice: "alice-password" },
  });
  const first = await enrollDevice(original, "kept");
  kept = first;
  lost = await enrollDevice(original, "lost");
  accountId = JSON.parse((first.reply as { deviceReceipt: string }).deviceReceipt).id;
  const login = await userLogin(original.url, original.serverCa, "alice", "alice-password");
  await bearerDelete(original.url, original.serverCa, (login.json as { access_token: string }).access_token, `/api/auth/device/${lost.key.longId}`);
  crlBefore = (await httpsRequest(`${original.url}/api/crl/account/${accountId}.crl`, original.serverCa)).body;
});

afterAll(async () => {
  await original?.stop();
  await restored?.stop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

describe("backup while serving", () => {
  test("encrypted backup is written 0600", () => {
    const result = jams(["backup", "--data-dir", original.dataDir, "--out", "backup.jams", "--passphrase-file", "pass.txt"]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(statSync(join(folder, "backup.jams")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(folder, "backup.jams")).subarray(0, 8).toString()).toBe("JAMSBAK1");
  });

  test("encrypted backup hides the keys", () => {
    const content = readFileSync(join(folder, "backup.jams"));
    expect(content.includes(Buffer.from("SQLite format 3"))).toBe(false);
    expect(content.includes(Buffer.from("alice"))).toBe(false);
  });

  test("plain backup is a 0600 SQLite file", () => {
    const result = jams(["backup", "--data-dir", original.dataDir, "--out", "plain.db"]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("NOT encrypted");
    expect(statSync(join(folder, "plain.db")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(folder, "plain.db")).subarray(0, 15).toString()).toBe("SQLite format 3");
  });

  test("existing output file is not overwritten", () => {
    const result = jams(["backup", "--data-dir", original.dataDir, "--out", "plain.db"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("--out plain.db");
  });

  test("missing data dir is a usage error", () => {
    const result = jams(["backup", "--data-dir", join(folder, "nothing"), "--out", "x.jams"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("no jams.db");
  });
});

describe("restore", () => {
  test("wrong passphrase is refused", () => {
    const result = jams(["restore", "--in", "backup.jams", "--data-dir", "wrong-dir", "--passphrase-file", "wrong.txt"]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("wrong passphrase");
  });

  test("encrypted backup needs a passphrase", () => {
    const result = jams(["restore", "--in", "backup.jams", "--data-dir", "no-pass"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("--passphrase-file");
  });

  test("a file that is no backup is refused", () => {
    writeFileSync(join(folder, "junk.bin"), "not a backup at all");
    const result = jams(["restore", "--in", "junk.bin", "--data-dir", "junk-dir"]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("not a jams backup");
  });

  test("a non-empty data dir is refused", () => {
    const result = jams(["restore", "--in", "plain.db", "--data-dir", original.dataDir]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("already contains a jams.db");
  });

  test("restores into a new data dir", () => {
    const result = jams(["restore", "--in", "backup.jams", "--data-dir", "restored", "--passphrase-file", "pass.txt"]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(statSync(join(folder, "restored", "jams.db")).mode & 0o777).toBe(0o600);
  });

  test("plain backup restores too", () => {
    const result = jams(["restore", "--in", "plain.db", "--data-dir", "restored-plain"]);
    expect(result.status).toBe(0);
  });
});

describe("the restored server", () => {
  beforeAll(async () => {
    restored = await startServer({ dataDir: join(folder, "restored") });
  });

  test("recognises an enrolled device", async () => {
    const reply = await deviceLogin(restored!.url, restored!.serverCa, kept.key.privateKeyPem, kept.chain);
    expect(reply.status).toBe(200);
    expect((reply.json as { scope: string }).scope).toBe("DEVICE");
  });

  test("still refuses the revoked device", async () => {
    const reply = await deviceLogin(restored!.url, restored!.serverCa, lost.key.privateKeyPem, lost.chain);
    expect(reply.status).toBe(401);
  });

  test("serves the same CRL", async () => {
    const crl = (await httpsRequest(`${restored!.url}/api/crl/account/${accountId}.crl`, restored!.serverCa)).body;
    expect(crl.equals(crlBefore)).toBe(true);
  });

  test("enrolls a new device on the same account", async () => {
    const device = await enrollDevice(restored!, "new");
    expect(checkEnrollmentReply(device.reply, device.key)).toEqual([]);
    expect(JSON.parse((device.reply as { deviceReceipt: string }).deviceReceipt).id).toBe(accountId);
  });
});
