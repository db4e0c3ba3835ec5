/**
 * @module One configured directory (OpenLDAP-style LDAP or Active Directory): user lookup,
 * password checks by binding as the user, paged listing and search, and the connection test.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { Client, Entry } from "ldapts";
import { logger } from "../log/logger.ts";
import { maxPasswordLength } from "../users/users.ts";
import {
  bindAs,
  closeQuietly,
  describeFailure,
  DirectoryUnavailableError,
  LookupPool,
  openConnection,
  type DirectoryStep,
} from "./connection.ts";
import { andFilter, equalityFilter, substringFilter } from "./filter.ts";
import { binaryAttributes, readUser, userAttributes, UnusableEntryError, type DirectoryUser } from "./profile.ts";
import type { ConnectionParameters } from "./settings.ts";

const log = logger("directory");

/** Entries requested per LDAP page: below the common server caps (AD 1000, OpenLDAP 500). */
const ldapPageSize = 200;
/**
 * The maximum number of entries one listing or search reads; past it the result is marked partial.
 * NOTE: an estimate to bound memory per request, not measured; no test reaches it.
 */
export const maxListedEntries = 20_000;
/** The maximum length of a login name sent to the directory; longer names fail like an unknown user. */
const maxLoginNameLength = 256;

/** The reason a directory login failed. The caller reports all of them the same way. */
export type LoginFailure = "unknown_user" | "ambiguous_user" | "wrong_password" | "disabled" | "empty_password" | "unusable_entry";

export type LoginResult = { ok: true; user: DirectoryUser } | { ok: false; reason: LoginFailure; detail?: string };

/** The users a listing or search found, and what it could not read. */
export interface Listing {
  users: DirectoryUser[];
  /** Entries that matched but could not be read (missing or invalid login name). */
  skipped: number;
  /** Continuation references the directory returned; they are reported, not followed. */
  referrals: string[];
  /** True when the directory stopped the search early or the entry cap was reached. */
  partial: boolean;
  /** The reason the listing is partial, in plain words. */
  warning?: string;
}

/** One step of the connection test. */
export interface TestStep {
  step: DirectoryStep;
  ok: boolean;
  message: string;
}

/** A directory with its pool of lookup connections. */
export class Directory {
  private readonly pool: LookupPool;

  constructor(readonly parameters: ConnectionParameters) {
    this.pool = new LookupPool(parameters);
    if (parameters.unsafeSkipCertificateCheck) {
      log.warn({ url: parameters.url }, "UNSAFE: the directory's TLS certificate is not checked, so anyone on the path can read passwords");
    }
    if (parameters.transport === "none") {
      log.warn({ url: parameters.url }, "the directory connection is not encrypted: passwords cross the network in clear text");
    }
  }

  /** Closes pooled connections. */
  close(): Promise<void> {
    return this.pool.close();
  }

  /**
   * Checks a login: finds exactly one entry for the login name with the lookup account, then
   * binds as that entry's DN with the password. Returns a failure reason for a wrong name or
   * password, and throws DirectoryUnavailableError when the directory is unreachable or fails.
   */
  async login(loginName: string, password: string): Promise<LoginResult> {
    // An empty password makes a simple bind unauthenticated, which many servers accept (RFC 4513 5.1.2).
    if (password === "") return { ok: false, reason: "empty_password" };
    const found = await this.findUser(loginName);
    if (!found.ok) return found;
    if (found.user.disabled) return { ok: false, reason: "disabled" };

    const client = await openConnection(this.parameters);
    try {
      const bound = await bindAs(client, found.user.dn, password.slice(0, maxPasswordLength), this.parameters);
      return bound ? found : { ok: false, reason: "wrong_password" };
    } finally {
      await closeQuietly(client);
    }
  }

  /** Finds the one user with this login name, or a failure reason. */
  async findUser(loginName: string): Promise<LoginResult> {
    const filter = this.loginFilter(loginName);
    if (!filter) return { ok: false, reason: "unknown_user" };
    const entries = await this.pool.use((client) => this.searchEntries(client, filter, 2));
    if (entries.length === 0) return { ok: false, reason: "unknown_user" };
    if (entries.length > 1) return { ok: false, reason: "ambiguous_user", detail: entries.map((entry) => entry.dn).join("; ") };
    try {
      const user = readUser(entries[0]!, this.parameters);
      if (this.parameters.groupBaseDn) user.groups = await this.groupsOf(user.dn);
      return { ok: true, user };
    } catch (error) {
      if (error instanceof UnusableEntryError) return { ok: false, reason: "unusable_entry", detail: error.message };
      throw error;
    }
  }

