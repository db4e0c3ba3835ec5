/**
 * @module Tests of the `jams` command line, run as a subprocess (`bun src/main.ts ...`): help
 * and version without side effects, usage errors with exit status 2, `setup` and `user add`
 * against a real data directory, and `serve` binding, logging and stopping on SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import https from "node:https";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { eq } from "drizzle-orm";
import { openStore } from "../src/store/database.ts";
import { users } from "../src/store/schema.ts";
import { freePort } from "./support/ports.ts";

const repoRoot = resolve(import.meta.dir, "..");
const mainScript = join(repoRoot, "src", "main.ts");

/** How long a `serve` child may take to log "ready". */
const readyTimeoutMs = 20_000;

let workDir: string;

function workPath(...parts: string[]): string {
  return join(workDir, ...parts);
}

/** Returns a new empty directory under the work directory. */
function emptyDir(name: string): string {
  const path = workPath(name);
  mkdirSync(path);
  return path;
}

/** Returns this process's environment without JAMS_* settings and STATE_DIRECTORY, for children. */
function childEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith("JAMS_") && key !== "STATE_DIRECTORY") env[key] = value;
  }
  return env;
}

interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `bun src/main.ts ARGS` to completion, by default with the repository as `cwd`. */
function runJams(args: string[], options: { cwd?: string; input?: string } = {}): CliResult {
  const result = spawnSync(process.execPath, [mainScript, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: childEnv(),
    input: options.input,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Returns the non-empty lines of `text`. */
function lines(text: string): string[] {
  return text.split("\n").filter((line) => line.trim() !== "");
}

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { cwd: workDir, stdio: ["ignore", "ignore", "pipe"] });
}


/** A running `serve` child with its parsed JSON log lines. */
interface ServeChild {
  child: ChildProcess;
  logs: Record<string, unknown>[];
  exited: Promise<number | null>;
  stderr: () => string;
}

/**
 * Spawns a long-running `jams` command and collects its JSON log lines from stdout. With
 * `umask`, a shell sets it and then execs Bun, so signals still reach the server itself.
 */
function spawnJams(args: string[], cwd: string, options: { umask?: string } = {}): ServeChild {
  const command = [process.execPath, mainScript, ...args];
  const argv = options.umask === undefined ? command : ["/bin/sh", "-c", `umask ${options.umask} && exec "$0" "$@"`, ...command];
  const child = spawn(argv[0]!, argv.slice(1), { cwd, env: childEnv(), stdio: ["ignore", "pipe", "pipe"] });
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  createInterface({ input: child.stdout! }).on("line", (line) => {
    try {
      logs.push(JSON.parse(line));
    } catch {
      logs.push({ unparsed: line });
    }
  });
  const exited = new Promise<number | null>((resolveExit) => child.on("exit", (code) => resolveExit(code)));
  return { child, logs, exited, stderr: () => stderr };
}

/** Waits for the log line whose `msg` is `message`, and throws if the child exits first. */
async function waitForLog(serve: ServeChild, message: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + readyTimeoutMs;
  let exitCode: number | null | undefined;
  void serve.exited.then((code) => (exitCode = code));
  while (Date.now() < deadline) {
    const line = serve.logs.find((entry) => entry.msg === message);
    if (line) return line;
    if (exitCode !== undefined) throw new Error(`jams exited with ${exitCode} before logging "${message}": ${serve.stderr()}`);
    await Bun.sleep(20);
  }
  throw new Error(`jams did not log "${message}" within ${readyTimeoutMs} ms: ${serve.stderr()}`);
}

/** Sends `GET path` to `url` trusting `ca`, and returns the status and JSON body. */
function httpsGet(url: string, path: string, ca: string): Promise<{ status: number; json: any }> {
  const target = new URL(url);
  return new Promise((resolveGet, reject) => {
    const request = https.request(
      { host: target.hostname, port: target.port, path, ca, servername: "localhost", agent: false },
      (response) => {
        let text = "";
        response.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
        response.on("end", () => resolveGet({ status: response.statusCode ?? 0, json: JSON.parse(text) }));
      },
    );
    request.on("error", reject);
    request.end();
  });
}

function fileMode(path: string): string {
  return (statSync(path).mode & 0o777).toString(8);
}

const passwordFile = () => workPath("admin-password.txt");

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), "jams-cli-"));
  writeFileSync(passwordFile(), "admin password\n");
  writeFileSync(workPath("alice-password.txt"), "alice password\n");
  writeFileSync(workPath("empty.txt"), "");
  openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "ca.key");
  openssl(
    "req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=CLI Test CA", "-days", "30",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    "-out", "ca.crt",
  );
  // A TLS server certificate for localhost: not a CA, and usable by `serve --cert`.
  openssl(
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "tls.key", "-subj", "/CN=localhost", "-days", "30",
    "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "-out", "tls.crt",
  );
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

