/**
 * @module Contact and conversation sync between a user's devices: `POST /api/auth/contacts`,
 * `/api/auth/conversations` and `/api/auth/conversationRequests`. Each takes the device's list
 * and returns the merged list; both are always JSON arrays.
 */
import { Hono } from "hono";
import { findAccount } from "../../authority/accounts.ts";
import { readReport, type SyncKind } from "../../sync/merge.ts";
import { applyReport } from "../../sync/sync-store.ts";
import type { AppEnv, Services } from "../context.ts";
import { readJson } from "../json-body.ts";
import { requireScope } from "../middleware/auth.ts";

/** Sync bodies may hold thousands of contacts, so these routes accept up to 4 MiB. */
export const maxSyncBodyBytes = 4 * 1024 * 1024;

export const syncPaths: Record<string, SyncKind> = {
  "/api/auth/contacts": "contact",
  "/api/auth/conversations": "conversation",
  "/api/auth/conversationRequests": "conversationRequest",
};

export function syncRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  for (const [path, kind] of Object.entries(syncPaths)) {
    app.post(path, requireScope(services, "DEVICE"), async (c) => {
      const body = await readJson(c);
      const reported = readReport(kind, body);
      const user = c.get("user");
      const ownUri = kind === "contact" ? (await findAccount(services.store.db, user.id))?.accountId : undefined;
      const merged = await applyReport(services.store, user.id, kind, reported, ownUri);
      c.get("logFields").items = reported.length;
      return c.json(merged);
    });
  }

  return app;
}
