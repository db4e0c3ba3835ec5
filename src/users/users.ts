/** @module Local users: creation, lookup and password checks. */
import { eq, sql } from "drizzle-orm";
import { badRequest, conflict } from "../api/errors.ts";
import type { Database, Store, Transaction } from "../store/database.ts";
import { users, type UserRow } from "../store/schema.ts";
import { hashPassword, verifyPassword } from "./passwords.ts";

export const maxUsernameLength = 64;
export const maxPasswordLength = 1024;

/**
 * Checks a username: 1 to 64 characters, no control characters, and none of `:` (HTTP Basic
 * splits on the first colon), `/`, `\` or whitespace at either end.
 */
export function checkUsername(username: unknown): string {
  if (typeof username !== "string" || username.length === 0 || username.length > maxUsernameLength) {
    throw badRequest("invalid_username", `username must be 1 to ${maxUsernameLength} characters`);
  }
  if (/[\u0000-\u001f\u007f:/\\]/.test(username) || username.trim() !== username) {
    throw badRequest(
      "invalid_username",
      "username must not contain control characters, ':', '/', '\\' or surrounding spaces",
    );
  }
  // NFKC folds look-alike compatibility forms (fullwidth "ａlice") into the plain name, so the
  // uniqueness check catches them. Mixing scripts ("аlice" with a Cyrillic а) is rejected.
  const normalized = username.normalize("NFKC");
  if (confusableScripts.filter((script) => script.test(normalized)).length > 1) {
    throw badRequest("invalid_username", "username mixes Latin, Cyrillic or Greek letters, so it could imitate another name");
  }
  return normalized;
}

const confusableScripts = [/\p{Script=Latin}/u, /\p{Script=Cyrillic}/u, /\p{Script=Greek}/u];

/**
 * Minimum length of an administrator's password. Administrators hold the CA; users' passwords
 * usually come from a directory policy, and a local user's is the admin's choice.
 */
export const minAdminPasswordLength = 10;

/** Checks a new password: 1 to 1024 characters, and at least 10 for an administrator. */
export function checkPassword(password: unknown, role: "user" | "admin" = "user"): string {
  if (typeof password !== "string" || password.length === 0 || password.length > maxPasswordLength) {
    throw badRequest("invalid_request", `password must be 1 to ${maxPasswordLength} characters`, { field: "password" });
  }
  if (role === "admin" && password.length < minAdminPasswordLength) {
    throw badRequest("invalid_request", `an administrator's password must have at least ${minAdminPasswordLength} characters`, {
      field: "password",
    });
  }
  return password;
}

/** Finds a user by name, ignoring case. */
export async function findUserByName(db: Database | Transaction, username: string): Promise<UserRow | undefined> {
  const rows = await db
    .select()
    .from(users)
    .where(eq(sql`lower(${users.username})`, username.normalize("NFKC").toLowerCase()))
    .limit(1);
  return rows[0];
}

/** Creates a local user in one transaction; a name taken in any letter case is a 409. */
export async function createLocalUser(
  store: Store,
  input: { username: unknown; password: unknown; role?: "user" | "admin" },
  tx?: Transaction,
): Promise<UserRow> {
  const username = checkUsername(input.username);
  const passwordHash = await hashPassword(checkPassword(input.password, input.role ?? "user"));
  const insert = async (db: Transaction) => {
    const existing = await findUserByName(db, username);
    if (existing?.revokedAt) {
      // A new user under the name would get a new account id that peers could confuse with the old one.
      throw conflict("user_exists", `user ${existing.username} was revoked; the names of revoked users are not reused`);
    }
    if (existing) throw conflict("user_exists", `user ${username} already exists`);
    const rows = await db
      .insert(users)
      .values({ username, passwordHash, role: input.role ?? "user", createdAt: Date.now() })
      .returning();
    return rows[0]!;
  };
  return tx ? insert(tx) : store.write(insert);
}

/** Returns the user when the name and password match an enabled or disabled local user. */
export async function checkCredentials(
  db: Database,
  username: string,
  password: string,
): Promise<UserRow | undefined> {
  const user = username.length <= maxUsernameLength ? await findUserByName(db, username) : undefined;
  const valid = await verifyPassword(password.slice(0, maxPasswordLength), user?.passwordHash);
  return valid ? user : undefined;
}
