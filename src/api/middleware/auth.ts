/**
 * @module Bearer-token authorization for routes, and the HTTP Basic parser used by Jami clients.
 */
import { and, eq, isNull } from "drizzle-orm";
import type { MiddlewareHandler } from "hono";
import { devices, users } from "../../store/schema.ts";
import { scopeAllows, verifyToken, type Scope } from "../../tokens/tokens.ts";
import type { AppEnv, Services } from "../context.ts";
import { badRequest, forbidden, unauthorized } from "../errors.ts";

/**
 * Requires a valid bearer token of at least `scope`. A missing, bad or expired token, a revoked
 * device or a disabled user is a 401, which makes a Jami client log in again.
 */
export function requireScope(services: Services, scope: Scope): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const claims = match ? await verifyToken(services.tokenSecret, match[1]!) : undefined;
    if (!claims) throw unauthorized("not_authenticated");
    const user = (await services.store.db.select().from(users).where(eq(users.id, claims.uid)).limit(1))[0];
    if (!user || user.disabled || user.revokedAt !== null) {
      throw unauthorized("not_authenticated", "the user of this token is unknown, disabled or revoked");
    }
    if (claims.dev && !(await isActiveDevice(services, claims.uid, claims.dev))) {
      throw unauthorized("device_revoked");
    }
    if (!scopeAllows(claims.scope, scope)) {
      throw forbidden("forbidden", `this route needs a token of scope ${scope}; this one has scope ${claims.scope}`);
    }
    c.set("claims", claims);
    c.set("user", user);
    c.get("logFields").user = user.username;
    await next();
  };
}

async function isActiveDevice(services: Services, userId: number, deviceId: string): Promise<boolean> {
  const rows = await services.store.db
    .select({ id: devices.id })
    .from(devices)
    .where(and(eq(devices.deviceId, deviceId), eq(devices.userId, userId), isNull(devices.revokedAt)))
    .limit(1);
  return rows.length > 0;
}

/** Credentials from an `Authorization: Basic` header. */
export interface BasicCredentials {
  username: string;
  password: string;
}

/**
 * Parses HTTP Basic credentials: base64 of UTF-8 `username:password`, split on the first colon.
 * Returns undefined when there is no Basic header; throws 400 when it is malformed.
 */
export function readBasicCredentials(header: string | undefined): BasicCredentials | undefined {
  const match = /^Basic\s+(\S*)\s*$/i.exec(header ?? "");
  if (!match) return undefined;
  const encoded = match[1]!;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded)) throw badRequest("invalid_request", "the Basic credentials are not base64");
  let decoded: string;
  try {
    decoded = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(encoded, "base64"));
  } catch {
    throw badRequest("invalid_request", "the Basic credentials are not UTF-8");
  }
  const colon = decoded.indexOf(":");
  if (colon < 0) throw badRequest("invalid_request", "the Basic credentials lack a ':' between username and password");
  return { username: decoded.slice(0, colon).normalize("NFC"), password: decoded.slice(colon + 1) };
}
