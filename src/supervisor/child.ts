/**
 * @module One supervised external process: start, output capture into the structured log,
 * health checks, restart with exponential backoff, crash-loop reporting, and stop.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { clean, logger, type Logger } from "../log/logger.ts";
import { backoffDelay, FailureHistory, type RestartPolicy } from "./backoff.ts";
import { checkUdpPortFree, findExecutable } from "./preflight.ts";

/**
 * Way the child learns that the appliance died, even from SIGKILL:
 * - `stdin`: the child itself exits when its stdin pipe closes (dhtnode does);
 * - `watchdog`: the child ignores stdin (coturn), so it runs under a shell that starts a
 *   background watchdog reading the pipe, then `exec`s the binary under the same pid. On end
 *   of file the watchdog sends SIGTERM to that pid, then SIGKILL after the grace period.
 */
export type ParentDeathMode = "stdin" | "watchdog";

/** Description of one external program for the supervisor to run. */
export interface ChildSpec {
  /** Short name used in logs and status, e.g. `dhtnode`. */
  name: string;
  /** Executable name (looked up on PATH) or path. */
  binary: string;
  /** Debian package that provides the binary, named in the "not found" message. */
  debianPackage: string;
  args: string[];
  cwd?: string;
  /** The UDP port the child binds, checked before each start. */
  udpPort: { host: string; port: number };
  parentDeath: ParentDeathMode;
  /** Overrides the policy's time between the stop request and SIGKILL, in milliseconds. */
  stopGraceMs?: number;
  /** Runs before each start, e.g. to write a config file. */
  prepare?: () => Promise<void> | void;
  /** Resolves when the child is healthy, rejects with the reason otherwise. */
  probe: (timeoutMs: number) => Promise<unknown>;
}

export type ChildState = "stopped" | "starting" | "running" | "backoff" | "crash-loop" | "stopping";

/** A child's status, as the admin API and the readiness probe report it. */
export interface ChildStatus {
  name: string;
  state: ChildState;
  pid: number | null;
  /** Number of starts after the first one. */
  restarts: number;
  lastExit: { code: number | null; signal: string | null; reason: string; at: string } | null;
  /** Seconds since the current process started, or null when none runs. */
  uptimeSeconds: number | null;
  lastHealthCheck: { at: string; ok: boolean; detail: string } | null;
  /** Reason the child is not running, or null while it runs. */
  problem: string | null;
  nextStartAt: string | null;
}

/** Shell script of the `watchdog` mode. `$0` is the binary and `$@` its arguments. */
function watchdogScript(graceSeconds: number): string {
  // A non-interactive shell gives background jobs /dev/null as stdin, so the pipe is kept on fd 3.
  // `kill -TERM $$` fails once the binary has exited, and the watchdog then exits at once.
  // NOTE: if the pid were reused between the binary's exit and the watchdog's kill, the
  // signal would hit the wrong process. The window is the time to close one pipe.
  return [
    "exec 3<&0",
    // After SIGTERM it polls every 0.2 s and sends SIGKILL once the grace period is over.
    `(while read -r _; do :; done; kill -TERM $$ 2>/dev/null || exit 0; i=0; while [ $i -lt ${graceSeconds * 5} ] && kill -0 $$ 2>/dev/null; do sleep 0.2; i=$((i + 1)); done; kill -KILL $$ 2>/dev/null) <&3 >/dev/null 2>&1 &`,
    'exec "$0" "$@" </dev/null 3<&-',
  ].join("\n");
}

export class SupervisedChild {
  readonly #spec: ChildSpec;
  readonly #policy: RestartPolicy;
  readonly #searchPath: string | undefined;
  readonly #log: Logger;
  readonly #failures = new FailureHistory();
  #state: ChildState = "stopped";
  #process: ChildProcess | undefined;
  #startedAt: number | undefined;
  #restarts = 0;
  #launches = 0;
  #consecutiveFailures = 0;
  #healthFailures = 0;
  #lastExit: ChildStatus["lastExit"] = null;
  #lastHealthCheck: ChildStatus["lastHealthCheck"] = null;
  #problem: string | null = null;
  /** The problem last logged at error level, so a repeated one is logged once. */
  #reportedProblem: string | null = null;
  #repeats = 0;
  #nextStartAt: number | undefined;
  #inCrashLoop = false;
  #killReason: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #exited: Promise<void> = Promise.resolve();

  constructor(spec: ChildSpec, policy: RestartPolicy, searchPath: string | undefined) {
    this.#spec = spec;
    this.#policy = policy;
    this.#searchPath = searchPath;
    this.#log = logger("supervisor").child({ child: spec.name });
  }

  get name(): string {
    return this.#spec.name;
  }

  /** Starts the child in the background. Start failures are logged and retried, not thrown. */
  start(): void {
    if (this.#state !== "stopped") return;
    this.#state = "starting";
    this.#launchInBackground();
  }

  #launchInBackground(): void {
    this.#launch().catch((error: Error) => this.#fail(`cannot start: ${error.message}`));
  }

