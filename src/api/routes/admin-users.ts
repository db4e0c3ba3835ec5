/**
 * @module Administration of users: create a local user (`POST /api/admin/user`), list users
 * with their status (`GET /api/admin/users`), and revoke one (`DELETE /api/admin/user/{name}`).
 */
import { and, count, eq, isNotNull, isNull, sql, type SQL } from "drizzle-orm";
import { Hono } from "hono";
import { revokeUser } from "../../authority/revocation.ts";
import { accounts, devices, users, type UserRow } from "../../store/schema.ts";
import { createLocalUser, findUserByName } from "../../users/users.ts";
import type { AppEnv, Services } from "../context.ts";
import { badRequest, conflict, notFound } from "../errors.ts";
import { readJsonObject } from "../json-body.ts";
import { requireScope } from "../middleware/auth.ts";
import { readPage, readReason } from "./admin-query.ts";

export type UserStatus = "active" | "disabled" | "revoked";

export function adminUserRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { db } = services.store;

  app.use("/api/admin/user", requireScope(services, "ADMIN"));
  app.use("/api/admin/user/*", requireScope(services, "ADMIN"));
  app.use("/api/admin/users", requireScope(services, "ADMIN"));

  app.post("/api/admin/user", async (c) => {
    const body = await readJsonObject(c);
    const user = await createLocalUser(services.store, { username: body.username, password: body.password });
    return c.json({ username: user.username, role: user.role, createdAt: user.createdAt }, 201);
  });

  app.get("/api/admin/users", async (c) => {
    const { limit, offset } = readPage(c.req.query());
    const status = c.req.query("status");
    const conditions: SQL[] = [];
    if (status === "revoked") conditions.push(isNotNull(users.revokedAt));
    else if (status === "disabled") conditions.push(isNull(users.revokedAt), eq(users.disabled, true));
    else if (status === "active") conditions.push(isNull(users.revokedAt), eq(users.disabled, false));
    else if (status !== undefined) throw badRequest("invalid_request", "status must be active, disabled or revoked");
    const search = c.req.query("search");
    if (search) conditions.push(sql`instr(lower(${users.username}), ${search.toLowerCase()}) > 0`);
    const where = conditions.length > 0 ? and(...conditions) : undefined;

    const total = (await db.select({ value: count() }).from(users).where(where))[0]!.value;
    const rows = await db
      .select({ user: users, account: accounts, devices: sql<number>`(select count(*) from devices where devices.user_id = ${users.id})` })
      .from(users)
      .leftJoin(accounts, eq(accounts.userId, users.id))
      .where(where)
      .orderBy(users.username)
      .limit(limit)
      .offset(offset);
    const list = rows.map((row) => ({
      ...describeUser(row.user),
      accountId: row.account?.accountId ?? null,
      accountNotAfter: row.account ? new Date(row.account.notAfter).toISOString() : null,
      devices: Number(row.devices),
    }));
    return c.json({ total, limit, offset, users: list });
  });

  app.delete("/api/admin/user/:username", async (c) => {
    const user = await findUserByName(db, c.req.param("username"));
    if (!user) throw notFound("not_found", "no user with this name");
    if (user.id === c.get("user").id) throw conflict("cannot_revoke_self", "administrators cannot revoke themselves");
    const reason = readReason(c.req.query("reason"), "privilegeWithdrawn");
    await revokeUser(services.store, user, reason, c.get("user").username);
    const revoked = (await db.select({ value: count() }).from(devices).where(and(eq(devices.userId, user.id), isNotNull(devices.revokedAt))))[0]!.value;
    return c.json({ success: true, username: user.username, reason, revokedDevices: revoked });
  });

  return app;
}

/** Returns a user as the admin API shows it, without the password hash. */
export function describeUser(user: UserRow) {
  let status: UserStatus = "active";
  if (user.revokedAt !== null) status = "revoked";
  else if (user.disabled) status = "disabled";
  return {
    username: user.username,
    role: user.role,
    source: user.source,
    status,
    createdAt: new Date(user.createdAt).toISOString(),
    revokedAt: user.revokedAt === null ? null : new Date(user.revokedAt).toISOString(),
  };
}
