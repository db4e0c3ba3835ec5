/** @module Entry point of the `jams` executable. */
import { runCli } from "./cli/main.ts";

const status = await runCli(process.argv.slice(2), process.env);
process.exit(status);