  /**
   * Lists users whose login name or name attributes contain `query` ("" lists everyone), with
   * LDAP paged results so directories past the server's size limit are read whole. An entry
   * that cannot be read is skipped and counted; referrals are collected, not followed.
   */
  async list(query: string): Promise<Listing> {
    const map = this.parameters.attributes;
    const attributes = [this.parameters.loginAttribute, map.displayName, map.firstName, map.lastName, map.email, "cn"];
    const filter = andFilter(this.parameters.userFilter, substringFilter([...new Set(attributes)], query));
    return this.pool.use(async (client) => {
      const listing: Listing = { users: [], skipped: 0, referrals: [], partial: false };
      try {
        for await (const page of client.searchPaginated(this.parameters.baseDn, {
          scope: "sub",
          filter,
          attributes: this.requestedAttributes(),
          explicitBufferAttributes: binaryAttributes(this.parameters),
          paged: { pageSize: ldapPageSize },
        })) {
          listing.referrals.push(...page.searchReferences);
          for (const entry of page.searchEntries) this.addEntry(listing, entry);
          if (listing.users.length >= maxListedEntries) {
            listing.partial = true;
            listing.warning = `the listing stopped at ${maxListedEntries} users; narrow the search`;
            break;
          }
        }
      } catch (error) {
        const failure = describeFailure(error, "search", this.parameters);
        // Entries already read are kept: one failing page must not empty the whole list.
        if (listing.users.length === 0 && listing.skipped === 0) throw failure;
        listing.partial = true;
        listing.warning = `the directory stopped the search after ${listing.users.length} users: ${failure.message}`;
        log.warn({ err: error, read: listing.users.length }, "directory search stopped early");
        // The connection may be mid-search, so it is not reused.
        throw new PartialListing(listing, failure);
      }
      if (listing.referrals.length > 0) log.debug({ referrals: listing.referrals }, "ignored directory referrals");
      // A search stopped at the cap still has pages pending on its connection, so that connection is closed.
      if (listing.partial) throw new PartialListing(listing);
      return listing;
    }).catch((error: unknown) => {
      if (error instanceof PartialListing) return error.listing;
      throw error;
    });
  }

  /**
   * Runs the connection test step by step: name resolution, TCP or TLS connection, bind as the
   * lookup account, then a sample user search. Stops at the first failure.
   */
  async test(): Promise<{ ok: boolean; steps: TestStep[] }> {
    const steps: TestStep[] = [];
    const parameters = this.parameters;
    const record = (step: DirectoryStep, ok: boolean, message: string) => steps.push({ step, ok, message });
    const fail = (error: unknown, step: DirectoryStep) => {
      const failure = describeFailure(error, step, parameters);
      record(failure.step, false, failure.message);
      return { ok: false, steps };
    };

    if (!isIP(parameters.host)) {
      try {
        const address = await lookup(parameters.host);
        record("dns", true, `${parameters.host} resolves to ${address.address}`);
      } catch (error) {
        return fail(error, "dns");
      }
    }
    let client: Client;
    try {
      client = await openConnection(parameters);
    } catch (error) {
      return fail(error, "tls");
    }
    try {
      if (!(await bindAs(client, parameters.bindDn, parameters.bindPassword, parameters))) {
        record("tcp", true, `connected to ${parameters.host}:${parameters.port}`);
        if (parameters.transport !== "none") record("tls", true, `TLS (${parameters.transport}) is established and the certificate is trusted`);
        record("bind", false, "the lookup account's bind DN or password is wrong");
        return { ok: false, steps };
      }
      record("tcp", true, `connected to ${parameters.host}:${parameters.port}`);
      if (parameters.transport !== "none") {
        record("tls", true, `TLS (${parameters.transport}) is established and the certificate is trusted`);
      }
      record("bind", true, `bound as ${parameters.bindDn}`);
    } catch (error) {
      const failure = describeFailure(error, "bind", parameters);
      if (failure.step === "bind") {
        record("tcp", true, `connected to ${parameters.host}:${parameters.port}`);
        if (parameters.transport !== "none") record("tls", true, `TLS (${parameters.transport}) is established`);
      }
      record(failure.step, false, failure.message);
      await closeQuietly(client);
      return { ok: false, steps };
    }
    try {
      const entries = await this.searchEntries(client, this.parameters.userFilter, 5);
      const valid = entries.filter((entry) => {
        try {
          readUser(entry, parameters);
          return true;
        } catch {
          return false;
        }
      });
      const sample = `found ${entries.length === 5 ? "at least 5" : entries.length} user entries under ${parameters.baseDn}`;
      if (entries.length > 0 && valid.length === 0) {
        record("search", false, `${sample}, but none has a usable ${parameters.loginAttribute} value; check loginAttribute`);
        return { ok: false, steps };
      }
      record("search", true, entries.length === 0 ? `the search works but found no user entry under ${parameters.baseDn} matching ${parameters.userFilter}` : sample);
      return { ok: true, steps };
    } catch (error) {
      return fail(error, "search");
    } finally {
      await closeQuietly(client);
    }
  }

