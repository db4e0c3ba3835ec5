/** @module Query parameters shared by the admin list and revocation routes. */
import { revocationReasons, type RevocationReason } from "../../authority/revocation.ts";
import { badRequest } from "../errors.ts";

/** The largest page a list route returns. */
export const maxPageSize = 500;

/** Reads `limit` (default 100, at most 500) and `offset` (default 0). */
export function readPage(query: Record<string, string>): { limit: number; offset: number } {
  const limit = query.limit === undefined ? 100 : Number(query.limit);
  const offset = query.offset === undefined ? 0 : Number(query.offset);
  if (!Number.isInteger(limit) || limit < 1 || limit > maxPageSize) {
    throw badRequest("invalid_request", `limit must be an integer from 1 to ${maxPageSize}`);
  }
  if (!Number.isInteger(offset) || offset < 0) throw badRequest("invalid_request", "offset must be a non-negative integer");
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