describe("cli help and version", () => {
  const cases: [string, string[]][] = [
    ["--help", ["--help"]],
    ["-h", ["-h"]],
    ["--version", ["--version"]],
    ["serve --help", ["serve", "--help"]],
    ["setup --help", ["setup", "--help"]],
  ];

  for (const [name, args] of cases) {
    test(`${name} creates nothing`, () => {
      const cwd = emptyDir(`help-${name.replace(/\W+/g, "-")}`);
      const dataDir = join(cwd, "state");
      const result = runJams([...args, "--data-dir", dataDir], { cwd });
      expect(result.status).toBe(0);
      expect(result.stderr).toBe("");
      expect(existsSync(dataDir)).toBe(false);
      expect(readdirSync(cwd)).toEqual([]);
    });
  }

  test("--help prints usage", () => {
    const result = runJams(["--help"]);
    expect(result.stdout).toContain("Usage:");
    expect(result.stdout).toContain("jams serve");
    expect(result.stdout).toContain("Exit status");
  });

  test("--version prints version", () => {
    const result = runJams(["--version"]);
    expect(result.stdout).toMatch(/^jams \S+ \(.+\)\n$/);
  });

  test("help has no password value flag", () => {
    const usage = runJams(["--help"]).stdout;
    const flags = usage.match(/--[a-z-]*(password|passphrase)[a-z-]*/g) ?? [];
    expect(flags.length).toBeGreaterThan(0);
    expect(flags.filter((flag) => !flag.endsWith("-file"))).toEqual([]);
  });
});