  /** Builds the filter for one login name, or returns undefined for a name that cannot exist. */
  private loginFilter(loginName: string): string | undefined {
    const name = loginName.normalize("NFC");
    if (name.length === 0 || name.length > maxLoginNameLength || /[\u0000-\u001f\u007f]/.test(name)) return undefined;
    if (this.parameters.kind === "ldap") {
      return andFilter(this.parameters.userFilter, equalityFilter(this.parameters.loginAttribute, name));
    }
    // Active Directory: `CORP\user`, `user@corp.example.org` (the userPrincipalName) or `user`.
    const backslash = name.indexOf("\\");
    if (backslash >= 0) {
      const domain = name.slice(0, backslash);
      const user = name.slice(backslash + 1);
      if (domain.toUpperCase() !== this.parameters.domain || user === "" || user.includes("\\")) return undefined;
      return andFilter(this.parameters.userFilter, equalityFilter("sAMAccountName", user));
    }
    if (name.includes("@")) return andFilter(this.parameters.userFilter, equalityFilter("userPrincipalName", name));
    return andFilter(this.parameters.userFilter, equalityFilter("sAMAccountName", name));
  }

  private requestedAttributes(): string[] {
    return userAttributes(this.parameters);
  }

  private async searchEntries(client: Client, filter: string, sizeLimit: number): Promise<Entry[]> {
    try {
      const result = await client.search(this.parameters.baseDn, {
        scope: "sub",
        filter,
        sizeLimit,
        attributes: this.requestedAttributes(),
        explicitBufferAttributes: binaryAttributes(this.parameters),
      });
      if (result.searchReferences.length > 0) log.debug({ referrals: result.searchReferences }, "ignored directory referrals");
      return result.searchEntries;
    } catch (error) {
      throw describeFailure(error, "search", this.parameters);
    }
  }

  private async groupsOf(dn: string): Promise<string[]> {
    const filter = `(|${equalityFilter("member", dn)}${equalityFilter("uniqueMember", dn)})`;
    const result = await this.pool.use((client) =>
      client.search(this.parameters.groupBaseDn!, { scope: "sub", filter, attributes: ["cn"], sizeLimit: 1000 }),
    );
    return result.searchEntries.map((entry) => String(Array.isArray(entry.cn) ? entry.cn[0] : entry.cn)).filter(Boolean);
  }

  private addEntry(listing: Listing, entry: Entry): void {
    try {
      listing.users.push(readUser(entry, this.parameters));
    } catch (error) {
      listing.skipped += 1;
      log.warn({ dn: entry.dn, err: error }, "skipped a directory entry");
    }
  }
}

/** Carries a partial listing out of the pool so that the failed connection is closed. */
class PartialListing extends Error {
  constructor(
    readonly listing: Listing,
    cause?: DirectoryUnavailableError,
  ) {
    super(listing.warning ?? "partial listing", { cause });
  }
}
