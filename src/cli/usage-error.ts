/** @module A command-line usage error: printed on one line, exit status 2. */
export class UsageError extends Error {
  override name = "UsageError";
}