  status(): ChildStatus {
    const running = this.#process !== undefined && this.#startedAt !== undefined;
    return {
      name: this.#spec.name,
      state: this.#state,
      pid: this.#process?.pid ?? null,
      restarts: this.#restarts,
      lastExit: this.#lastExit,
      uptimeSeconds: running ? Math.floor((Date.now() - this.#startedAt!) / 1000) : null,
      lastHealthCheck: this.#lastHealthCheck,
      problem: this.#problem,
      nextStartAt: this.#nextStartAt === undefined ? null : new Date(this.#nextStartAt).toISOString(),
    };
  }

  /** Stops the child: SIGTERM, then SIGKILL after the grace period. No restart follows. */
  async stop(): Promise<void> {
    if (this.#state === "stopped") return;
    this.#state = "stopping";
    clearTimeout(this.#timer);
    this.#nextStartAt = undefined;
    if (this.#process) {
      this.#terminate(this.#process, "the appliance is stopping");
      await this.#exited;
    }
    this.#state = "stopped";
    this.#log.info("stopped");
  }

  /** A method, not an inline test, so TypeScript does not narrow the state across awaits. */
  #isStopping(): boolean {
    return this.#state === "stopping" || this.#state === "stopped";
  }

  async #launch(): Promise<void> {
    if (this.#isStopping()) return;
    this.#nextStartAt = undefined;
    if (this.#launches > 0) this.#restarts += 1;
    this.#launches += 1;
    const { binary, debianPackage, udpPort } = this.#spec;
    const executable = findExecutable(binary, this.#searchPath);
    if (!executable) {
      this.#fail(`binary not found: ${binary} (install the Debian package ${debianPackage} or set the binary path)`);
      return;
    }
    try {
      await checkUdpPortFree(udpPort.host, udpPort.port);
      await this.#spec.prepare?.();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason = code === "EADDRINUSE"
        ? `port ${udpPort.port}/udp on ${udpPort.host} is already in use by another process`
        : `cannot start: ${(error as Error).message}`;
      this.#fail(reason);
      return;
    }
    if (this.#isStopping()) return;
    this.#spawn(executable);
  }

  #spawn(executable: string): void {
    const { args, cwd, parentDeath } = this.#spec;
    const graceSeconds = Math.max(1, Math.ceil(this.#policy.stopGraceMs / 1000));
    const [command, argv] = parentDeath === "watchdog"
      ? ["/bin/sh", ["-c", watchdogScript(graceSeconds), executable, ...args]]
      : [executable, args];
    const child = spawn(command, argv, { cwd, stdio: ["pipe", "pipe", "pipe"] });
    this.#process = child;
    this.#startedAt = Date.now();
    this.#state = "starting";
    this.#healthFailures = 0;
    this.#killReason = undefined;
    this.#captureOutput(child);
    this.#exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.#onExit(child, code, signal);
        resolve();
      });
    });
    child.once("error", (error) => {
      // A spawn failure emits "error" without "exit".
      if (child.pid === undefined) {
        this.#process = undefined;
        this.#startedAt = undefined;
        this.#fail(`cannot run ${executable}: ${error.message}`);
      }
    });
    child.stdin?.on("error", () => {
      // The child closed its end; its exit is reported by the "exit" handler.
    });
    if (child.pid !== undefined) this.#log.info({ pid: child.pid, executable, args }, "started");
    this.#scheduleHealthCheck(Math.min(500, this.#policy.healthIntervalMs));
  }

  #captureOutput(child: ChildProcess): void {
    for (const [stream, name] of [[child.stdout, "stdout"], [child.stderr, "stderr"]] as const) {
      if (!stream) continue;
      const lines = createInterface({ input: stream, crlfDelay: Infinity });
      lines.on("line", (line) => {
        const text = line.replace(/^(>>\s*)+/, "").trim();
        if (text) this.#log.info({ stream: name, pid: child.pid }, clean(text, 1000));
      });
    }
  }

  #scheduleHealthCheck(delayMs: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#checkHealth(), delayMs);
  }

  async #checkHealth(): Promise<void> {
    const child = this.#process;
    if (!child || this.#killReason || this.#state === "stopping") return;
    let ok = true;
    let detail = "ok";
    try {
      const answer = await this.#spec.probe(this.#policy.healthTimeoutMs);
      if (typeof answer === "string" && answer) detail = answer;
    } catch (error) {
      ok = false;
      detail = (error as Error).message;
    }
    if (child !== this.#process || this.#killReason || this.#isStopping()) return;
    this.#lastHealthCheck = { at: new Date().toISOString(), ok, detail };
    if (ok) {
      this.#onHealthy();
    } else if (this.#state === "starting") {
      const waited = Date.now() - this.#startedAt!;
      if (waited >= this.#policy.startTimeoutMs) {
        this.#terminate(child, `not healthy within the start timeout of ${Math.round(waited / 1000)} s: ${detail}`);
        return;
      }
      this.#scheduleHealthCheck(Math.min(500, this.#policy.healthIntervalMs));
    } else {
      this.#healthFailures += 1;
      this.#log.warn({ failures: this.#healthFailures, detail }, "health check failed");
      if (this.#healthFailures >= this.#policy.healthFailuresBeforeRestart) {
        this.#terminate(child, `${this.#healthFailures} health checks failed in a row: ${detail}`);
        return;
      }
      this.#scheduleHealthCheck(this.#policy.healthIntervalMs);
    }
  }

  #onHealthy(): void {
    if (this.#state === "starting") {
      this.#log.info({ pid: this.#process?.pid, restarts: this.#restarts }, "healthy");
      if (this.#reportedProblem) this.#log.info({ previousProblem: this.#reportedProblem }, "recovered");
      this.#reportedProblem = null;
      this.#repeats = 0;
    }
    this.#state = "running";
    this.#problem = null;
    this.#healthFailures = 0;
    this.#scheduleHealthCheck(this.#policy.healthIntervalMs);
  }

  /** Asks the child to exit (stdin end of file or SIGTERM), then sends SIGKILL after the grace period. */
  #terminate(child: ChildProcess, reason: string): void {
    this.#killReason ??= reason;
    clearTimeout(this.#timer);
    // dhtnode 2.4.12 exits at once when its stdin closes, but when SIGTERM also arrives it logs
    // "Stopping node..." and hangs until SIGKILL. So SIGTERM goes only to children that
    // ignore stdin, or after half the grace period.
    const exited = () => child.exitCode !== null || child.signalCode !== null;
    const graceMs = this.#spec.stopGraceMs ?? this.#policy.stopGraceMs;
    let signalLater: NodeJS.Timeout | undefined;
    if (this.#spec.parentDeath === "stdin") {
      child.stdin?.end();
      signalLater = setTimeout(() => exited() || child.kill("SIGTERM"), graceMs / 2);
    } else {
      child.kill("SIGTERM");
    }
    const escalate = setTimeout(() => {
      if (!exited()) {
        this.#log.warn({ pid: child.pid, graceMs }, "did not stop in time; sending SIGKILL");
        child.kill("SIGKILL");
      }
    }, graceMs);
    child.once("exit", () => {
      clearTimeout(signalLater);
      clearTimeout(escalate);
    });
  }

  #onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.#process) return;
    clearTimeout(this.#timer);
    // Closing the pipe ends the watchdog; its kill then fails because the pid is gone.
    child.stdin?.destroy();
    const uptimeMs = Date.now() - (this.#startedAt ?? Date.now());
    const reason = this.#killReason ?? (code === 0 ? "exited" : `exited with ${signal ? `signal ${signal}` : `code ${code}`}`);
    this.#lastExit = { code, signal, reason, at: new Date().toISOString() };
    this.#process = undefined;
    this.#startedAt = undefined;
    if (this.#state === "stopping") {
      this.#log.info({ pid: child.pid, code, signal }, "exited");
      return;
    }
    if (uptimeMs >= this.#policy.stableAfterMs) this.#consecutiveFailures = 0;
    this.#fail(`${reason} after ${Math.round(uptimeMs / 1000)} s (pid ${child.pid})`);
  }

  /** Records a failure, reports it once, and schedules the next start with backoff. */
  #fail(reason: string): void {
    if (this.#state === "stopping" || this.#state === "stopped") return;
    const now = Date.now();
    this.#consecutiveFailures += 1;
    const recent = this.#failures.record(now, this.#policy.crashLoopWindowMs);
    const delayMs = backoffDelay(this.#consecutiveFailures, this.#policy);
    const crashLoop = recent >= this.#policy.crashLoopFailures;
    const enteringCrashLoop = crashLoop && !this.#inCrashLoop;
    this.#inCrashLoop = crashLoop;
    this.#state = crashLoop ? "crash-loop" : "backoff";
    this.#problem = reason;
    this.#nextStartAt = now + delayMs;
    const fields = { reason, restarts: this.#restarts, retryInMs: delayMs };
    // The same problem is logged at error once; repeats go to debug with a count.
    const kind = reason.replace(/\d+/g, "N");
    if (enteringCrashLoop) {
      this.#log.error({ ...fields, failures: recent, windowMs: this.#policy.crashLoopWindowMs }, "crash loop: the child keeps failing; retrying with backoff");
    } else if (kind !== this.#reportedProblem) {
      this.#log.error(fields, "child failed; retrying with backoff");
    } else {
      this.#repeats += 1;
      this.#log.debug({ ...fields, repeats: this.#repeats }, "child failed again");
    }
    this.#reportedProblem = kind;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#launchInBackground(), delayMs);
  }
}