describe("cli usage errors", () => {
  /** Runs a command expected to fail with a usage error, and checks that it created nothing. */
  function runUsageError(args: string[]): { first: string; lines: string[] } {
    const cwd = emptyDir(`usage-${Math.random().toString(36).slice(2)}`);
    const dataDir = join(cwd, "state");
    const result = runJams([...args, "--data-dir", dataDir], { cwd });
    expect(result.status).toBe(2);
    expect(result.stdout).toBe("");
    expect(existsSync(dataDir)).toBe(false);
    expect(readdirSync(cwd)).toEqual([]);
    const stderrLines = lines(result.stderr);
    // Expect one line that states the error, at most one hint line, and no stack trace.
    expect(stderrLines.length).toBeLessThanOrEqual(2);
    expect(result.stderr).not.toContain("    at ");
    return { first: stderrLines[0] ?? "", lines: stderrLines };
  }

  const setupBase = () => ["setup", "--admin-user", "admin", "--admin-password-file", passwordFile(), "--auth", "local"];

  test("unknown command", () => {
    const { first } = runUsageError(["frobnicate"]);
    expect(first).toContain("unknown command frobnicate");
  });

  test("unknown user subcommand", () => {
    const { first } = runUsageError(["user", "remove", "alice"]);
    expect(first).toContain("remove");
  });

  test("unknown serve flag", () => {
    const { first } = runUsageError(["serve", "--bogus"]);
    expect(first).toContain("--bogus");
  });

  test("unknown flag without command", () => {
    const { first } = runUsageError(["--bogus"]);
    expect(first).toContain("--bogus");
  });

  test("password on argv is rejected", () => {
    const { first } = runUsageError(["user", "add", "alice", "--password", "secret"]);
    expect(first).toContain("--password");
    expect(first).not.toContain("secret");
  });

  test("admin password on argv is rejected", () => {
    const args = ["setup", "--admin-user", "admin", "--admin-password", "secret", "--ca-generate", "--auth", "local"];
    const { first } = runUsageError(args);
    expect(first).toContain("--admin-password");
  });

  test("setup without password file flag", () => {
    const { first } = runUsageError(["setup", "--admin-user", "admin", "--ca-generate", "--auth", "local"]);
    expect(first).toContain("--admin-password-file");
  });

  test("setup with missing password file", () => {
    const missing = workPath("no-such-password.txt");
    const args = ["setup", "--admin-user", "admin", "--admin-password-file", missing, "--ca-generate", "--auth", "local"];
    const { first } = runUsageError(args);
    expect(first).toContain(missing);
  });

  test("setup with empty password file", () => {
    const empty = workPath("empty.txt");
    const args = ["setup", "--admin-user", "admin", "--admin-password-file", empty, "--ca-generate", "--auth", "local"];
    const { first } = runUsageError(args);
    expect(first).toContain(empty);
    expect(first).toContain("empty");
  });

  test("setup with two CA sources", () => {
    const args = [...setupBase(), "--ca-generate", "--ca-cert", workPath("ca.crt"), "--ca-key", workPath("ca.key")];
    const { first } = runUsageError(args);
    expect(first).toContain("--ca-generate");
    expect(first).toContain("--ca-cert");
  });

  test("setup with no CA source", () => {
    const { first } = runUsageError(setupBase());
    expect(first).toContain("--ca-generate");
  });

  test("setup with non-CA certificate", () => {
    const certificate = workPath("tls.crt");
    const args = [...setupBase(), "--ca-cert", certificate, "--ca-key", workPath("tls.key")];
    const { first } = runUsageError(args);
    expect(first).toContain(certificate);
    expect(first).toContain("not a CA");
  });

  test("setup with mismatched CA key", () => {
    const key = workPath("tls.key");
    const args = [...setupBase(), "--ca-cert", workPath("ca.crt"), "--ca-key", key];
    const { first } = runUsageError(args);
    expect(first).toContain(key);
  });

  test("setup with missing CA file", () => {
    const missing = workPath("no-such-ca.crt");
    const { first } = runUsageError([...setupBase(), "--ca-cert", missing, "--ca-key", workPath("ca.key")]);
    expect(first).toContain(missing);
  });

  test("setup with LDAP auth", () => {
    const args = ["setup", "--admin-user", "admin", "--admin-password-file", passwordFile(), "--ca-generate", "--auth", "ldap"];
    const { first } = runUsageError(args);
    expect(first).toContain("--auth");
  });

  test("setup with http server domain", () => {
    const { first } = runUsageError([...setupBase(), "--ca-generate", "--server-domain", "http://x"]);
    expect(first).toContain("serverDomain");
  });

  test("setup with bad device lifetime", () => {
    const { first } = runUsageError([...setupBase(), "--ca-generate", "--device-lifetime", "abc"]);
    expect(first).toContain("deviceLifetime");
  });

  test("user add without name", () => {
    const { first } = runUsageError(["user", "add", "--password-file", workPath("alice-password.txt")]);
    expect(first).toContain("NAME");
  });
});

