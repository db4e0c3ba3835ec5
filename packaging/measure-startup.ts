/**
 * @module Measures dist/jams: its size, and the wall time from spawning `jams serve` to its
 * "ready" log line. Three baselines that do no server work run next to it.
 * `dist/jams --version` starts the executable and loads its bundle. An empty program compiled
 * with `bun build --compile` shows the cost of any Bun executable, and `bun -e 0` that of the
 * plain Bun runtime. Prints the median, min and max over N runs and the ratio of each median to
 * `dist/jams --version`.
 *
 *   bun packaging/measure-startup.ts [--runs N] [--binary FILE]
 *
 * Every `serve` run uses a fresh data directory and an openssl-made certificate on a free
 * loopback port, so it includes creating and migrating jams.db. One untimed run of each command
 * comes first to warm the page cache.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const root = join(import.meta.dirname, "..");
const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "10" },
    binary: { type: "string", default: join(root, "dist/jams") },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`invalid --runs ${values.runs}: use a positive integer`);
const binary = values.binary!;
const bun = join(root, "node_modules/.bin/bun");
const readyTimeoutMs = 30_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** Returns the milliseconds from spawn to the process's exit, and rejects on a non-zero exit code. */
function timeToExit(command: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command[0]!, command.slice(1), { stdio: "ignore" });
    child.once("error", reject);
    child.once("exit", (code) => {
      const elapsed = performance.now() - started;
      if (code === 0) resolve(elapsed);
      else reject(new Error(`${command.join(" ")} exited with ${code}`));
    });
  });
}

/** Returns the milliseconds from spawn to the "ready" log line of `serve`, then stops the server. */
async function timeToReady(certDir: string): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), "jams-measure-data-"));
  const port = await freePort();
  const args = ["serve", "--host", "127.0.0.1", "--port", String(port), "--data-dir", dataDir,
    "--cert", join(certDir, "cert.pem"), "--key", join(certDir, "key.pem")];
  try {
    return await new Promise<number>((resolve, reject) => {
      const started = performance.now();
      const child = spawn(binary, args, { stdio: ["ignore", "pipe", "inherit"] });
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`jams serve did not log "ready" within ${readyTimeoutMs} ms`));
      }, readyTimeoutMs);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`jams serve exited with ${code} before "ready"`));
      });
      let output = "";
      child.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (!output.includes('"msg":"ready"')) return;
        const elapsed = performance.now() - started;
        clearTimeout(timer);
        child.removeAllListeners("exit");
        child.once("exit", () => resolve(elapsed));
        child.kill("SIGTERM");
      });
    });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Compiles an empty program into `dir/empty`, the smallest Bun single-file executable. */
function compileEmptyProgram(dir: string): string {
  const source = join(dir, "empty.ts");
  const executable = join(dir, "empty");
  writeFileSync(source, "export {};\n");
  const result = spawnSync(bun, ["build", "--compile", source, "--outfile", executable], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`bun build --compile failed: ${result.stderr}`);
  return executable;
}

function makeCertificate(dir: string): void {
  const result = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
    "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-subj", "/CN=localhost", "-days", "1"], { cwd: dir, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`openssl req failed: ${result.stderr}`);
}

interface Summary {
  label: string;
  median: number;
  min: number;
  max: number;
}

async function measure(label: string, once: () => Promise<number>): Promise<Summary> {
  await once();
  const times: number[] = [];
  for (let run = 0; run < runs; run += 1) times.push(await once());
  times.sort((a, b) => a - b);
  const middle = Math.floor(times.length / 2);
  const median = times.length % 2 === 1 ? times[middle]! : (times[middle - 1]! + times[middle]!) / 2;
  return { label, median, min: times[0]!, max: times[times.length - 1]! };
}

const workDir = mkdtempSync(join(tmpdir(), "jams-measure-"));
try {
  makeCertificate(workDir);
  const emptyExecutable = compileEmptyProgram(workDir);
  const version = spawnSync(binary, ["--version"], { encoding: "utf8" }).stdout.trim();
  const sizeMiB = statSync(binary).size / 2 ** 20;
  const emptySizeMiB = statSync(emptyExecutable).size / 2 ** 20;
  console.log(`binary: ${binary} (${version}), ${sizeMiB.toFixed(1)} MiB; empty --compile program ${emptySizeMiB.toFixed(1)} MiB`);
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? "unknown CPU"}, ${runs} runs each after one warm-up run`);

  const results = [
    await measure("jams --version (exit)", () => timeToExit([binary, "--version"])),
    await measure("empty --compile (exit)", () => timeToExit([emptyExecutable])),
    await measure("bun -e 0 (exit)", () => timeToExit([bun, "-e", "0"])),
    await measure("jams serve (to ready)", () => timeToReady(workDir)),
  ];
  const reference = results[0]!.median;
  console.log("");
  console.log(`${"command".padEnd(24)}${"median ms".padStart(11)}${"min ms".padStart(9)}${"max ms".padStart(9)}${"x --version".padStart(13)}`);
  for (const result of results) {
    console.log(
      result.label.padEnd(24) +
        result.median.toFixed(1).padStart(11) +
        result.min.toFixed(1).padStart(9) +
        result.max.toFixed(1).padStart(9) +
        (result.median / reference).toFixed(2).padStart(13),
    );
  }
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
