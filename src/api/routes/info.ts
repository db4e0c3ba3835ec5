/** @module Status routes: `/api/info` for the setup wizard, and health probes. */
import { Hono } from "hono";
import { loadCa } from "../../authority/ca.ts";
import { readSetupStep } from "../../install/setup.ts";
import { version } from "../../version.ts";
import type { AppEnv, Services } from "../context.ts";

export function infoRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/api/info", async (c) => {
    const step = await readSetupStep(services.store.db);
    return c.json({ installed: step === "done", setupStep: step, version });
  });

  app.get("/livez", (c) => c.json({ status: "ok" }));

  const ready = async () => {
    const step = await readSetupStep(services.store.db);
    const ca = step === "done" ? Boolean(await loadCa(services.store.db)) : true;
    return { database: "ok", setup: step === "done" ? "complete" : "pending", ca: ca ? "ok" : "missing" };
  };
  for (const path of ["/readyz", "/healthz"]) {
    app.get(path, async (c) => {
      const checks = await ready().catch(() => ({ database: "failed" }));
      const healthy = Object.values(checks).every((value) => value !== "failed" && value !== "missing");
      return c.json({ status: healthy ? "ok" : "unavailable", checks }, healthy ? 200 : 503);
    });
  }
  return app;
}
