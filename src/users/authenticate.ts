/**
 * @module The one entry point for checking a username and password, whatever the user source.
 *
 * Users stored with source "local" (every administrator created at setup, and users added with
 * `jams user add`) are checked against their password hash, so a dead directory never locks an
 * administrator out. Every other name goes to the configured directory, and a successful
 * directory login creates or refreshes the user's row (source "ldap" or "ad", no password hash).
 */
import { eq } from "drizzle-orm";
import type { Services } from "../api/context.ts";
import { AppError, conflict, unauthorized } from "../api/errors.ts";
import { DirectoryUnavailableError } from "../directory/connection.ts";
import type { DirectoryUser } from "../directory/profile.ts";
import { directoryFor } from "../directory/registry.ts";
import { clean, logger } from "../log/logger.ts";
import type { Store } from "../store/database.ts";
import { users, type UserRow } from "../store/schema.ts";
import { checkCredentials, findUserByName, maxUsernameLength } from "./users.ts";

const log = logger("auth");

/** A user whose password was just checked, with the directory profile for directory users. */
export interface Authenticated {
  user: UserRow;
  profile?: DirectoryUser;
}

/**
 * Checks a username and password. Throws 401 invalid_credentials for any wrong name or
 * password (the log line names the case), 503 directory_unavailable when the directory is
 * unreachable or fails, and 409 user_exists when a directory user's name is taken by a local user.
 */
export async function authenticate(services: Services, username: string, password: string): Promise<UserRow> {
  return (await authenticateWithProfile(services, username, password)).user;
}

/** Same as `authenticate`, and also returns the directory profile of a directory user. */
export async function authenticateWithProfile(services: Services, username: string, password: string): Promise<Authenticated> {
  const { store } = services;
  const local = username.length <= maxUsernameLength ? await findUserByName(store.db, username) : undefined;
  const directory = local?.source === "local" ? undefined : await directoryFor(store);
  if (!directory) {
    const user = await checkCredentials(store.db, username, password);
    if (!user || user.source !== "local") {
      log.warn({ user: clean(username), reason: user ? "not a local user" : "unknown user or wrong password" }, "login rejected");
      throw unauthorized("invalid_credentials");
    }
    return { user };
  }

  let result;
  try {
    result = await directory.login(username, password);
  } catch (error) {
    if (!(error instanceof DirectoryUnavailableError)) throw error;
    log.error({ user: clean(username), step: error.step, err: error }, "directory login failed: the directory is unreachable or failed");
    throw new AppError(503, "directory_unavailable", undefined, { cause: error });
  }
  if (!result.ok) {
    // NOTE: an unknown name skips the user bind, so its reply comes one round trip sooner than for a wrong password.
    log.warn({ user: clean(username), reason: result.reason, detail: result.detail }, "directory login rejected");
    throw unauthorized("invalid_credentials");
  }
  const user = await saveDirectoryUser(store, directory.parameters.kind, result.user);
  return { user, profile: result.user };
}

/**
 * Creates or refreshes the row of a directory user, keyed by the canonical login name from the
 * directory, so accounts and devices stay linked across logins.
 */
export async function saveDirectoryUser(store: Store, source: "ldap" | "ad", profile: DirectoryUser): Promise<UserRow> {
  return store.write(async (tx) => {
    const existing = await findUserByName(tx, profile.username);
    if (existing && existing.source !== source) {
      log.error({ user: profile.username, source: existing.source, dn: profile.dn }, "directory user collides with an existing user");
      throw conflict(
        "user_exists",
        `a ${existing.source} user named ${existing.username} already exists, so directory user ${profile.username} cannot log in; rename one of them`,
      );
    }
    if (existing) {
      if (existing.displayName === profile.displayName) return existing;
      const rows = await tx.update(users).set({ displayName: profile.displayName }).where(eq(users.id, existing.id)).returning();
      return rows[0]!;
    }
    const rows = await tx
      .insert(users)
      .values({ username: profile.username, passwordHash: null, source, role: "user", displayName: profile.displayName, createdAt: Date.now() })
      .returning();
    log.info({ user: profile.username, source, dn: profile.dn }, "created the row of a directory user");
    return rows[0]!;
  });
}
