/** @module Password reset of a local user by an administrator. */
import { eq } from "drizzle-orm";
import { badRequest, conflict } from "../api/errors.ts";
import type { Store } from "../store/database.ts";
import { users, type UserRow } from "../store/schema.ts";
import { hashPassword } from "./passwords.ts";
import { checkPassword } from "./users.ts";

/**
 * Replaces a local user's password. Directory users are rejected with 400, because their
 * password lives in LDAP or Active Directory, and revoked users with 409.
 */
export async function resetLocalPassword(store: Store, user: UserRow, password: unknown): Promise<void> {
  if (user.source !== "local") {
    const directory = user.source === "ad" ? "Active Directory" : "the LDAP directory";
    throw badRequest(
      "password_in_directory",
      `user ${user.username} signs in with a password kept in ${directory}; change it there`,
      { field: "password" },
    );
  }
  if (user.revokedAt !== null) throw conflict("user_revoked", `user ${user.username} was revoked; a new password would not let them sign in`);
  const passwordHash = await hashPassword(checkPassword(password, user.role));
  await store.write((tx) => tx.update(users).set({ passwordHash }).where(eq(users.id, user.id)));
}
