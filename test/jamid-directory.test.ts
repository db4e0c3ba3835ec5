/**
 * The real Jami client enrolling directory users through the built single executable: one
 * appliance set up with `jams setup --auth ldap` against a real slapd, one with `--auth ad`
 * against a real Samba AD DC. jamid enrolls one user of each, reaches REGISTERED, and stays
 * registered after a restart, even with the directories stopped (device logins use the device
 * certificate, not the directory).
 *
 * Run `npm run build` first (`npm test` does); a missing binary fails the suite.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDbusDaemon, stopChildProcess, type DbusDaemon } from "./support/dbus.ts";
import { startDhtNode, type DhtNode } from "./support/dhtnode.ts";
import { startJamid, type Jamid } from "./support/jamid.ts";
import { adDomain, adUsers, startSambaAd, type SambaAd } from "./support/samba-ad.ts";
import { makeLocalhostCertificates } from "./support/jams-serve.ts";
import { freePort } from "./support/ports.ts";
import { ldapBase, ldapEntry, ldapPeople, ldapReader, startSlapd, type Slapd } from "./support/slapd.ts";

const root = join(import.meta.dirname, "..");
const jamsBinary = process.env.JAMS_BINARY ?? join(root, "dist/jams");
const slow = 120_000;

const ldapUser = { name: "léa", password: "Léa-pässwörd 1", displayName: "Léa Dupont" };
const adUser = { name: "jdoe", password: "Jdoe-Pass-123", givenName: "John", surname: "Doe" };
const adReader = { name: "svc-jams", password: "Svc-Jams-Pass-1" };

interface LogLine {
  msg: string;
  path?: string;
  method?: string;
  status?: number;
  user?: string;
  device?: string;
  [key: string]: unknown;
}

/** One appliance process and its request log. */
interface Appliance {
  port: number;
  process: ChildProcess;
  log: LogLine[];
}

let folder: string;
let slapd: Slapd;
let samba: SambaAd;
let ldapServer: Appliance;
let adServer: Appliance;
let bus: DbusDaemon;
let dht: DhtNode;
let jamid: Jamid;
let ldapAccount: string;
let adAccount: string;

function run(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(jamsBinary, args, { cwd: folder, encoding: "utf8", env: { PATH: process.env.PATH ?? "", ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function serve(dataDir: string, port: number): Promise<Appliance> {
  const args = ["serve", "--host", "127.0.0.1", "--port", String(port), "--cert", "server-fullchain.pem", "--key", "server.key", "--data-dir", dataDir];
  const child = spawn(jamsBinary, args, { cwd: folder, stdio: ["ignore", "pipe", "pipe"] });
  const appliance: Appliance = { port, process: child, log: [] };
  let pending = "";
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`jams serve ${dataDir} did not log "ready" in 15 s; stderr: ${stderr}`)), 15_000);
    child.once("exit", (code) => reject(new Error(`jams serve ${dataDir} exited with ${code}: ${stderr}`)));
    child.stdout!.on("data", (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        if (!line.startsWith("{")) continue;
        const entry = JSON.parse(line) as LogLine;
        appliance.log.push(entry);
        if (entry.msg === "ready") {
          clearTimeout(timer);
          resolve(appliance);
        }
      }
    });
  });
}

function requests(appliance: Appliance, method: string, path: string): LogLine[] {
  return appliance.log.filter((line) => line.msg === "request" && line.method === method && line.path === path);
}

function accountDetails(appliance: Appliance, username: string, password: string): Record<string, string> {
  return {
    "Account.type": "RING",
    "Account.alias": username,
    "Account.managerUri": `https://localhost:${appliance.port}`,
    "Account.managerUsername": username,
    "Account.archivePassword": password,
    "Account.hostname": dht.address,
    "Account.upnpEnabled": "false",
    "TURN.enable": "false",
    "STUN.enable": "false",
    "RingNS.uri": `https://127.0.0.1:${appliance.port}/api/nameserver`,
  };
}

function ldapSeed(): string {
  return (
    ldapEntry(ldapBase, { objectClass: ["dcObject", "organization"], dc: "example", o: "Example" }) +
    ldapEntry(ldapPeople, { objectClass: "organizationalUnit", ou: "people" }) +
    ldapEntry(ldapReader.dn, { objectClass: ["organizationalRole", "simpleSecurityObject"], cn: "reader", userPassword: ldapReader.password }) +
    ldapEntry(`uid=${ldapUser.name},${ldapPeople}`, {
      objectClass: "inetOrgPerson",
      uid: ldapUser.name,
      cn: ldapUser.displayName,
      sn: "Dupont",
      givenName: "Léa",
      displayName: ldapUser.displayName,
      userPassword: ldapUser.password,
    })
  );
}

