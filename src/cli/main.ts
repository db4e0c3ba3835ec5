/**
 * @module The `jams` command line: dispatches to the subcommands.
 *
 * Commands are imported only when they run, so `--help` and `--version` load no server code.
 */
import { commit, version } from "../version.ts";
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
  if (command === undefined || command.startsWith("--")) return (await import("./commands/serve.ts")).runServe(args, env);
  if (/^\d+$/.test(command)) return (await import("./commands/serve.ts")).runLauncherForm(args, env);
  switch (command) {
    case "serve":
      return (await import("./commands/serve.ts")).runServe(rest, env);
    case "setup":
      return (await import("./commands/setup.ts")).runSetup(rest, env);
    case "backup":
      return (await import("./commands/backup.ts")).runBackup(rest, env);
    case "restore":
      return (await import("./commands/backup.ts")).runRestore(rest, env);
    case "user":
      if (rest[0] === "add") return (await import("./commands/user-add.ts")).runUserAdd(rest.slice(1), env);
      throw new UsageError(`unknown user command ${rest[0] ?? "(none)"}; try: jams user add NAME --password-file FILE`);
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

function report(error: unknown): number {
  let message = error instanceof Error ? error.message : String(error);
  const parseCode = (error as NodeJS.ErrnoException).code;
  if (parseCode === "ERR_PARSE_ARGS_UNKNOWN_OPTION") message = `unknown option ${/'([^']+)'/.exec(message)?.[1] ?? message}`;
  // Matched by name so that reporting loads none of the modules that define these errors.
  const name = error instanceof Error ? error.name : "";
  const status = (error as { status?: number }).status;
  const isUsage =
    error instanceof UsageError ||
    (error instanceof TypeError && (error as NodeJS.ErrnoException).code?.startsWith("ERR_PARSE_ARGS")) ||
    (name === "AppError" && status === 400);
  if (isUsage) {
    console.error(`jams: ${message}\nRun "jams --help" for usage.`);
    return 2;
  }
  const known = ["ConfigError", "TlsFileError", "ListenError", "DataDirError", "BackupError", "AppError"];
  if (known.includes(name)) {
    console.error(`jams: ${message}`);
    return 1;
  }
  console.error(`jams: unexpected error: ${error instanceof Error ? (error.stack ?? message) : message}`);
  return 1;
}
