/** Settings precedence (defaults < file < environment < flags) and duration parsing. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatDuration, parseDuration } from "../src/config/duration.ts";
import { parseInstallSettings } from "../src/install/setup.ts";
import { ConfigError, loadServeConfig } from "../src/config/serve-config.ts";
import { checkUsername } from "../src/users/users.ts";

const folder = mkdtempSync(join(tmpdir(), "jams-config-"));
const configFile = join(folder, "config.json");
writeFileSync(configFile, JSON.stringify({ host: "10.0.0.1", port: 9000, dataDir: "/srv/jams" }));

afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe("serve settings precedence", () => {
  test("defaults apply with nothing set", () => {
    const config = loadServeConfig({ flags: {}, env: {} });
    expect(config.host).toBe("127.0.0.1");
    expect(config.port).toBe(8443);
    expect(config.dataDir).toBe("data");
  });

  test("STATE_DIRECTORY replaces the default data dir", () => {
    expect(loadServeConfig({ flags: {}, env: { STATE_DIRECTORY: "/var/lib/jams" } }).dataDir).toBe("/var/lib/jams");
  });

  test("file beats defaults", () => {
    const config = loadServeConfig({ flags: {}, configFile, env: {} });
    expect(config.port).toBe(9000);
    expect(config.configFile).toBe(configFile);
  });

  test("environment beats file", () => {
    const config = loadServeConfig({ flags: {}, configFile, env: { JAMS_PORT: "9100" } });
    expect(config.port).toBe(9100);
    expect(config.host).toBe("10.0.0.1");
  });

  test("flags beat environment", () => {
    const config = loadServeConfig({ flags: { port: "9200" }, configFile, env: { JAMS_PORT: "9100" } });
    expect(config.port).toBe(9200);
  });

  test("JAMS_CONFIG names the file", () => {
    expect(loadServeConfig({ flags: {}, env: { JAMS_CONFIG: configFile } }).dataDir).toBe("/srv/jams");
  });

  test("result is frozen", () => {
    expect(Object.isFrozen(loadServeConfig({ flags: {}, env: {} }))).toBe(true);
  });

  const failures: [string, () => unknown, string][] = [
    ["port out of range", () => loadServeConfig({ flags: { port: "70000" }, env: {} }), "setting port"],
    ["port not a number", () => loadServeConfig({ flags: {}, env: { JAMS_PORT: "https" } }), "setting port"],
    ["unknown log level", () => loadServeConfig({ flags: { logLevel: "loud" }, env: {} }), "setting logLevel"],
    ["missing config file", () => loadServeConfig({ flags: {}, configFile: join(folder, "none.json"), env: {} }), "none.json"],
  ];
  for (const [name, load, fragment] of failures) {
    test(`${name} is a ConfigError`, () => {
      expect(load).toThrow(ConfigError);
      expect(load).toThrow(fragment);
    });
  }

  test("unknown key in the file is rejected", () => {
    const bad = join(folder, "bad.json");
    writeFileSync(bad, JSON.stringify({ prot: 1 }));
    expect(() => loadServeConfig({ flags: {}, configFile: bad, env: {} })).toThrow(`config file ${bad}`);
  });

  test("config file that is not JSON is rejected", () => {
    const bad = join(folder, "bad.txt");
    writeFileSync(bad, "port = 1");
    expect(() => loadServeConfig({ flags: {}, configFile: bad, env: {} })).toThrow("not a JSON object");
  });
});

describe("durations", () => {
  const valid: [string, number][] = [
    ["90d", 90 * 86_400_000],
    ["12h", 12 * 3_600_000],
    ["30m", 1_800_000],
    ["45s", 45_000],
    ["1h30m", 5_400_000],
    ["1y", 31_536_000_000],
    ["3600000", 3_600_000],
  ];
  for (const [text, ms] of valid) {
    test(`${text} parses`, () => expect(parseDuration(text)).toBe(ms));
  }

  for (const text of ["", "d", "-5m", "1.5h", "12 h", "0m", "0", "10x", "h12", "9999999999999999y"]) {
    test(`"${text}" is rejected`, () => expect(parseDuration(text)).toBeUndefined());
  }

  test("formats with the largest exact unit", () => {
    expect(formatDuration(90 * 86_400_000)).toBe("90d");
    expect(formatDuration(5_400_000)).toBe("90m");
  });
});

describe("installation settings", () => {
  test("lifetimes take durations or milliseconds", () => {
    const settings = parseInstallSettings({ deviceLifetime: "90d", userLifetime: 31_536_000_000 });
    expect(settings.deviceLifetime).toBe(90 * 86_400_000);
    expect(settings.userLifetime).toBe(31_536_000_000);
  });

  test("server domain loses its trailing slash", () => {
    expect(parseInstallSettings({ serverDomain: "https://jams.example.org/prefix/" }).serverDomain).toBe(
      "https://jams.example.org/prefix",
    );
  });

  const invalid: [string, Record<string, unknown>][] = [
    ["plain http domain", { serverDomain: "http://jams.example.org" }],
    ["domain with a query", { serverDomain: "https://jams.example.org/?a=1" }],
    ["relative domain", { serverDomain: "jams.example.org" }],
    ["lifetime under a minute", { deviceLifetime: "30s" }],
    ["lifetime as text", { crlLifetime: "soon" }],
    ["unknown key", { signingAlgorithm: "SHA1WITHRSA" }],
    ["boolean as a string", { publicNameServer: "yes" }],
  ];
  for (const [name, input] of invalid) {
    test(`${name} is rejected`, () => expect(() => parseInstallSettings(input)).toThrow("invalid settings"));
  }
});

describe("usernames", () => {
  test("fullwidth letters fold to the plain name", () => {
    expect(checkUsername("ａlice")).toBe("alice");
  });

  test("accented names are kept", () => {
    expect(checkUsername("élodie")).toBe("élodie");
  });

  test("a single non-Latin script is accepted", () => {
    expect(checkUsername("алиса")).toBe("алиса");
  });

  const rejected: [string, string][] = [
    ["Cyrillic a inside a Latin name", "\u0430lice"],
    ["Greek omicron inside a Latin name", "b\u03bfb"],
    ["a colon", "a:b"],
    ["a control character", "a\u0000b"],
    ["surrounding spaces", " alice "],
  ];
  for (const [name, value] of rejected) {
    test(`${name} is rejected`, () => expect(() => checkUsername(value)).toThrow());
  }
});