beforeAll(async () => {
  if (!existsSync(jamsBinary)) throw new Error(`${jamsBinary} is missing: run npm run build first`);
  folder = mkdtempSync(join(tmpdir(), "jams-jamid-directory-"));
  makeLocalhostCertificates(folder, ["server"]);
  slapd = await startSlapd(ldapSeed());
  samba = await startSambaAd([adUser, adReader]);
  writeFileSync(join(folder, "admin.pw"), "admin password\n");
  writeFileSync(join(folder, "reader.pw"), `${ldapReader.password}\n`);
  writeFileSync(join(folder, "ldap-ca.crt"), slapd.tls.caPem);
  writeFileSync(join(folder, "ad-ca.crt"), samba.tls.caPem);
  const [ldapPort, adPort] = [await freePort(), await freePort()];

  const common = ["--admin-user", "admin", "--admin-password-file", "admin.pw", "--ca-generate", "--ca-subject", "CN=CI Directory CA"];
  const ldapSetup = run(["setup", "--data-dir", "ldap-data", ...common, "--auth", "ldap", "--server-domain", `https://localhost:${ldapPort}`,
    "--ldap-url", slapd.ldapUrl, "--ldap-start-tls", "--ldap-bind-dn", ldapReader.dn, "--ldap-bind-password-file", "reader.pw",
    "--ldap-base-dn", ldapPeople, "--ldap-ca-file", "ldap-ca.crt"]);
  if (ldapSetup.status !== 0) throw new Error(`jams setup --auth ldap failed: ${ldapSetup.stderr}`);
  // The AD lookup password comes from the environment this time.
  const adSetup = run(["setup", "--data-dir", "ad-data", ...common, "--auth", "ad", "--server-domain", `https://localhost:${adPort}`,
    "--ad-host", "127.0.0.1", "--ad-domain", adDomain, "--ad-base-dn", adUsers, "--ad-bind-user", `${adDomain}\\${adReader.name}`,
    "--ad-ca-file", "ad-ca.crt"], { JAMS_AD_BIND_PASSWORD: adReader.password });
  if (adSetup.status !== 0) throw new Error(`jams setup --auth ad failed: ${adSetup.stderr}`);

  ldapServer = await serve("ldap-data", ldapPort);
  adServer = await serve("ad-data", adPort);
  bus = await startDbusDaemon();
  dht = await startDhtNode();
  jamid = await startJamid({ busAddress: bus.address, env: { SSL_CERT_FILE: join(folder, "root.crt") } });
}, slow);

afterAll(async () => {
  await jamid?.stop();
  await dht?.stop();
  await bus?.stop();
  if (ldapServer) await stopChildProcess(ldapServer.process);
  if (adServer) await stopChildProcess(adServer.process);
  await slapd?.remove();
  await samba?.remove();
  if (folder) rmSync(folder, { recursive: true, force: true });
}, slow);

describe("jamid with directory users", () => {
  test("enrolls an OpenLDAP user", async () => {
    ldapAccount = await jamid.addAccount(accountDetails(ldapServer, ldapUser.name, ldapUser.password));
    await jamid.waitForRegistrationStatus(ldapAccount, "REGISTERED", 60_000);
    expect((await jamid.getAccountDetails(ldapAccount))["Account.username"]).toMatch(/^[0-9a-f]{40}$/);
    expect(requests(ldapServer, "POST", "/api/auth/device").map((line) => line.status)).toEqual([200]);
  }, slow);

  test("enrolls an Active Directory user", async () => {
    adAccount = await jamid.addAccount(accountDetails(adServer, adUser.name, adUser.password));
    await jamid.waitForRegistrationStatus(adAccount, "REGISTERED", 60_000);
    expect((await jamid.getAccountDetails(adAccount))["Account.username"]).toMatch(/^[0-9a-f]{40}$/);
    expect(requests(adServer, "POST", "/api/auth/device").map((line) => line.status)).toEqual([200]);
  }, slow);

  test("stay REGISTERED after a restart with the directories down", async () => {
    const enrollments = requests(ldapServer, "POST", "/api/auth/device").length + requests(adServer, "POST", "/api/auth/device").length;
    await slapd.stop();
    await samba.stop();
    await jamid.restart();
    await jamid.waitForRegistrationStatus(ldapAccount, "REGISTERED", 60_000);
    await jamid.waitForRegistrationStatus(adAccount, "REGISTERED", 60_000);
    const accounts = await jamid.getAccountList();
    expect(accounts).toContain(ldapAccount);
    expect(accounts).toContain(adAccount);
    expect(requests(ldapServer, "POST", "/api/auth/device").length + requests(adServer, "POST", "/api/auth/device").length).toBe(enrollments);
  }, slow);
});

describe("setup command for directories", () => {
  test("rejects --auth ldap without a bind password", () => {
    const result = run(["setup", "--data-dir", "none", "--admin-user", "admin", "--admin-password-file", "admin.pw", "--ca-generate",
      "--auth", "ldap", "--ldap-url", slapd.ldapUrl, "--ldap-bind-dn", ldapReader.dn, "--ldap-base-dn", ldapPeople]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("--ldap-bind-password-file");
    expect(existsSync(join(folder, "none"))).toBe(false);
  });

  test("rejects a bind password on the command line", () => {
    const result = run(["setup", "--data-dir", "none", "--admin-user", "admin", "--admin-password-file", "admin.pw", "--ca-generate",
      "--auth", "ldap", "--ldap-bind-password", ldapReader.password]);
    expect(result.status).toBe(2);
  });

  test("rejects AD flags with --auth ldap", () => {
    const result = run(["setup", "--data-dir", "none", "--admin-user", "admin", "--admin-password-file", "admin.pw", "--ca-generate",
      "--auth", "ldap", "--ad-host", "127.0.0.1", "--ldap-bind-password-file", "reader.pw"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("--ad-host");
  });

  test("rejects invalid directory settings and names the field", () => {
    const result = run(["setup", "--data-dir", "bad-settings", "--admin-user", "admin", "--admin-password-file", "admin.pw", "--ca-generate",
      "--auth", "ldap", "--ldap-url", "ldaps://127.0.0.1", "--ldap-start-tls", "--ldap-bind-dn", ldapReader.dn,
      "--ldap-bind-password-file", "reader.pw", "--ldap-base-dn", ldapPeople]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("startTls");
  });
});
