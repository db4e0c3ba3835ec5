/** @module Build identity of this binary. */

/** Version and commit, replaced at build time by packaging/build.ts through `define`. */
declare const JAMS_BUILD_VERSION: string | undefined;
declare const JAMS_BUILD_COMMIT: string | undefined;

export const version: string =
  typeof JAMS_BUILD_VERSION === "string" ? JAMS_BUILD_VERSION : "0.1.0-dev";

export const commit: string =
  typeof JAMS_BUILD_COMMIT === "string" ? JAMS_BUILD_COMMIT : "unknown";
