/**
 * The Debian package on this machine, with the real dpkg. packaging/build-deb.sh builds it from
 * dist/jams and `dpkg -i` installs it. The `jams` user runs setup and serve, and a device
 * enrolls. Remove, reinstall and upgrade keep /var/lib/jams, and purge deletes it.
 *
 * Needs root, dpkg-dev and a built dist/jams (`bun packaging/build.ts`; `npm test` builds it).
 * It refuses to start when a jams package, user, group or /var/lib/jams already exists, and
 * afterAll purges the package and deletes what the test created, so the machine ends as it
 * started. systemd is not running in CI, so the unit is never started here.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkEnrollmentReply } from "./support/jami-client-checks.ts";
import { enroll, makeDeviceKey, makeJamiCsr, userLogin } from "./support/jami-client.ts";
import { makeLocalhostCertificates, startServe, stopServe, type ServeProcess } from "./support/jams-serve.ts";
import { freePort } from "./support/ports.ts";

const root = join(import.meta.dirname, "..");
const builtBinary = join(root, "dist/jams");
const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
const upgradeVersion = `${version}+upgradetest1`;
const dataDir = "/var/lib/jams";
const database = join(dataDir, "jams.db");
const slow = 120_000;

let folder: string;
let port: number;
let tlsCa: string;
let firstDeb: string;
let upgradeDeb: string;
let server: ServeProcess | undefined;
/** Whether the machine had no jams package, user, group or data at start. afterAll cleans up only then. */
let machineWasClean = false;

interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): RunResult {
  const result = spawnSync(command, args, { cwd: options.cwd ?? folder, env: options.env ?? process.env, encoding: "utf8" });
  if (result.error) throw new Error(`${command} could not run: ${result.error.message}`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs a command and throws with its output unless it exits 0. */
function mustRun(command: string, args: string[]): RunResult {
  const result = run(command, args);
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited with ${result.status}:\n${result.stdout}${result.stderr}`);
  }
  return result;
}

/** Runs build-deb.sh asynchronously, so two builds can share the two cores. */
function buildDeb(args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn("bash", [join(root, "packaging/build-deb.sh"), ...args], { cwd: root });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("exit", (status) => resolve({ status, stdout, stderr }));
  });
}

/** Minimal environment for commands run as jams: no JAMS_* variable of the test run leaks in. */
const jamsEnv: Record<string, string> = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: dataDir, LANG: "C.UTF-8" };

/** Runs /usr/bin/jams as the jams user and group, as the systemd unit does. */
function runAsJams(args: string[]): RunResult {
  return run("setpriv", ["--reuid=jams", "--regid=jams", "--init-groups", "/usr/bin/jams", ...args], { env: jamsEnv });
}

function packageStatus(): string {
  return run("dpkg-query", ["-W", "-f=${Status} ${Version}", "jams"]).stdout;
}

function accountExists(database: "passwd" | "group"): boolean {
  return run("getent", [database, "jams"]).status === 0;
}

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Reads the installed unit's `Environment=` settings and `ExecStart=` command line. */
function installedUnit(): { environment: Record<string, string>; execStart: string[] } {
  const unit = readFileSync("/lib/systemd/system/jams.service", "utf8");
  const environment: Record<string, string> = {};
  for (const match of unit.matchAll(/^Environment=([A-Z_]+)=(\S+)$/gm)) environment[match[1]!] = match[2]!;
  const execStart = /^ExecStart=(.+)$/m.exec(unit)?.[1]?.split(" ") ?? [];
  return { environment, execStart };
}

/**
 * Starts the server as the unit does: as jams, with the unit's command line and environment,
 * and STATE_DIRECTORY as systemd sets it. Only the address moves to a free loopback port.
 */
function startJamsServe(): Promise<ServeProcess> {
  const unit = installedUnit();
  const env = { ...jamsEnv, ...unit.environment, STATE_DIRECTORY: dataDir, JAMS_HOST: "127.0.0.1", JAMS_PORT: String(port) };
  const command = ["setpriv", "--reuid=jams", "--regid=jams", "--init-groups", ...unit.execStart];
  return startServe(command, { cwd: folder, env });
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error("the package test installs a .deb and needs root");
  if (!existsSync(builtBinary)) throw new Error(`${builtBinary} is missing: build it with \`bun packaging/build.ts\` first`);
  const leftovers = [
    packageStatus() !== "" ? `the jams package (${packageStatus()})` : "",
    accountExists("passwd") ? "a jams user" : "",
    accountExists("group") ? "a jams group" : "",
    existsSync(dataDir) ? dataDir : "",
    existsSync("/etc/jams") ? "/etc/jams" : "",
  ].filter(Boolean);
  if (leftovers.length > 0) {
    throw new Error(`this machine already has ${leftovers.join(", ")}, which the test would delete. Run it on a machine without them`);
  }
  machineWasClean = true;

  folder = mkdtempSync(join(tmpdir(), "jams-package-"));
  port = await freePort();
  makeLocalhostCertificates(folder, ["server"]);
  tlsCa = readFileSync(join(folder, "root.crt"), "utf8");
  writeFileSync(join(folder, "admin.pw"), "package admin password\n");
  writeFileSync(join(folder, "alice.pw"), "alice package password\n");
  writeFileSync(join(folder, "bob.pw"), "bob package password\n");

  const [first, upgrade] = await Promise.all([
    buildDeb(["--out", folder]),
    buildDeb(["--out", folder, "--version", upgradeVersion]),
  ]);
  if (first.status !== 0) throw new Error(`build-deb.sh failed: ${first.stderr}`);
  if (upgrade.status !== 0) throw new Error(`build-deb.sh --version ${upgradeVersion} failed: ${upgrade.stderr}`);
  firstDeb = join(folder, `jams_${version}_amd64.deb`);
  upgradeDeb = join(folder, `jams_${upgradeVersion}_amd64.deb`);
}, slow);

