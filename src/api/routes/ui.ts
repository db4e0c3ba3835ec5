/**
 * @module Serves the admin web UI from the embedded bundle: hashed assets under `/assets/` with a
 * one-year immutable cache, and `index.html` (revalidated on each load) for every other GET
 * that accepts HTML, so deep links and reloads work. `/api`, `/livez`, `/readyz` and `/healthz`
 * never fall back to the UI: they keep their JSON 404s. Mount these routes last.
 */
import { Hono, type Context } from "hono";
import { logger } from "../../log/logger.ts";
import type { AppEnv } from "../context.ts";
import { loadUiBundle, type UiAsset } from "../ui-assets.ts";

const log = logger("ui");

/** The Content-Security-Policy of every UI response: no inline script or style, no framing. */
export const uiContentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join("; ");

const reservedPrefixes = ["/api", "/livez", "/readyz", "/healthz"];

/** A bundle file decoded once, at first use. */
interface ServedAsset {
  asset: UiAsset;
  body: Uint8Array<ArrayBuffer>;
}

const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>jams: admin UI not built</title></head>
<body><h1>The admin UI is not built</h1>
<p>This server was started without its web UI bundle. Run <code>npm run build:ui</code>, then restart
the server (<code>npm start</code> does both). The JSON API under <code>/api</code> works without it.</p>
</body></html>
`;

export function uiRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  let files: Promise<Map<string, ServedAsset> | undefined> | undefined;
  const loadFiles = () => {
    files ??= loadUiBundle().then((bundle) => {
      if (!bundle) {
        log.warn("the admin UI bundle is missing; run npm run build:ui");
        // Retry on the next request: a test or developer may build the bundle while the server runs.
        files = undefined;
        return undefined;
      }
      return new Map(bundle.files.map((asset) => [asset.path, { asset, body: new Uint8Array(Buffer.from(asset.base64, "base64")) }]));
    });
    return files;
  };

  app.get("*", async (c, next) => {
    const path = c.req.path;
    if (reservedPrefixes.some((prefix) => path === prefix || path.startsWith(`${prefix}/`))) return next();

    const served = await loadFiles();
    const asset = path === "/index.html" ? undefined : served?.get(path);
    if (asset) return sendAsset(c, asset);
    if (path.startsWith("/assets/")) return next();
    if (!acceptsHtml(c.req.header("accept"))) return next();

    const index = served?.get("/index.html");
    if (!index) return c.html(notBuiltPage, 503, securityHeaders());
    return sendAsset(c, index);
  });

  return app;
}

function sendAsset(c: Context<AppEnv>, { asset, body }: ServedAsset): Response {
  const etag = `"${asset.hash}"`;
  const headers = {
    ...securityHeaders(),
    "Content-Type": asset.contentType,
    "Cache-Control": asset.immutable ? "public, max-age=31536000, immutable" : "no-cache",
    ETag: etag,
  };
  if (c.req.header("if-none-match") === etag) return c.body(null, 304, headers);
  return c.body(body, 200, headers);
}

function securityHeaders(): Record<string, string> {
  return {
    "Content-Security-Policy": uiContentSecurityPolicy,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
  };
}

/** True when the client lists text/html (browsers do for navigations; fetch and curl do not). */
function acceptsHtml(accept: string | undefined): boolean {
  return (accept ?? "").split(",").some((type) => type.split(";")[0]!.trim().toLowerCase() === "text/html");
}
