/** @module The `jams` command line: dispatches to the subcommands. */
import { AppError } from "../api/errors.ts";
import { ConfigError } from "../config/serve-config.ts";
import { TlsFileError } from "../pki/tls-files.ts";
import { ListenError } from "../runtime/tls-listener.ts";
import { BackupError } from "../store/backup.ts";
import { DataDirError } from "../store/database.ts";
import { commit, version } from "../version.ts";
import { runBackup, runRestore } from "./commands/backup.ts";
import { runServe, runLauncherForm } from "./commands/serve.ts";
import { runSetup } from "./commands/setup.ts";
import { runUserAdd } from "./commands/user-add.ts";
import { usage } from "./help.ts";
import { UsageError } from "./usage-error.ts";

/** Runs the command line and returns the exit status. */
export async function runCli(args: string[], env: Record<string, string | undefined>): Promise<number> {
  try {
    return await dispatch(args, env);
  } catch (error) {
    return report(error);
  }
}

async function dispatch(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const [command, ...rest] = args;
  if (command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(usage);
    return 0;
  }
  if (command === "--version" || command === "-v" || command === "version") {
    console.log(`jams ${version} (${commit})`);
    return 0;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(usage);
    return 0;
  }
  if (command === undefined || command.startsWith("--")) return runServe(args, env);
  if (/^\d+$/.test(command)) return runLauncherForm(args, env);
  switch (command) {
    case "serve":
      return runServe(rest, env);
    case "setup":
      return runSetup(rest, env);
    case "backup":
      return runBackup(rest, env);
    case "restore":
      return runRestore(rest, env);
    case "user":
      if (rest[0] === "add") return runUserAdd(rest.slice(1), env);
      throw new UsageError(`unknown user command ${rest[0] ?? "(none)"}; try: jams user add NAME --password-file FILE`);
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

function report(error: unknown): number {
  const message = error instanceof Error ? error.message : String(error);
  const isUsage =
    error instanceof UsageError ||
    (error instanceof TypeError && (error as NodeJS.ErrnoException).code?.startsWith("ERR_PARSE_ARGS")) ||
    (error instanceof AppError && error.status === 400);
  if (isUsage) {
    console.error(`jams: ${message}\nRun "jams --help" for usage.`);
    return 2;
  }
  const known = [ConfigError, TlsFileError, ListenError, DataDirError, BackupError, AppError];
  if (known.some((type) => error instanceof type)) {
    console.error(`jams: ${message}`);
    return 1;
  }
  console.error(`jams: unexpected error: ${error instanceof Error ? (error.stack ?? message) : message}`);
  return 1;
}