afterAll(async () => {
  if (server) await stopServe(server);
  if (machineWasClean) {
    if (packageStatus() !== "") run("dpkg", ["--purge", "jams"]);
    // A failed purge script leaves these behind. Nothing else had them when the test began.
    if (accountExists("passwd")) run("userdel", ["jams"]);
    if (accountExists("group")) run("groupdel", ["jams"]);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync("/etc/jams", { recursive: true, force: true });
  }
  if (folder) rmSync(folder, { recursive: true, force: true });
}, slow);

describe("build-deb.sh", () => {
  test("fails without the binary", () => {
    const missing = join(folder, "no-such-jams");
    const result = run("bash", [join(root, "packaging/build-deb.sh"), "--binary", missing, "--out", join(folder, "missing")]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`${missing} is missing`);
    expect(result.stderr).toContain("bun packaging/build.ts");
    expect(existsSync(join(folder, "missing"))).toBe(false);
  });

  test("rejects an invalid version", () => {
    const result = run("bash", [join(root, "packaging/build-deb.sh"), "--version", "1.0 beta", "--out", folder]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('invalid Debian version "1.0 beta"');
  });

  test("rejects a version the binary does not report", () => {
    const result = run("bash", [join(root, "packaging/build-deb.sh"), "--version", "99.0.0", "--out", folder]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("does not match the binary");
    expect(existsSync(join(folder, "jams_99.0.0_amd64.deb"))).toBe(false);
  });

  test("rejects an unknown argument", () => {
    const result = run("bash", [join(root, "packaging/build-deb.sh"), "--arch", "arm64"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("unknown argument: --arch");
  });
});

describe("package metadata", () => {
  test("control fields", () => {
    const field = (name: string) => mustRun("dpkg-deb", ["-f", firstDeb, name]).stdout.trim();
    expect(field("Package")).toBe("jams");
    expect(field("Version")).toBe(version);
    expect(field("Architecture")).toBe("amd64");
    expect(field("Depends")).toMatch(/^libc6 \(>= 2\.\d+\)$/);
    expect(field("Recommends")).toBe("dhtnode, coturn");
    expect(Number(field("Installed-Size"))).toBeGreaterThan(statSync(builtBinary).size / 1024);
  });

  test("files, owners and modes", () => {
    const listing = mustRun("dpkg-deb", ["-c", firstDeb]).stdout.trim().split("\n");
    const files = listing
      .filter((line) => !line.startsWith("d"))
      .map((line) => {
        const [mode, owner, , , , path] = line.split(/\s+/);
        return `${mode} ${owner} ${path}`;
      })
      .sort();
    expect(files).toEqual([
      "-rw-r--r-- root/root ./lib/systemd/system/jams.service",
      "-rw-r--r-- root/root ./usr/share/doc/jams/README.md",
      "-rw-r--r-- root/root ./usr/share/doc/jams/copyright",
      "-rwxr-xr-x root/root ./usr/bin/jams",
    ]);
  });

  test("maintainer scripts", () => {
    const info = mustRun("dpkg-deb", ["-I", firstDeb]).stdout;
    for (const script of ["postinst", "prerm", "postrm"]) {
      // dpkg-deb -I marks executable control files with "*".
      expect(info).toMatch(new RegExp(`\\d+ lines\\s+\\*\\s+${script}\\s+#!/bin/sh`));
    }
  });
});

describe("installed package", () => {
  test("installs the binary and the unit", () => {
    const result = mustRun("dpkg", ["-i", firstDeb]);
    expect(result.stdout).toContain("jams is installed but not started");
    expect(packageStatus()).toBe(`install ok installed ${version}`);
    expect(mustRun("/usr/bin/jams", ["--version"]).stdout).toMatch(new RegExp(`^jams ${version.replaceAll(".", "\\.")} \\([0-9a-f]{12}\\)\\n$`));
    expect(readFileSync("/lib/systemd/system/jams.service", "utf8")).toContain("ExecStart=/usr/bin/jams serve");
    expect(statSync("/etc/jams").isDirectory()).toBe(true);
  }, slow);

  test("installed unit passes systemd-analyze verify", () => {
    const result = run("systemd-analyze", ["verify", "/lib/systemd/system/jams.service"]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  test("unit exposure score stays at 1.2 or lower", () => {
    // packaging/SECURITY-SCORE.md records the score and the items behind it.
    const result = mustRun("systemd-analyze", ["security", "--offline=true", "--no-pager", "/lib/systemd/system/jams.service"]);
    const score = /Overall exposure level for jams\.service: (\d+\.\d)/.exec(result.stdout)?.[1];
    expect(score).toBeDefined();
    expect(Number(score)).toBeLessThanOrEqual(1.2);
    expect(result.stdout).toMatch(/✗ MemoryDenyWriteExecute=/);
  });

  test("creates the jams system user", () => {
    const [, , uid, gid, , home, shell] = mustRun("getent", ["passwd", "jams"]).stdout.trim().split(":");
    // Debian's /etc/login.defs puts system users below UID 1000.
    expect(Number(uid)).toBeLessThan(1000);
    expect(mustRun("getent", ["group", "jams"]).stdout.split(":")[2]).toBe(gid!);
    expect(home).toBe(dataDir);
    expect(shell).toBe("/usr/sbin/nologin");
  });

  test("creates /var/lib/jams 0700 for jams", () => {
    const stat = statSync(dataDir);
    expect(stat.mode & 0o777).toBe(0o700);
    expect(String(stat.uid)).toBe(mustRun("id", ["-u", "jams"]).stdout.trim());
  });

  test("setup and user add as jams", () => {
    // jams reads the password files here, and cannot enter the root-owned temporary folder otherwise.
    mustRun("chown", ["-R", "jams:jams", folder]);
    const setup = runAsJams(["setup", "--data-dir", dataDir, "--admin-user", "admin",
      "--admin-password-file", join(folder, "admin.pw"), "--ca-generate", "--ca-subject", "CN=Package Test CA,O=CI",
      "--auth", "local", "--server-domain", `https://localhost:${port}`]);
    expect(setup.stderr).toBe("");
    expect(setup.status).toBe(0);
    const added = runAsJams(["user", "add", "alice", "--password-file", join(folder, "alice.pw"), "--data-dir", dataDir]);
    expect(added.stderr).toBe("");
    expect(added.status).toBe(0);
    const stat = statSync(database);
    expect(stat.mode & 0o777).toBe(0o600);
    expect(String(stat.uid)).toBe(mustRun("id", ["-u", "jams"]).stdout.trim());
  }, slow);

  test("unit's certificate files, readable by the jams group", () => {
    const unit = installedUnit();
    expect(unit.execStart).toEqual(["/usr/bin/jams", "serve"]);
    expect(unit.environment.JAMS_CERT_FILE).toBe("/etc/jams/fullchain.pem");
    expect(unit.environment.JAMS_KEY_FILE).toBe("/etc/jams/privkey.pem");
    // As the README and postinst tell the operator: owner root, group jams, mode 0640.
    mustRun("install", ["-m", "0640", "-g", "jams", join(folder, "server-fullchain.pem"), "/etc/jams/fullchain.pem"]);
    mustRun("install", ["-m", "0640", "-g", "jams", join(folder, "server.key"), "/etc/jams/privkey.pem"]);
    const read = run("setpriv", ["--reuid=jams", "--regid=jams", "--init-groups", "cat", "/etc/jams/privkey.pem"]);
    expect(read.status).toBe(0);
  });

  test("keeps other users out of the data", () => {
    const listing = run("setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "ls", dataDir]);
    expect(listing.status).not.toBe(0);
    expect(listing.stderr).toContain("Permission denied");
  });

  test("serves and enrolls a device", async () => {
    server = await startJamsServe();
    expect(server.ready.url).toBe(`https://127.0.0.1:${port}`);
    const key = makeDeviceKey(2048);
    const reply = await enroll(`https://localhost:${port}`, tlsCa, "alice", "alice package password", await makeJamiCsr(key), "package test");
    expect(reply.status).toBe(200);
    expect(checkEnrollmentReply(reply.json, key)).toEqual([]);
    expect(await stopServe(server)).toBe(0);
    expect(server.log.map((line) => line.msg)).toContain("stopped");
    server = undefined;
  }, slow);

  test("rejects a wrong password", async () => {
    server = await startJamsServe();
    const key = makeDeviceKey(2048);
    const reply = await enroll(`https://localhost:${port}`, tlsCa, "alice", "not alice's password", await makeJamiCsr(key), "intruder");
    expect(reply.status).toBe(401);
    expect(await stopServe(server)).toBe(0);
    server = undefined;
  }, slow);
});

describe("package lifecycle", () => {
  let databaseHash = "";

  test("remove keeps the data and the user", () => {
    databaseHash = sha256(database);
    mustRun("dpkg", ["-r", "jams"]);
    expect(packageStatus()).toBe(`deinstall ok config-files ${version}`);
    expect(existsSync("/usr/bin/jams")).toBe(false);
    expect(existsSync("/lib/systemd/system/jams.service")).toBe(false);
    expect(sha256(database)).toBe(databaseHash);
    expect(accountExists("passwd")).toBe(true);
  }, slow);

  test("reinstall keeps the data", () => {
    const result = mustRun("dpkg", ["-i", firstDeb]);
    expect(packageStatus()).toBe(`install ok installed ${version}`);
    expect(sha256(database)).toBe(databaseHash);
    // The next steps are printed on the first install only.
    expect(result.stdout).not.toContain("jams is installed but not started");
    const again = runAsJams(["user", "add", "alice", "--password-file", join(folder, "alice.pw"), "--data-dir", dataDir]);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain("user alice already exists");
  }, slow);

  test("installing the same version again keeps the data", () => {
    const hash = sha256(database);
    mustRun("dpkg", ["-i", firstDeb]);
    expect(packageStatus()).toBe(`install ok installed ${version}`);
    expect(sha256(database)).toBe(hash);
  }, slow);

  test("upgrade keeps the data and serves it", async () => {
    const keyHash = sha256("/etc/jams/privkey.pem");
    const hash = sha256(database);
    mustRun("dpkg", ["-i", upgradeDeb]);
    expect(packageStatus()).toBe(`install ok installed ${upgradeVersion}`);
    expect(sha256(database)).toBe(hash);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(sha256("/etc/jams/privkey.pem")).toBe(keyHash);
    const added = runAsJams(["user", "add", "bob", "--password-file", join(folder, "bob.pw"), "--data-dir", dataDir]);
    expect(added.stderr).toBe("");
    expect(added.status).toBe(0);
    server = await startJamsServe();
    const login = await userLogin(`https://localhost:${port}`, tlsCa, "alice", "alice package password");
    expect(login.status).toBe(200);
    expect(await stopServe(server)).toBe(0);
    server = undefined;
  }, slow);

  test("purge deletes the data, user and group", () => {
    mustRun("dpkg", ["-P", "jams"]);
    expect(packageStatus()).toBe("");
    expect(existsSync("/usr/bin/jams")).toBe(false);
    expect(existsSync(dataDir)).toBe(false);
    expect(existsSync("/etc/jams")).toBe(false);
    expect(accountExists("passwd")).toBe(false);
    expect(accountExists("group")).toBe(false);
  }, slow);
});
