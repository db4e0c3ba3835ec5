/**
 * @module Browser tests of the admin web UI: Debian's Chromium driven by playwright-core against
 * the in-process test server. They cover the setup wizard from a fresh data directory, with a
 * rejected CA import and a reload in the middle. They also cover sign-in failures, creating a
 * user, a device enrolled with the Jami protocol appearing and being revoked, deep links,
 * session expiry with the form kept, and the phone-width layout. They save the README's screenshots to
 * docs/screenshots/. The first describe block checks how the server serves the UI over HTTP.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sign } from "hono/jwt";
import type { Locator, Page } from "playwright-core";
import { buildUi } from "../packaging/build-ui.ts";
import { uiContentSecurityPolicy } from "../src/api/routes/ui.ts";
import { ensureTrialCertificate } from "../src/pki/trial-certificate.ts";
import { loadTokenSecret } from "../src/tokens/tokens.ts";
import { findUserByName } from "../src/users/users.ts";
import { launchBrowser, type TestBrowser } from "./support/browser.ts";
import { enroll, makeDeviceKey, makeJamiCsr } from "./support/jami-client.ts";
import { startServer, testAdmin, type TestServer } from "./support/server.ts";

const screenshots = join(import.meta.dirname, "../docs/screenshots");
const origins: string[] = [];
const servers: TestServer[] = [];
let browser: TestBrowser;
let bundleFiles: string[] = [];

beforeAll(async () => {
  const built = await buildUi();
  bundleFiles = built.files.map((file) => file.path);
  browser = await launchBrowser(() => origins);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  for (const server of servers) await server.stop();
});

async function serve(options: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const server = await startServer(options);
  servers.push(server);
  origins.push(server.url);
  return server;
}

/** Fetches from the test server, trusting its certificate. */
function get(server: TestServer, path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, { headers, tls: { ca: server.serverCa } });
}

const htmlAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

async function newPage(): Promise<Page> {
  const page = await browser.context.newPage();
  page.setDefaultTimeout(15_000);
  return page;
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(screenshots, `${name}.png`) });
}

async function signIn(page: Page, server: TestServer, path = "/"): Promise<void> {
  await page.goto(`${server.url}${path}`);
  await page.getByLabel("Username").fill(testAdmin.username);
  await page.getByLabel("Password").fill(testAdmin.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

/** Reads the error paragraph that `aria-describedby` ties to a field. */
async function fieldError(field: Locator): Promise<string> {
  const ids = (await field.getAttribute("aria-describedby")) ?? "";
  const errorId = ids.split(" ").find((id) => id.endsWith("-error"));
  if (!errorId) return "";
  return (await field.page().locator(`[id="${errorId}"]`).textContent()) ?? "";
}

describe("ui serving", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serve({ installed: true });
  });

  test("index has security headers", async () => {
    const reply = await get(server, "/", { Accept: htmlAccept });
    expect(reply.status).toBe(200);
    expect(reply.headers.get("content-type")).toContain("text/html");
    expect(reply.headers.get("content-security-policy")).toBe(uiContentSecurityPolicy);
    expect(reply.headers.get("x-content-type-options")).toBe("nosniff");
    expect(reply.headers.get("referrer-policy")).toBe("no-referrer");
    expect(reply.headers.get("cache-control")).toBe("no-cache");
    const html = await reply.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toContain("style=");
  });

  test("deep link falls back to index", async () => {
    const index = await (await get(server, "/", { Accept: htmlAccept })).text();
    for (const path of ["/users/alice", "/devices?status=revoked", "/settings", "/setup"]) {
      const reply = await get(server, path, { Accept: htmlAccept });
      expect(reply.status).toBe(200);
      expect(await reply.text()).toBe(index);
    }
  });

  test("api paths never fall back", async () => {
    for (const path of ["/api/nope", "/api", "/livez/x"]) {
      const reply = await get(server, path, { Accept: htmlAccept });
      expect(reply.status).toBe(404);
      expect(reply.headers.get("content-type")).toContain("application/json");
      expect((await reply.json()).error).toBe("not_found");
    }
    const ready = await get(server, "/readyz", { Accept: htmlAccept });
    expect(ready.headers.get("content-type")).toContain("application/json");
  });

  test("non-html request gets json 404", async () => {
    const reply = await get(server, "/users", { Accept: "application/json" });
    expect(reply.status).toBe(404);
    expect((await reply.json()).error).toBe("not_found");
  });

  test("hashed assets are immutable", async () => {
    const assets = bundleFiles.filter((path) => path.startsWith("/assets/"));
    expect(assets.some((path) => /^\/assets\/app-[A-Z0-9]+\.js$/.test(path))).toBe(true);
    expect(assets.some((path) => /^\/assets\/app-[A-Z0-9]+\.css$/.test(path))).toBe(true);
    for (const path of assets) {
      const reply = await get(server, path);
      expect(reply.status).toBe(200);
      expect(reply.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect(reply.headers.get("content-security-policy")).toBe(uiContentSecurityPolicy);
      const etag = reply.headers.get("etag")!;
      const again = await get(server, path, { "If-None-Match": etag });
      expect(again.status).toBe(304);
    }
  });

  test("unknown asset is 404", async () => {
    const reply = await get(server, "/assets/app-NOPE.js", { Accept: htmlAccept });
    expect(reply.status).toBe(404);
  });
});