describe("cli data dir is a file", () => {
  const commands: [string, string[]][] = [
    ["setup", ["setup", "--admin-user", "admin", "--admin-password-file", "PASSWORD", "--ca-cert", "CA_CERT", "--ca-key", "CA_KEY", "--auth", "local"]],
    ["user add", ["user", "add", "alice", "--password-file", "PASSWORD"]],
    ["serve", ["serve", "--port", "1"]],
  ];

  for (const [name, template] of commands) {
    test(`${name} names the file`, () => {
      const notADirectory = workPath(`file-not-dir-${name.replace(" ", "-")}`);
      writeFileSync(notADirectory, "");
      const substitutes: Record<string, string> = {
        PASSWORD: passwordFile(),
        CA_CERT: workPath("ca.crt"),
        CA_KEY: workPath("ca.key"),
      };
      const args = template.map((arg) => substitutes[arg] ?? arg);
      const result = runJams([...args, "--data-dir", notADirectory]);
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain(notADirectory);
      expect(result.stderr).not.toContain("    at ");
      expect(lines(result.stderr).length).toBeLessThanOrEqual(2);
    });
  }
});

describe("cli setup and users", () => {
  let dataDir: string;

  beforeAll(() => {
    dataDir = workPath("setup-data");
  });

  const setupArgs = () => [
    "setup", "--data-dir", dataDir, "--admin-user", "admin", "--admin-password-file", passwordFile(),
    "--ca-cert", workPath("ca.crt"), "--ca-key", workPath("ca.key"), "--auth", "local",
  ];

  test("setup succeeds", () => {
    const result = runJams(setupArgs());
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("setup complete");
  });

  test("data directory mode is 0700", () => {
    expect(fileMode(dataDir)).toBe("700");
  });

  test("database file mode is 0600", () => {
    expect(fileMode(join(dataDir, "jams.db"))).toBe("600");
  });

  test("database side files are 0600", () => {
    const sideFiles = readdirSync(dataDir).filter((name) => name.startsWith("jams.db-"));
    for (const name of sideFiles) {
      expect(`${name} ${fileMode(join(dataDir, name))}`).toBe(`${name} 600`);
    }
  });

  test("second setup is rejected", () => {
    const result = runJams(setupArgs());
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("already set up");
  });

  test("generated CA setup succeeds", () => {
    const other = workPath("setup-generated");
    const result = runJams([
      "setup", "--data-dir", other, "--admin-user", "admin", "--admin-password-file", passwordFile(),
      "--ca-generate", "--ca-subject", "CN=Generated CA,O=Example,C=FR", "--auth", "local",
      "--server-domain", "https://jams.example.org", "--device-lifetime", "90d",
    ]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  test("user add succeeds", () => {
    const result = runJams(["user", "add", "alice", "--password-file", workPath("alice-password.txt"), "--data-dir", dataDir]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("alice");
  });

  test("user add twice fails", () => {
    const result = runJams(["user", "add", "alice", "--password-file", workPath("alice-password.txt"), "--data-dir", dataDir]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("already exists");
  });

  test("user add ignores letter case", () => {
    const result = runJams(["user", "add", "ALICE", "--password-file", workPath("alice-password.txt"), "--data-dir", dataDir]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("already exists");
  });

  test("user add reads password from stdin", () => {
    const result = runJams(["user", "add", "carol", "--password-file", "-", "--data-dir", dataDir], { input: "carol password\n" });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  test("failed commands changed nothing", async () => {
    const store = await openStore(dataDir);
    try {
      const rows = await store.db.select({ username: users.username, role: users.role }).from(users);
      expect(rows.map((row) => `${row.username}:${row.role}`).sort()).toEqual(["admin:admin", "alice:user", "carol:user"]);
      const admins = await store.db.select().from(users).where(eq(users.role, "admin"));
      expect(admins.length).toBe(1);
    } finally {
      store.close();
    }
  });
});

describe("cli serve lifecycle", () => {
  let serve: ServeChild;
  let dataDir: string;
  let port: number;
  let ready: Record<string, unknown>;

  beforeAll(async () => {
    const cwd = emptyDir("serve-ready");
    dataDir = join(cwd, "data");
    port = await freePort();
    // umask 000 shows that the server sets private modes itself instead of relying on the umask.
    serve = spawnJams(["serve", "--host", "127.0.0.1", "--port", String(port), "--data-dir", dataDir], cwd, { umask: "000" });
    ready = await waitForLog(serve, "ready");
  });

  afterAll(async () => {
    if (serve.child.exitCode === null) serve.child.kill("SIGKILL");
    await serve.exited;
  });

  test("ready line carries the URL", () => {
    expect(ready.url).toBe(`https://127.0.0.1:${port}`);
    expect(ready.level).toBe("info");
  });

  test("port answers once ready", async () => {
    const trial = serve.logs.find((entry) => typeof entry.certFile === "string");
    const reply = await httpsGet(String(ready.url), "/livez", readFileSync(String(trial?.certFile), "utf8"));
    expect(reply.status).toBe(200);
    expect(reply.json.status).toBe("ok");
  });

  test("data files are private", () => {
    expect(fileMode(dataDir)).toBe("700");
    for (const name of readdirSync(dataDir).filter((entry) => entry.startsWith("jams.db"))) {
      expect(`${name} ${fileMode(join(dataDir, name))}`).toBe(`${name} 600`);
    }
  });

  test("trial key is private", () => {
    expect(fileMode(join(dataDir, "tls"))).toBe("700");
    expect(fileMode(join(dataDir, "tls", "trial-tls.key"))).toBe("600");
  });

  test("SIGTERM exits with 0", async () => {
    serve.child.kill("SIGTERM");
    expect(await serve.exited).toBe(0);
    expect(serve.logs.some((entry) => entry.msg === "stopped")).toBe(true);
  });
});

describe("cli serve", () => {
  const running: ServeChild[] = [];

  afterAll(async () => {
    for (const serve of running) {
      if (serve.child.exitCode === null) serve.child.kill("SIGKILL");
      await serve.exited;
    }
  });

  test("port in use names the address", async () => {
    const blocker = createServer();
    await new Promise<void>((resolveListen) => blocker.listen(0, "127.0.0.1", resolveListen));
    const { port } = blocker.address() as AddressInfo;
    try {
      const dataDir = workPath("serve-port-in-use");
      const result = runJams(["serve", "--host", "127.0.0.1", "--port", String(port), "--data-dir", dataDir]);
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain(`127.0.0.1:${port}`);
      expect(result.stderr).toContain("already in use");
      expect(result.stdout).not.toContain('"msg":"ready"');
    } finally {
      await new Promise<void>((resolveClose) => blocker.close(() => resolveClose()));
    }
  });

  test("missing --cert file is named", async () => {
    const missing = workPath("no-such-cert.pem");
    const port = await freePort();
    const result = runJams([
      "serve", "--port", String(port), "--cert", missing, "--key", workPath("tls.key"), "--data-dir", workPath("serve-missing-cert"),
    ]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(missing);
    expect(result.stderr).not.toContain("    at ");
  });

  test("--cert without --key", async () => {
    const result = runJams(["serve", "--cert", workPath("tls.crt"), "--data-dir", workPath("serve-cert-only")]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("--key");
  });

  test("invalid port is rejected", () => {
    const result = runJams(["serve", "--port", "70000", "--data-dir", workPath("serve-bad-port")]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("port");
  });

  test("launcher form serves on PORT", async () => {
    const cwd = emptyDir("launcher");
    const port = await freePort();
    const serve = spawnJams([String(port), workPath("tls.crt"), workPath("tls.key")], cwd);
    running.push(serve);

    const ready = await waitForLog(serve, "ready");
    expect(ready.url).toBe(`https://0.0.0.0:${port}`);

    const reply = await httpsGet(`https://127.0.0.1:${port}`, "/api/info", readFileSync(workPath("tls.crt"), "utf8"));
    expect(reply.status).toBe(200);
    expect(reply.json.installed).toBe(false);
    expect(existsSync(join(cwd, "data", "jams.db"))).toBe(true);

    serve.child.kill("SIGTERM");
    expect(await serve.exited).toBe(0);
  });

  test("launcher form needs three arguments", () => {
    const result = runJams(["8443", workPath("tls.crt")], { cwd: emptyDir("launcher-short") });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("jams PORT CERT KEY");
  });
});
