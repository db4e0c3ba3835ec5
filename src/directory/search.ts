/**
 * @module Directory search for Jami clients and the user listing for administrators. Both read
 * the configured directory with paged LDAP searches, or the users table for the LOCAL source,
 * and cut the result into API pages independently of the LDAP paging.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import { AppError, badRequest, conflict } from "../api/errors.ts";
import { logger } from "../log/logger.ts";
import type { Store } from "../store/database.ts";
import { accounts, users } from "../store/schema.ts";
import { DirectoryUnavailableError } from "./connection.ts";
import type { Directory, Listing } from "./directory.ts";
import type { DirectoryUser } from "./profile.ts";
import { directoryFor } from "./registry.ts";

const log = logger("directory");

/** The maximum length of a search query, in characters. */
export const maxQueryLength = 64;
/** Profiles per page of the clients' directory search. */
export const searchPageSize = 20;

/** A profile as the Jami client reads it: string members only. */
export type ClientProfile = Record<string, string>;

/** Reads and checks the query: `*` alone lists everyone, any other `*` is a literal star. */
export function readQuery(raw: string | undefined, name: string): string {
  if (raw === undefined) throw badRequest("invalid_request", `the ${name} parameter is missing; send * to list everyone`);
  const query = raw.normalize("NFC").trim();
  if (query.length > maxQueryLength) throw badRequest("invalid_request", `${name} must be at most ${maxQueryLength} characters`);
  if (/[\u0000-\u001f\u007f]/.test(query)) throw badRequest("invalid_request", `${name} must not contain control characters`);
  return query === "*" ? "" : query;
}

/** Reads a positive integer query parameter, with a default and a maximum. */
export function readPositiveInteger(raw: string | undefined, name: string, fallback: number, max: number): number {
  if (raw === undefined || raw === "") return fallback;
  if (!/^[0-9]{1,9}$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    throw badRequest("invalid_request", `${name} must be an integer from 1 to ${max}`);
  }
  return Number(raw);
}

/**
 * Searches users for a Jami client. Only users who enrolled are returned, because the client
 * uses `id` (the 40-hex account id) as the contact's address and cannot call a user without one.
 */
export async function searchProfiles(store: Store, query: string, page: number): Promise<{ profiles: ClientProfile[]; numPages: number }> {
  const directory = await directoryFor(store);
  const found = new Map<string, ClientProfile>();
  if (directory) {
    const listing = await listOrUnavailable(directory, query);
    const enrolled = await enrolledAccounts(store, listing.users.map((user) => user.username));
    for (const user of listing.users) {
      const accountId = enrolled.get(user.username.toLowerCase());
      if (accountId) found.set(user.username.toLowerCase(), clientProfile(user, accountId));
    }
  }
  for (const row of await searchLocalUsers(store, query)) {
    if (found.has(row.username.toLowerCase())) continue;
    found.set(row.username.toLowerCase(), {
      id: row.accountId,
      username: row.username,
      firstName: row.displayName,
      lastName: "",
      profilePicture: "",
    });
  }
  const profiles = [...found.values()].sort((a, b) => a.username!.localeCompare(b.username!));
  const numPages = Math.ceil(profiles.length / searchPageSize);
  return { profiles: profiles.slice((page - 1) * searchPageSize, page * searchPageSize), numPages };
}

function clientProfile(user: DirectoryUser, accountId: string): ClientProfile {
  return {
    id: accountId,
    username: user.username,
    firstName: user.firstName || user.displayName,
    lastName: user.lastName,
    displayName: user.displayName,
    email: user.email,
    phoneNumber: user.phoneNumber,
    profilePicture: user.photo,
  };
}

/** Lists the directory's users for an administrator, one API page at a time. */
export async function listDirectoryUsers(store: Store, query: string, page: number, pageSize: number) {
  const directory = await directoryFor(store);
  if (!directory) throw conflict("directory_not_configured");
  const listing = await listOrUnavailable(directory, query);
  const sorted = [...listing.users].sort((a, b) => a.username.localeCompare(b.username));
  const slice = sorted.slice((page - 1) * pageSize, page * pageSize);
  const enrolled = await enrolledAccounts(store, slice.map((user) => user.username));
  return {
    users: slice.map((user) => ({
      username: user.username,
      dn: user.dn,
      displayName: user.displayName,
      firstName: user.firstName,
      lastName: user.lastName,
      email: user.email,
      phoneNumber: user.phoneNumber,
      groups: user.groups,
      hasPhoto: user.photo !== "",
      disabled: user.disabled,
      accountId: enrolled.get(user.username.toLowerCase()) ?? null,
    })),
    total: sorted.length,
    page,
    pageSize,
    numPages: Math.ceil(sorted.length / pageSize),
    skipped: listing.skipped,
    partial: listing.partial,
    ...(listing.warning ? { warning: listing.warning } : {}),
    referrals: listing.referrals,
  };
}

async function listOrUnavailable(directory: Directory, query: string): Promise<Listing> {
  try {
    return await directory.list(query);
  } catch (error) {
    if (!(error instanceof DirectoryUnavailableError)) throw error;
    log.error({ step: error.step, err: error }, "directory search failed");
    throw new AppError(503, "directory_unavailable", undefined, { cause: error });
  }
}

/** Maps lower-case usernames to account ids, for the users among `usernames` who enrolled. */
async function enrolledAccounts(store: Store, usernames: string[]): Promise<Map<string, string>> {
  const wanted = new Set(usernames.map((name) => name.toLowerCase()));
  const map = new Map<string, string>();
  if (wanted.size === 0) return map;
  // One query for all enrolled users is cheaper than one per name; enrolled users are far fewer than entries.
  const rows = await store.db
    .select({ username: users.username, accountId: accounts.accountId })
    .from(users)
    .innerJoin(accounts, eq(accounts.userId, users.id))
    .where(and(eq(users.disabled, false), isNull(users.revokedAt)));
  for (const row of rows) if (wanted.has(row.username.toLowerCase())) map.set(row.username.toLowerCase(), row.accountId);
  return map;
}

/** Enrolled local users whose name contains `query`, with SQL LIKE wildcards escaped. */
async function searchLocalUsers(store: Store, query: string) {
  const pattern = `%${query.toLowerCase().replace(/[\\%_]/g, (character) => `\\${character}`)}%`;
  return store.db
    .select({ username: users.username, displayName: users.displayName, accountId: accounts.accountId })
    .from(users)
    .innerJoin(accounts, eq(accounts.userId, users.id))
    .where(
      and(
        eq(users.source, "local"),
        eq(users.disabled, false),
        isNull(users.revokedAt),
        sql`lower(${users.username}) like ${pattern} escape '\\'`,
      ),
    )
    .limit(1000);
}