describe("ui in chromium", () => {
  test("wizard from fresh server to dashboard", async () => {
    const server = await serve();
    const trial = await ensureTrialCertificate(join(server.dataDir, "tls"));
    const page = await newPage();
    const password = "correct horse battery staple";

    await page.goto(`${server.url}/`);
    await page.waitForURL(`${server.url}/setup`);
    await page.getByRole("heading", { name: "1. Create the administrator account" }).waitFor();
    await page.getByLabel("Password", { exact: true }).fill(password);
    await page.getByLabel("Confirm password").fill("something else");
    await page.getByRole("button", { name: "Create administrator" }).click();
    expect(await fieldError(page.getByLabel("Confirm password"))).toContain("differ");
    await page.getByLabel("Confirm password").fill(password);
    await page.getByRole("button", { name: "Create administrator" }).click();
    await page.getByRole("heading", { name: "2. Set up the certification authority" }).waitFor();

    // A reload resumes at the step the server stored.
    await page.reload();
    await page.getByRole("heading", { name: "2. Set up the certification authority" }).waitFor();
    expect(await page.locator('[aria-current="step"]').textContent()).toContain("Certification authority");
    await screenshot(page, "setup-ca");

    // A TLS server certificate is not a CA: the error is shown on the certificate field.
    await page.getByLabel("Import an existing CA certificate and its private key").check();
    const certificate = page.getByLabel("CA certificate (PEM)");
    await certificate.fill(readFileSync(trial.certFile, "utf8"));
    await page.getByLabel("CA private key (PEM)").fill(readFileSync(trial.keyFile, "utf8"));
    await page.getByRole("button", { name: "Import CA" }).click();
    await page.locator(".field.invalid").first().waitFor();
    expect(await certificate.getAttribute("aria-invalid")).toBe("true");
    expect(await fieldError(certificate)).toContain("not a CA");
    expect(await page.getByLabel("CA private key (PEM)").getAttribute("aria-invalid")).toBeNull();
    await screenshot(page, "setup-ca-import-error");

    await page.getByLabel("Generate a new CA on this server").check();
    await page.getByLabel("Common name (required)").fill("Example Jami CA");
    await page.getByLabel("Organization", { exact: true }).fill("Example");
    await page.getByLabel("Country (two-letter code)").fill("FR");
    await page.getByRole("button", { name: "Generate CA" }).click();
    await page.getByRole("heading", { name: "3. Choose the user source" }).waitFor({ timeout: 30_000 });

    await page.getByLabel("LDAP directory").check();
    await page.getByLabel("Bind DN").waitFor();
    await screenshot(page, "setup-user-source");
    await page.getByLabel("Embedded database").check();
    await page.getByRole("button", { name: "Save and continue" }).click();
    await page.getByRole("heading", { name: "4. Server parameters" }).waitFor();
    expect(await page.getByLabel("Server domain (public URL)").inputValue()).toBe(server.url);

    await page.getByLabel("CRL lifetime").fill("soon");
    await page.getByRole("button", { name: "Finish setup" }).click();
    await page.locator(".field.invalid").first().waitFor();
    expect(await fieldError(page.getByLabel("CRL lifetime"))).toContain("duration");
    await page.getByLabel("CRL lifetime").fill("2d");
    await page.getByRole("button", { name: "Finish setup" }).click();

    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/");
    await page.getByText("Example Jami CA").first().waitFor();
    const info = await (await get(server, "/api/info")).json();
    expect(info.installed).toBe(true);

    // Once setup is complete the wizard is gone, even by its URL.
    await page.goto(`${server.url}/setup`);
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/");
    await page.close();
  }, 90_000);

  test("wrong password shows error", async () => {
    const server = await serve({ installed: true });
    const page = await newPage();
    await page.goto(`${server.url}/users`);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await page.getByLabel("Username").fill(testAdmin.username);
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Sign in" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    expect(await alert.textContent()).toContain("username or password is wrong");
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await screenshot(page, "sign-in-error");
    await page.close();
  });

  test("non-admin cannot sign in", async () => {
    const server = await serve({ installed: true, users: { bob: "bob password" } });
    const page = await newPage();
    await page.goto(`${server.url}/`);
    await page.getByLabel("Username").fill("bob");
    await page.getByLabel("Password").fill("bob password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").waitFor();
    expect(await page.getByRole("alert").textContent()).toContain("not an administrator");
    await page.close();
  });

  test("keyboard sign-in and sign-out", async () => {
    const server = await serve({ installed: true });
    const page = await newPage();
    await page.goto(`${server.url}/devices`);
    await page.getByLabel("Username").waitFor();
    await page.getByLabel("Username").focus();
    await page.keyboard.type(testAdmin.username);
    await page.keyboard.press("Tab");
    await page.keyboard.type(testAdmin.password);
    await page.keyboard.press("Enter");
    // Sign-in returns to the page that was asked for.
    await page.getByRole("heading", { name: "Devices" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/devices");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.close();
  });

  test("user, enrolled device, revocation", async () => {
    const server = await serve({ installed: true });
    const page = await newPage();
    await signIn(page, server, "/users");

    await page.getByRole("button", { name: "New local user" }).click();
    const dialog = page.getByRole("dialog", { name: "New local user" });
    await dialog.waitFor();
    expect(await page.evaluate(() => document.activeElement?.getAttribute("autocomplete"))).toBe("off");
    await dialog.getByLabel("Username").fill("alice");
    await dialog.getByLabel("Password").fill("alice password");
    await dialog.getByRole("button", { name: "Create user" }).click();
    await dialog.waitFor({ state: "detached" });
    await page.getByRole("status").filter({ hasText: "was created" }).waitFor();
    await page.getByRole("link", { name: "alice", exact: true }).first().waitFor();

    // The same name again is rejected next to the username field.
    await page.getByRole("button", { name: "New local user" }).click();
    await dialog.getByLabel("Username").fill("alice");
    await dialog.getByLabel("Password").fill("other password");
    await dialog.getByRole("button", { name: "Create user" }).click();
    await dialog.locator(".field.invalid").waitFor();
    expect(await fieldError(dialog.getByLabel("Username"))).toContain("already exists");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    await screenshot(page, "users");

    await page.getByRole("link", { name: "alice", exact: true }).first().click();
    await page.getByRole("heading", { name: "Devices" }).waitFor();
    await page.getByText("No device yet").waitFor();

    // A device enrolls with the requests the Jami daemon sends.
    const key = makeDeviceKey(2048);
    const reply = await enroll(server.url, server.serverCa, "alice", "alice password", await makeJamiCsr(key), "Alice laptop");
    expect(reply.status).toBe(200);

    await page.reload();
    const row = page.getByRole("row").filter({ hasText: "Alice laptop" });
    await row.waitFor();
    expect(await row.textContent()).toContain("active");
    expect(await page.locator(".facts").textContent()).toMatch(/[0-9a-f]{40}/);
    await screenshot(page, "user");

    await row.getByRole("button", { name: "Revoke device Alice laptop" }).click();
    const confirm = page.getByRole("dialog", { name: "Revoke device Alice laptop?" });
    await confirm.waitFor();
    expect(await confirm.textContent()).toContain("refused as revoked");
    await confirm.getByLabel("Reason (published in the CRL)").selectOption("keyCompromise");
    await screenshot(page, "revoke-device");
    await confirm.getByRole("button", { name: "Revoke device" }).click();
    await confirm.waitFor({ state: "detached" });
    await page.getByRole("status").filter({ hasText: "was revoked" }).waitFor();
    await row.filter({ hasText: "revoked" }).waitFor();

    const devices = await (
      await fetch(`${server.url}/api/admin/devices?username=alice`, {
        headers: { Authorization: `Bearer ${await page.evaluate(() => sessionStorage.getItem("jams.adminToken"))}` },
        tls: { ca: server.serverCa },
      })
    ).json();
    expect(devices.devices[0].status).toBe("revoked");
    expect(devices.devices[0].revocationReason).toBe("keyCompromise");

    // The dashboard counts the enrollment and the revocation.
    await page.getByRole("link", { name: "Dashboard" }).click();
    await page.getByText("1 revoked, 0 expired").waitFor();
    await screenshot(page, "dashboard");
    await page.close();
  }, 60_000);

  test("deep link survives reload", async () => {
    const server = await serve({ installed: true, users: { carol: "carol password" } });
    const page = await newPage();
    await signIn(page, server, "/devices?status=revoked");
    await page.getByRole("heading", { name: "Devices" }).waitFor();
    expect(await page.getByLabel("Status").inputValue()).toBe("revoked");
    await page.goto(`${server.url}/users/carol`);
    await page.getByRole("heading", { name: /carol/ }).waitFor();
    await page.reload();
    await page.getByRole("heading", { name: /carol/ }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/users/carol");
    await page.goBack();
    await page.getByRole("heading", { name: "Devices" }).waitFor();
    await page.goto(`${server.url}/settings`);
    await page.getByRole("heading", { name: "Server parameters" }).waitFor();
    await page.getByText("Embedded database").waitFor();
    await screenshot(page, "settings");
    await page.close();
  });

  test("expired session keeps the form", async () => {
    const server = await serve({ installed: true });
    const page = await newPage();
    await signIn(page, server, "/users");
    await page.getByRole("button", { name: "New local user" }).click();
    const dialog = page.getByRole("dialog", { name: "New local user" });
    await dialog.getByLabel("Username").fill("dave");
    await dialog.getByLabel("Password").fill("dave password");

    // Replace the token with one that expired a minute ago, signed with the server's secret.
    const admin = (await findUserByName(server.store.db, testAdmin.username))!;
    const now = Math.floor(Date.now() / 1000);
    const expired = await sign({ sub: admin.username, uid: admin.id, scope: "ADMIN", iat: now - 1900, exp: now - 60 }, await loadTokenSecret(server.store), "HS256");
    await page.evaluate((token) => sessionStorage.setItem("jams.adminToken", token), expired);

    await dialog.getByRole("button", { name: "Create user" }).click();
    const prompt = page.getByRole("dialog", { name: "Session expired" });
    await prompt.waitFor();
    await screenshot(page, "session-expired");
    await prompt.getByLabel("Username").fill(testAdmin.username);
    await prompt.getByLabel("Password").fill("wrong");
    await prompt.getByRole("button", { name: "Sign in and continue" }).click();
    await prompt.getByRole("alert").waitFor();
    await prompt.getByLabel("Password").fill(testAdmin.password);
    await prompt.getByRole("button", { name: "Sign in and continue" }).click();

    // The request in hand is retried with the new token: the user is created as typed.
    await page.getByRole("status").filter({ hasText: "dave was created" }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem("jams.adminToken"))).not.toBe(expired);
    const created = await findUserByName(server.store.db, "dave");
    expect(created?.username).toBe("dave");
    await page.close();
  });

  test("readable at phone width", async () => {
    const server = await serve({ installed: true, users: { erin: "erin password" } });
    const page = await newPage();
    await page.setViewportSize({ width: 375, height: 740 });
    await signIn(page, server, "/users");
    await page.getByRole("link", { name: "erin", exact: true }).waitFor();
    for (const path of ["/", "/users", "/users/erin", "/devices", "/settings"]) {
      await page.goto(`${server.url}${path}`);
      await page.locator("main h1").first().waitFor();
      await page.waitForLoadState("networkidle");
      await page.locator(".loading").first().waitFor({ state: "detached" });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect({ path, overflow }).toEqual({ path, overflow: 0 });
    }
    await page.goto(`${server.url}/`);
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    await screenshot(page, "dashboard-phone");
    await page.close();
  });

  test("browser made no outside request", () => {
    expect(browser.blocked).toEqual([]);
  });
});
