/**
 * The Active Directory user source against a real Samba AD domain controller provisioned by the
 * test: logins by sAMAccountName, `CORP\user` and `user@domain` over LDAPS and StartTLS, a
 * disabled account, group membership from memberOf, the thumbnail photo, filter injection, the
 * connection test, and an outage (503, never 401) followed by recovery without a restart.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { users } from "../src/store/schema.ts";
import { enroll, makeDeviceKey, makeJamiCsr, userLogin } from "./support/jami-client.ts";
import { adAdministrator, adBase, adDomain, adUsers, startSambaAd, type SambaAd } from "./support/samba-ad.ts";
import type { TestServer } from "./support/server.ts";
import { api, startDirectoryServer, wizardAdmin } from "./support/slapd.ts";

const photo = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0xc3, 0x28, 0xff, 0xd9]);
const people = {
  jdoe: { name: "jdoe", password: "Jdoe-Pässwörd-1", givenName: "John", surname: "Doe", mail: "jdoe@corp.example.test", groups: ["Engineers"] },
  zoe: { name: "zoë", password: "Zoë-Secret-2024", givenName: "Zoë", surname: "Ångström" },
  locked: { name: "former", password: "Former-Pass-123", disabled: true },
  reader: { name: "svc-jams", password: "Svc-Jams-Pass-1" },
};

let samba: SambaAd;
let server: TestServer;
let adminToken: string;
let ldapsSettings: Record<string, unknown>;

beforeAll(async () => {
  samba = await startSambaAd(Object.values(people));
  await samba.replaceUserAttribute("jdoe", "thumbnailPhoto", photo);
  ldapsSettings = {
    host: "127.0.0.1",
    ssl: true,
    domain: adDomain,
    baseDn: adUsers,
    bindUser: `${adDomain}\\${people.reader.name}`,
    bindPassword: people.reader.password,
    caCertificates: samba.tls.caPem,
    timeoutMs: 5000,
  };
  ({ server, adminToken } = await startDirectoryServer({ type: "AD", settings: ldapsSettings }));
}, 90_000);

afterAll(async () => {
  await server?.stop();
  await samba?.remove();
}, 30_000);

async function login(username: string, password: string) {
  return api(server, "POST", "/api/login", { body: { username, password } });
}

async function rowsNamed(name: string) {
  return server.store.db.select().from(users).where(eq(users.username, name));
}

async function userCount(): Promise<number> {
  return (await server.store.db.select().from(users)).length;
}

describe("Active Directory login", () => {
  test("accepts the sAMAccountName over LDAPS", async () => {
    const reply = await login("jdoe", people.jdoe.password);
    expect(reply.status).toBe(200);
    const rows = await rowsNamed("jdoe");
    expect(rows).toHaveLength(1);
    expect(rows[0]?.source).toBe("ad");
    expect(rows[0]?.passwordHash).toBeNull();
  });

  test("accepts CORP\\user and keeps one row", async () => {
    expect((await login(`${adDomain}\\jdoe`, people.jdoe.password)).status).toBe(200);
    expect((await login("corp\\JDOE", people.jdoe.password)).status).toBe(200);
    expect(await rowsNamed("jdoe")).toHaveLength(1);
  });

  test("accepts user@domain", async () => {
    expect((await login("jdoe@corp.example.test", people.jdoe.password)).status).toBe(200);
    expect(await rowsNamed("jdoe")).toHaveLength(1);
  });

  test("accepts a non-ASCII account over HTTP Basic", async () => {
    const reply = await userLogin(server.url, server.serverCa, "zoë", people.zoe.password);
    expect(reply.status).toBe(200);
    expect((await rowsNamed("zoë"))[0]?.displayName).toBe("Zoë Ångström");
  });

  test("keeps the local administrator local", async () => {
    expect((await login(wizardAdmin.username, wizardAdmin.password)).status).toBe(200);
  });

  const refused: [string, string, string][] = [
    ["a disabled account", "former", people.locked.password],
    ["a wrong password", "jdoe", "Wrong-Pass-123"],
    ["an empty password", "jdoe", ""],
    ["an unknown user", "nobody", "Whatever-123"],
    ["another legacy domain", "OTHER\\jdoe", people.jdoe.password],
    ["another UPN suffix", "jdoe@other.example.test", people.jdoe.password],
    ["an empty name after the domain", "CORP\\", people.jdoe.password],
    ["the domain administrator by password of another user", "Administrator", people.jdoe.password],
  ];
  for (const [name, username, password] of refused) {
    test(`refuses ${name} with 401`, async () => {
      const before = await userCount();
      const reply = await login(username, password);
      expect(reply.status).toBe(401);
      expect(reply.json.error).toBe("invalid_credentials");
      expect(await userCount()).toBe(before);
    });
  }

  const injections = ["*", "j*", "*)(sAMAccountName=*", "jdoe)(|(objectClass=*", "CORP\\*", "*@corp.example.test", "jdoe\u0000"];
  for (const name of injections) {
    test(`login name ${JSON.stringify(name)} finds nobody`, async () => {
      const reply = await login(name, people.jdoe.password);
      expect(reply.status).toBe(401);
      expect(reply.json.error).toBe("invalid_credentials");
    });
  }
});

describe("Active Directory profile", () => {
  test("enrollment sends the thumbnail photo and name", async () => {
    const key = makeDeviceKey(2048);
    const reply = await enroll(server.url, server.serverCa, "CORP\\jdoe", people.jdoe.password, await makeJamiCsr(key), "jdoe laptop");
    expect(reply.status).toBe(200);
    const body = reply.json as Record<string, unknown>;
    expect(body.userPhoto).toBe(photo.toString("base64"));
    expect(body["Account.displayName"]).toBe("John Doe");
  }, 30_000);

  test("listing reads groups from memberOf", async () => {
    const reply = await api(server, "GET", "/api/admin/directory/users?q=jdoe", { token: adminToken });
    expect(reply.status).toBe(200);
    expect(reply.json.users).toHaveLength(1);
    expect(reply.json.users[0].groups).toContain("Engineers");
    expect(reply.json.users[0].email).toBe(people.jdoe.mail);
    expect(reply.json.users[0].hasPhoto).toBe(true);
  });

  test("listing marks the disabled account", async () => {
    const reply = await api(server, "GET", "/api/admin/directory/users?q=former", { token: adminToken });
    expect(reply.json.users.map((user: { disabled: boolean }) => user.disabled)).toEqual([true]);
  });

  test("directory search finds the enrolled user", async () => {
    const token = (await login("jdoe", people.jdoe.password)).json.access_token;
    const reply = await api(server, "GET", "/api/auth/directory/search?queryString=doe", { token });
    expect(reply.status).toBe(200);
    expect(reply.json.profiles.map((profile: { username: string }) => profile.username)).toEqual(["jdoe"]);
    expect(reply.json.profiles[0].id).toMatch(/^[0-9a-f]{40}$/);
  });

  test("directory search query injection finds nothing", async () => {
    const token = (await login("jdoe", people.jdoe.password)).json.access_token;
    const reply = await api(server, "GET", `/api/auth/directory/search?queryString=${encodeURIComponent("*)(objectClass=*")}`, { token });
    expect(reply.status).toBe(200);
    expect(reply.json.profiles).toEqual([]);
  });
});

describe("Active Directory transports", () => {
  async function testConnection(change: Record<string, unknown>) {
    const reply = await api(server, "POST", "/api/admin/directory/test", {
      token: adminToken,
      body: { type: "AD", settings: { ...ldapsSettings, ...change } },
    });
    expect(reply.status).toBe(200);
    return reply.json as { ok: boolean; steps: { step: string; ok: boolean; message: string }[] };
  }

  test("connection test passes over LDAPS", async () => {
    const report = await testConnection({});
    expect(report.ok).toBe(true);
    expect(report.steps.map((step) => step.step)).toEqual(["tcp", "tls", "bind", "search"]);
  });

  test("connection test passes over StartTLS", async () => {
    expect((await testConnection({ ssl: false, startTls: true })).ok).toBe(true);
  });

  test("connection test reports plain LDAP refused at bind", async () => {
    const report = await testConnection({ ssl: false, startTls: false });
    expect(report.ok).toBe(false);
    const failed = report.steps.find((step) => !step.ok);
    expect(failed?.step).toBe("bind");
    expect(failed?.message).toContain("TLS");
  });

  test("connection test reports an untrusted certificate", async () => {
    const report = await testConnection({ caCertificates: samba.tls.otherCaPem });
    expect(report.steps.find((step) => !step.ok)?.step).toBe("tls");
  });

  test("connection test reports a wrong lookup password", async () => {
    const report = await testConnection({ bindPassword: "Wrong-Pass-1" });
    expect(report.steps.find((step) => !step.ok)?.step).toBe("bind");
  });

  test("rejects ssl with StartTLS together", async () => {
    const reply = await api(server, "POST", "/api/admin/directory/test", {
      token: adminToken,
      body: { type: "AD", settings: { ...ldapsSettings, ssl: true, startTls: true } },
    });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_settings");
  });

  test("rejects an invalid legacy domain name", async () => {
    const reply = await api(server, "PUT", "/api/admin/directory/settings", {
      token: adminToken,
      body: { settings: { ...ldapsSettings, domain: "CORP\\X" } },
    });
    expect(reply.status).toBe(400);
  });

  test("logs in over StartTLS after a settings change", async () => {
    const changed = await api(server, "PUT", "/api/admin/directory/settings", {
      token: adminToken,
      body: { settings: { ...ldapsSettings, ssl: false, startTls: true } },
    });
    expect(changed.status).toBe(200);
    expect(changed.text).not.toContain(people.reader.password);
    expect((await login("jdoe", people.jdoe.password)).status).toBe(200);
  });

  test("searches from the domain root despite referrals", async () => {
    const changed = await api(server, "PUT", "/api/admin/directory/settings", {
      token: adminToken,
      body: { settings: { ...ldapsSettings, baseDn: adBase } },
    });
    expect(changed.status).toBe(200);
    expect((await login("jdoe", people.jdoe.password)).status).toBe(200);
    const listing = await api(server, "GET", "/api/admin/directory/users", { token: adminToken });
    expect(listing.status).toBe(200);
    expect(listing.json.users.map((user: { username: string }) => user.username)).toContain("jdoe");
    expect(listing.json.partial).toBe(false);
  });

  test("refuses a switch to LDAP", async () => {
    const reply = await api(server, "PUT", "/api/admin/directory/settings", { token: adminToken, body: { type: "LDAP", settings: {} } });
    expect(reply.status).toBe(409);
    expect(reply.json.error).toBe("user_source_change_unsupported");
  });
});

describe("Active Directory outage", () => {
  test("a stopped domain controller is 503, never 401", async () => {
    await samba.stop();
    const reply = await login("jdoe", people.jdoe.password);
    expect(reply.status).toBe(503);
    expect(reply.json.error).toBe("directory_unavailable");
    expect((await login(wizardAdmin.username, wizardAdmin.password)).status).toBe(200);
  }, 30_000);

  test("a restarted domain controller works without restarting the appliance", async () => {
    await samba.start();
    expect((await login("jdoe", people.jdoe.password)).status).toBe(200);
  }, 60_000);
});

test("administrator password is not in any reply", () => {
  expect(JSON.stringify(ldapsSettings)).not.toContain(adAdministrator.password);
});
