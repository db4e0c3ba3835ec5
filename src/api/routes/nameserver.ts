/**
 * @module The name server Jami clients use for lookups: `GET /api/nameserver/name/{name}` and
 * `/api/nameserver/addr/{address}`. Names are usernames that have an enrolled identity, so
 * both lookups agree with what devices announce. The paths are lowercase because the client
 * lower-cases the whole name server URL.
 */
import { eq, sql } from "drizzle-orm";
import { Hono } from "hono";
import { accounts, users } from "../../store/schema.ts";
import { maxUsernameLength } from "../../users/users.ts";
import type { AppEnv, Services } from "../context.ts";
import { badRequest, notFound } from "../errors.ts";

export function nameServerRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { db } = services.store;

  app.get("/api/nameserver/name/:name", async (c) => {
    const name = c.req.param("name").normalize("NFC");
    if (name.length === 0 || name.length > maxUsernameLength || /[\u0000-\u001f\u007f]/.test(name)) {
      throw badRequest("invalid_name");
    }
    const rows = await db
      .select({ name: users.username, addr: accounts.accountId })
      .from(users)
      .innerJoin(accounts, eq(accounts.userId, users.id))
      .where(eq(sql`lower(${users.username})`, name.toLowerCase()))
      .limit(1);
    if (!rows[0]) throw notFound("name_not_found");
    return c.json({ name: rows[0].name, addr: rows[0].addr });
  });

  app.get("/api/nameserver/addr/:address", async (c) => {
    const address = c.req.param("address").replace(/^0x/i, "").toLowerCase();
    if (!/^[0-9a-f]{40}$/.test(address)) throw badRequest("invalid_address");
    const rows = await db
      .select({ name: users.username })
      .from(accounts)
      .innerJoin(users, eq(accounts.userId, users.id))
      .where(eq(accounts.accountId, address))
      .limit(1);
    if (!rows[0]) throw notFound("address_not_found");
    return c.json({ name: rows[0].name });
  });

  return app;
}
