/**
 * @module Public revocation services: CRLs (DER and PEM) and the OCSP responder (GET and POST),
 * plus the organisation CA certificate. These URLs are the ones issued certificates carry.
 */
import { eq } from "drizzle-orm";
import { Hono, type Context } from "hono";
import { accountFromRow } from "../../authority/accounts.ts";
import { loadCa } from "../../authority/ca.ts";
import { currentCrl, type StoredCrl } from "../../authority/crl.ts";
import { answerOcspRequest } from "../../authority/ocsp.ts";
import { caIssuerId } from "../../authority/revocation-urls.ts";
import { readInstallSettings } from "../../install/setup.ts";
import { toPem } from "../../pki/pem.ts";
import { accounts } from "../../store/schema.ts";
import type { AppEnv, Services } from "../context.ts";
import { AppError, badRequest, notFound } from "../errors.ts";

/** OCSP requests are small; one asking about 16 certificates is under 2 KiB. */
const maxOcspRequestBytes = 8 * 1024;

export function revocationServiceRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { store } = services;

  const installed = async () => {
    const settings = await readInstallSettings(store.db);
    const ca = settings ? await loadCa(store.db) : undefined;
    if (!settings || !ca) throw new AppError(503, "not_installed");
    return { settings, ca };
  };

  app.get("/api/ca.pem", async (c) => {
    const { ca } = await installed();
    return c.body(ca.certificate.toString("pem") + "\n", 200, { "Content-Type": "application/x-pem-file" });
  });

  app.get("/api/crl/:file{ca\\.(?:crl|pem)}", async (c) => {
    const { settings, ca } = await installed();
    return sendCrl(c, await currentCrl(store, ca, caIssuerId, settings), c.req.param("file"));
  });

  app.get("/api/crl/account/:file{[0-9a-f]{40}\\.(?:crl|pem)}", async (c) => {
    const { settings } = await installed();
    const file = c.req.param("file");
    const row = (await store.db.select().from(accounts).where(eq(accounts.accountId, file.slice(0, 40))).limit(1))[0];
    if (!row) throw notFound("not_found", "no account with this id");
    return sendCrl(c, await currentCrl(store, accountFromRow(row), row.accountId, settings, row.userId), file);
  });

  app.post("/api/ocsp", async (c) => {
    const body = new Uint8Array(await c.req.arrayBuffer());
    if (body.length === 0 || body.length > maxOcspRequestBytes) {
      throw badRequest("invalid_request", `an OCSP request must be 1 to ${maxOcspRequestBytes} bytes of DER`);
    }
    return ocspReply(c, await answerOcspRequest(store, body));
  });

  app.get("/api/ocsp/:request{.+}", async (c) => {
    // RFC 6960 appendix A: the path is the URL-encoded base64 of the DER request.
    let encoded: string;
    try {
      encoded = decodeURIComponent(c.req.param("request"));
    } catch {
      throw badRequest("invalid_request", "the OCSP request in the path is not valid percent-encoding");
    }
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length > (maxOcspRequestBytes * 4) / 3) {
      throw badRequest("invalid_request", "the OCSP request in the path must be base64 DER");
    }
    return ocspReply(c, await answerOcspRequest(store, Buffer.from(encoded, "base64")));
  });

  return app;
}

function sendCrl(c: Context<AppEnv>, crl: StoredCrl, file: string): Response {
  const der = Buffer.from(crl.der, "base64");
  // Revocations re-sign the CRL at once, so caches must revalidate rather than keep a copy.
  const headers = { "Cache-Control": "no-cache" };
  if (file.endsWith(".pem")) {
    return c.body(toPem(der, "X509 CRL"), 200, { ...headers, "Content-Type": "application/x-pem-file" });
  }
  return c.body(der, 200, { ...headers, "Content-Type": "application/pkix-crl" });
}

function ocspReply(c: Context<AppEnv>, der: Uint8Array): Response {
  return c.body(Buffer.from(der), 200, { "Content-Type": "application/ocsp-response" });
}
