/**
 * @module The first-run setup wizard over HTTP, on JAMS's paths. `PUT /api/install/start`
 * returns an ADMIN token (30 minutes) that the other steps require. Once setup is complete,
 * every route here returns 404 with `{"installed": true}`.
 */
import { Hono } from "hono";
import { generateCa, importCa, type CaMaterial } from "../../authority/ca.ts";
import {
  createFirstAdmin,
  isInstalled,
  parseInstallSettings,
  readSetupStep,
  storeAuthType,
  storeCa,
  storeSettingsAndFinish,
} from "../../install/setup.ts";
import { readDirectorySettings, redactSettings } from "../../directory/settings.ts";
import type { CaSubject } from "../../pki/certificates.ts";
import { issueToken } from "../../tokens/tokens.ts";
import { authenticate } from "../../users/authenticate.ts";
import type { AppEnv, Services } from "../context.ts";
import { AppError, badRequest, conflict } from "../errors.ts";
import { readJsonObject } from "../json-body.ts";
import { requireScope } from "../middleware/auth.ts";

export function installRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { store } = services;

  app.use("/api/install/*", async (c, next) => {
    if (await isInstalled(store.db)) {
      throw new AppError(404, "already_installed", undefined, { details: { installed: true } });
    }
    await next();
  });

  app.put("/api/install/start", async (c) => {
    const body = await readJsonObject(c);
    const step = await readSetupStep(store.db);
    if (step !== "start") return c.json(await resumeSetup(services, body), 200);
    const admin = await store.write((tx) => createFirstAdmin(store, tx, body.username, body.password));
    return c.json(await issueToken(services.tokenSecret, { sub: admin.username, uid: admin.id, scope: "ADMIN" }));
  });

  app.use("/api/install/ca", requireScope(services, "ADMIN"));
  app.post("/api/install/ca", async (c) => {
    const material = await caFromRequest(await readJsonObject(c));
    await store.write((tx) => storeCa(tx, material));
    return c.json({ certificate: material.certificatePem, nextStep: "auth" });
  });

  app.use("/api/install/auth", requireScope(services, "ADMIN"));
  app.post("/api/install/auth", async (c) => {
    const body = await readJsonObject(c);
    const type = await store.write((tx) => storeAuthType(tx, body.type, body.settings));
    const directory = type === "LOCAL" ? undefined : await readDirectorySettings(store.db);
    return c.json({ type, nextStep: "settings", ...(directory ? { settings: redactSettings(directory) } : {}) });
  });

  app.use("/api/install/settings", requireScope(services, "ADMIN"));
  app.post("/api/install/settings", async (c) => {
    const settings = parseInstallSettings(await readJsonObject(c));
    await store.write((tx) => storeSettingsAndFinish(tx, settings));
    return c.json({ installed: true, settings });
  });

  return app;
}

/** Lets the administrator who started setup resume it (after a reload) with the same credentials. */
async function resumeSetup(services: Services, body: Record<string, unknown>) {
  const user =
    typeof body.username === "string" && typeof body.password === "string"
      ? await authenticate(services, body.username, body.password).catch((error: unknown) => {
          if (error instanceof AppError && error.status === 401) return undefined;
          throw error;
        })
      : undefined;
  if (!user || user.role !== "admin") {
    throw conflict("setup_in_progress", "setup was already started; sign in with the administrator created then");
  }
  return issueToken(services.tokenSecret, { sub: user.username, uid: user.id, scope: "ADMIN" });
}

/**
 * Reads the CA step body: `{"mode":"generate","fields":{...}}` creates a new CA, and
 * `{"certificate","privateKey"}` (optionally `"mode":"import"`, `"passphrase"`) imports one.
 */
async function caFromRequest(body: Record<string, unknown>): Promise<CaMaterial> {
  const mode = body.mode ?? "import";
  if (mode === "generate") return generateCa(caSubject(body.fields));
  if (mode !== "import") throw badRequest("invalid_ca", `mode must be "generate" or "import", not ${JSON.stringify(mode)}`);
  const passphrase = typeof body.passphrase === "string" ? body.passphrase : undefined;
  return importCa(body.certificate, body.privateKey, passphrase);
}

const subjectFields = ["commonName", "organization", "organizationalUnit", "locality", "state", "country"] as const;

function caSubject(fields: unknown): CaSubject {
  if (typeof fields !== "object" || fields === null) {
    throw badRequest("invalid_ca", "fields: required for mode generate, with at least commonName", { field: "fields" });
  }
  const input = fields as Record<string, unknown>;
  const subject: Record<string, string> = {};
  for (const name of subjectFields) {
    const value = input[name];
    if (value === undefined || value === "") continue;
    if (typeof value !== "string" || value.length > 64 || /[\u0000-\u001f\u007f]/.test(value)) {
      throw badRequest("invalid_ca", `fields.${name}: must be a string of at most 64 characters without control characters`, {
        field: `fields.${name}`,
      });
    }
    subject[name] = value;
  }
  if (!subject.commonName) throw badRequest("invalid_ca", "fields.commonName: required", { field: "fields.commonName" });
  if (subject.country && !/^[A-Z]{2}$/.test(subject.country)) {
    throw badRequest("invalid_ca", "fields.country: must be a two-letter ISO 3166 code such as FR", { field: "fields.country" });
  }
  return subject as unknown as CaSubject;
}
