/** @module Query parameters shared by the admin list and revocation routes. */
import { revocationReasons, type RevocationReason } from "../../authority/revocation.ts";
import { badRequest } from "../errors.ts";

/** The largest page a list route returns. */
export const maxPageSize = 500;

/** The largest offset accepted; SQLite takes 64-bit integers, and no list is this long. */
const maxOffset = 1_000_000_000;

/** Reads `limit` (default 100, at most 500) and `offset` (default 0). */
export function readPage(query: Record<string, string>): { limit: number; offset: number } {
  const limit = query.limit === undefined ? 100 : Number(query.limit);
  const offset = query.offset === undefined ? 0 : Number(query.offset);
  if (!Number.isInteger(limit) || limit < 1 || limit > maxPageSize) {
    throw badRequest("invalid_request", `limit must be an integer from 1 to ${maxPageSize}`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset > maxOffset) {
    throw badRequest("invalid_request", `offset must be an integer from 0 to ${maxOffset}`);
  }
  return { limit, offset };
}

/** Reads a revocation reason, one of the RFC 5280 names this server uses. */
export function readReason(value: string | undefined, fallback: RevocationReason): RevocationReason {
  if (value === undefined) return fallback;
  if (!(revocationReasons as string[]).includes(value)) {
    throw badRequest("invalid_request", `reason must be one of ${revocationReasons.join(", ")}`);
  }
  return value as RevocationReason;
}
