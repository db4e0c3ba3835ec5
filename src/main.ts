/** @module Entry point of the `jams` executable. */
// @peculiar/x509 needs the Reflect metadata polyfill loaded before it. Loading it here, first,
// keeps that order when the bundler initialises lazily imported commands.
import "reflect-metadata";
import { runCli } from "./cli/main.ts";

const status = await runCli(process.argv.slice(2), process.env);
process.exit(status);
