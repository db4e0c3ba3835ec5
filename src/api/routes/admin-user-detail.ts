/**
 * @module One user for administrators: `GET /api/admin/user/{username}` returns the profile and
 * account, `PUT /api/admin/user/{username}` with `{"password"}` resets a local user's password.
 */
import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { accounts } from "../../store/schema.ts";
import { resetLocalPassword } from "../../users/reset-password.ts";
import { findUserByName } from "../../users/users.ts";
import type { AppEnv, Services } from "../context.ts";
import { notFound } from "../errors.ts";
import { readJsonObject } from "../json-body.ts";
import { requireScope } from "../middleware/auth.ts";
import { describeUser } from "./admin-users.ts";

export function adminUserDetailRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { store } = services;
  const admin = requireScope(services, "ADMIN");

  app.get("/api/admin/user/:username", admin, async (c) => {
    const user = await findUserByName(store.db, c.req.param("username"));
    if (!user) throw notFound("not_found", `no user named ${c.req.param("username")}`);

    const account = (await store.db.select().from(accounts).where(eq(accounts.userId, user.id)).limit(1))[0];
    return c.json({
      ...describeUser(user),
      displayName: user.displayName,
      disabled: user.disabled,
      accountId: account?.accountId ?? null,
      accountNotAfter: account ? new Date(account.notAfter).toISOString() : null,
    });
  });

  app.put("/api/admin/user/:username", admin, async (c) => {
    const body = await readJsonObject(c);
    const user = await findUserByName(store.db, c.req.param("username"));
    if (!user) throw notFound("not_found", `no user named ${c.req.param("username")}`);

    await resetLocalPassword(store, user, body.password);
    c.get("logFields").target = user.username;
    return c.json({ success: true, username: user.username });
  });

  return app;
}
