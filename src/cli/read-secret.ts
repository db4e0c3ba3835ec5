/** @module Reading secrets from files (or stdin), never from argv. */
import { readFileSync } from "node:fs";
import { UsageError } from "./usage-error.ts";

/** Reads a secret from `path` ("-" reads stdin) and removes one trailing newline. */
export function readSecretFile(path: string, flag: string): string {
  let text: string;
  try {
    text = readFileSync(path === "-" ? 0 : path, "utf8");
  } catch (error) {
    throw new UsageError(`${flag} ${path}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
  const secret = text.replace(/\r?\n$/, "");
  if (secret === "") throw new UsageError(`${flag} ${path}: the file is empty`);
  return secret;
}
