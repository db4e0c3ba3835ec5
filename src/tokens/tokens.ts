/**
 * @module Bearer tokens: HS256 JWTs signed with a random secret kept in the database.
 *
 * Scopes follow the Jami client's ranking DEVICE < USER < ADMIN; the client understands only
 * DEVICE and USER, so Jami-style logins never receive ADMIN.
 */
import { randomBytes } from "node:crypto";
import { sign, verify } from "hono/jwt";
import type { Store } from "../store/database.ts";
import { readSetting, writeSetting } from "../store/settings-repo.ts";

export type Scope = "DEVICE" | "USER" | "ADMIN";

const rank: Record<Scope, number> = { DEVICE: 1, USER: 2, ADMIN: 3 };

/** Lifetimes in seconds. Device tokens are short so a revocation reaches clients soon. */
export const tokenLifetimeSeconds: Record<Scope, number> = { DEVICE: 1800, USER: 1800, ADMIN: 1800 };

/** Claims of a verified token. */
export interface TokenClaims {
  sub: string;
  uid: number;
  scope: Scope;
  /** The device id (64 hex) for DEVICE tokens. */
  dev?: string;
  exp: number;
}

/** The `/api/login` reply. */
export interface TokenReply {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  scope: Scope;
}

const secretKey = "secret.token";

/** Loads the signing secret, creating it on first use. */
export async function loadTokenSecret(store: Store): Promise<string> {
  const existing = await readSetting<string>(store.db, secretKey);
  if (existing) return existing;
  const secret = randomBytes(32).toString("base64");
  await store.write((tx) => writeSetting(tx, secretKey, secret));
  return secret;
}

/** Issues a token for a user (and device) with the given scope. */
export async function issueToken(
  secret: string,
  claims: { sub: string; uid: number; scope: Scope; dev?: string },
): Promise<TokenReply> {
  const lifetime = tokenLifetimeSeconds[claims.scope];
  const now = Math.floor(Date.now() / 1000);
  const payload = { ...claims, iat: now, exp: now + lifetime, jti: randomBytes(12).toString("hex") };
  const token = await sign(payload, secret, "HS256");
  return { access_token: token, token_type: "Bearer", expires_in: lifetime, scope: claims.scope };
}

/** Verifies a token; returns undefined for a bad signature, an expired token or wrong claims. */
export async function verifyToken(secret: string, token: string): Promise<TokenClaims | undefined> {
  try {
    const payload = await verify(token, secret, "HS256");
    const scope = payload.scope as Scope;
    // hono/jwt checks exp only when present, so a token without one is refused here.
    if (typeof payload.exp !== "number" || typeof payload.sub !== "string" || typeof payload.uid !== "number") return undefined;
    if (!Object.hasOwn(rank, scope)) return undefined;
    return payload as unknown as TokenClaims;
  } catch {
    return undefined;
  }
}

/** Tells whether a token of scope `held` may call a route that needs `needed`. */
export function scopeAllows(held: Scope, needed: Scope): boolean {
  return rank[held] >= rank[needed];
}
