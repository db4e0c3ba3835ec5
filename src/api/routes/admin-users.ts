/** @module Administration of users: `POST /api/admin/user` creates a local user. */
import { Hono } from "hono";
import { createLocalUser } from "../../users/users.ts";
import type { AppEnv, Services } from "../context.ts";
import { readJsonObject } from "../json-body.ts";
import { requireScope } from "../middleware/auth.ts";

export function adminUserRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use("/api/admin/*", requireScope(services, "ADMIN"));

  app.post("/api/admin/user", async (c) => {
    const body = await readJsonObject(c);
    const user = await createLocalUser(services.store, { username: body.username, password: body.password });
    return c.json({ username: user.username, role: user.role, createdAt: user.createdAt }, 201);
  });

  return app;
}
