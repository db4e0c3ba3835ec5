/** @module Structured JSON logging: one object per line on stdout, for journald and log shippers. */
import pino from "pino";
import { recentEventStream } from "./recent-events.ts";

export type Logger = pino.Logger;
export type LogLevel = "debug" | "info" | "warn" | "error";

// Every line goes to stdout; warn and above are also kept in memory for the admin dashboard.
let root: Logger = pino(
  {
    level: "info",
    base: { app: "jams" },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  },
  pino.multistream([
    { level: "trace", stream: pino.destination(1) },
    { level: "warn", stream: recentEventStream },
  ]),
);

/** Sets the minimum level of every logger made so far and later. */
export function setLogLevel(level: LogLevel): void {
  root.level = level;
}

/** Returns a logger whose lines carry `component`. */
export function logger(component: string): Logger {
  return root.child({ component });
}

/** Strips CR and LF from a client-supplied value so it cannot forge log lines. */
export function clean(value: string, max = 200): string {
  return value.replace(/[\r\n]+/g, " ").slice(0, max);
}
