/**
 * @module Starts Debian's Chromium (`/usr/bin/chromium`) through playwright-core for the UI
 * tests: headless, with a fresh profile, and with every request that is not for the local test
 * server aborted and recorded, so the browser never reaches the internet.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

export const chromiumPath = process.env.JAMS_TEST_CHROMIUM ?? "/usr/bin/chromium";

/** The flags that keep Chromium off the network and quiet in a test container. */
export const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // Resolves no host name but localhost, so even a stray link cannot leave the machine.
  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
];

/** A running browser with one context. */
export interface TestBrowser {
  context: BrowserContext;
  /** Requests that were aborted because they were not for an allowed origin. */
  blocked: string[];
  close(): Promise<void>;
}

/**
 * Launches Chromium with a fresh `--user-data-dir` (Playwright takes it as the persistent
 * context's directory). Throws when Chromium cannot start: UI tests must fail, not skip.
 */
export async function launchBrowser(allowedOrigins: () => string[]): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), "jams-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: chromiumArgs,
      ignoreHTTPSErrors: true,
      viewport: { width: 1280, height: 800 },
      locale: "en-GB",
      timezoneId: "UTC",
      timeout: 30_000,
    });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw new Error(
      `Chromium did not start from ${chromiumPath}: ${(error as Error).message}. ` +
        "Install it with: apt-get install --no-install-recommends chromium fonts-dejavu-core",
    );
  }
  const blocked: string[] = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    const allowed = url.startsWith("data:") || allowedOrigins().some((origin) => url.startsWith(`${origin}/`) || url === origin);
    if (allowed) return route.continue();
    blocked.push(url);
    return route.abort("blockedbyclient");
  });
  return {
    context,
    blocked,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
