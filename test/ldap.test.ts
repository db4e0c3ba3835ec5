/**
 * The LDAP user source against a real OpenLDAP server (slapd) seeded by the test. It covers
 * logins over StartTLS and ldaps with a private CA, non-ASCII names and passwords, a DN with
 * special characters, a photo, and more users than the server's size limit. It also covers
 * filter injection, the connection test, settings validation, and a directory outage (503,
 * never 401) with the recovery after it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server, type Socket } from "node:net";
import { eq } from "drizzle-orm";
import { users } from "../src/store/schema.ts";
import type { TestServer } from "./support/server.ts";
import { enroll, makeDeviceKey, makeJamiCsr, userLogin } from "./support/jami-client.ts";
import { freePort } from "./support/ports.ts";
import {
  api,
  ldapBase,
  ldapEntry,
  ldapGroups,
  ldapPeople,
  ldapReader,
  startDirectoryServer,
  startSlapd,
  wizardAdmin,
  type Slapd,
} from "./support/slapd.ts";

/** Bytes that are not valid UTF-8, as a JPEG file starts, so a text decoding would corrupt them. */
const photo = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]), Buffer.from("JFIF test photo"), Buffer.from([0xc3, 0x28, 0xff, 0xd9])]);
const bulkUsers = 250;
const bulkPassword = "bulk-password";

const people = {
  alice: { uid: "alice", password: "älice-pässwörd 🔑", dn: `uid=alice,${ldapPeople}` },
  zoe: { uid: "zoë", password: "Zoë-ümlaut-密码", dn: `uid=zoë,${ldapPeople}` },
  obrien: { uid: "obrien", password: "obrien-password", dn: `cn=O'Brien\\, Seán (Ops)\\+1,${ldapPeople}` },
  bob: { uid: "bob", password: "bob-password", dn: `uid=bob,${ldapPeople}` },
};

function seedLdif(): string {
  const person = (uid: string, given: string, sn: string, password: string, extra: Record<string, string | Buffer> = {}) => ({
    objectClass: ["inetOrgPerson"],
    uid,
    cn: `${given} ${sn}`,
    givenName: given,
    sn,
    mail: `${uid}@example.test`,
    userPassword: password,
    ...extra,
  });
  let ldif = "";
  ldif += ldapEntry(ldapBase, { objectClass: ["dcObject", "organization"], dc: "example", o: "Example" });
  ldif += ldapEntry(ldapPeople, { objectClass: "organizationalUnit", ou: "people" });
  ldif += ldapEntry(ldapGroups, { objectClass: "organizationalUnit", ou: "groups" });
  ldif += ldapEntry(ldapReader.dn, { objectClass: ["organizationalRole", "simpleSecurityObject"], cn: "reader", userPassword: ldapReader.password });
  ldif += ldapEntry(people.alice.dn, person("alice", "Alice", "Liddell", people.alice.password, { displayName: "Alice Liddell", telephoneNumber: "+1 555 0100" }));
  ldif += ldapEntry(people.zoe.dn, person("zoë", "Zoë", "Ångström", people.zoe.password, { displayName: "Zoë Ångström" }));
  ldif += ldapEntry(people.obrien.dn, person("obrien", "Seán", "O'Brien", people.obrien.password, { cn: "O'Brien, Seán (Ops)+1" }));
  ldif += ldapEntry(people.bob.dn, person("bob", "Bob", "Builder", people.bob.password, { jpegPhoto: photo }));
  // Two entries with one login name: a login must find exactly one.
  ldif += ldapEntry(`cn=Twin One,${ldapPeople}`, person("twin", "Twin", "One", "twin-password"));
  ldif += ldapEntry(`cn=Twin Two,${ldapPeople}`, person("twin", "Twin", "Two", "twin-password"));
  // Bad entries that listings must skip without losing the others.
  ldif += ldapEntry(`cn=No Login,${ldapPeople}`, { objectClass: "inetOrgPerson", cn: "No Login", sn: "Login" });
  ldif += ldapEntry(`cn=Bad Name,${ldapPeople}`, person("bad:name", "Bad", "Name", "bad-password"));
  for (let index = 1; index <= bulkUsers; index++) {
    const uid = `user${String(index).padStart(4, "0")}`;
    ldif += ldapEntry(`uid=${uid},${ldapPeople}`, person(uid, "Bulk", `User ${index}`, bulkPassword));
  }
  ldif += ldapEntry(`cn=engineers,${ldapGroups}`, { objectClass: "groupOfNames", cn: "engineers", member: [people.alice.dn, people.zoe.dn] });
  // A referral inside the user base: subtree searches return it as a continuation reference.
  ldif += ldapEntry(`ou=partners,${ldapPeople}`, {
    objectClass: ["referral", "extensibleObject"],
    ou: "partners",
    ref: "ldap://127.0.0.1:9/ou=partners,dc=elsewhere,dc=test",
  });
  return ldif;
}

let slapd: Slapd;
let server: TestServer;
let adminToken: string;
let startTlsSettings: Record<string, unknown>;

beforeAll(async () => {
  slapd = await startSlapd(seedLdif(), { sizeLimit: 100 });
  startTlsSettings = {
    url: slapd.ldapUrl,
    startTls: true,
    bindDn: ldapReader.dn,
    bindPassword: ldapReader.password,
    baseDn: ldapPeople,
    groupBaseDn: ldapGroups,
    caCertificates: slapd.tls.caPem,
    timeoutMs: 3000,
  };
  ({ server, adminToken } = await startDirectoryServer({ type: "LDAP", settings: startTlsSettings }));
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await slapd?.remove();
});

async function login(username: string, password: string) {
  return api(server, "POST", "/api/login", { body: { username, password } });
}

async function userRow(username: string) {
  return (await server.store.db.select().from(users).where(eq(users.username, username)))[0];
}

async function userCount(): Promise<number> {
  return (await server.store.db.select().from(users)).length;
}

describe("LDAP login", () => {
  test("accepts a non-ASCII password over StartTLS", async () => {
    const reply = await login("alice", people.alice.password);
    expect(reply.status).toBe(200);
    expect(typeof reply.json.access_token).toBe("string");
    const row = await userRow("alice");
    expect(row?.source).toBe("ldap");
    expect(row?.passwordHash).toBeNull();
    expect(row?.displayName).toBe("Alice Liddell");
  });

  test("accepts a non-ASCII login name", async () => {
    const reply = await login("zoë", people.zoe.password);
    expect(reply.status).toBe(200);
    expect((await userRow("zoë"))?.displayName).toBe("Zoë Ångström");
  });

  test("accepts a user whose DN has special characters", async () => {
    expect((await login("obrien", people.obrien.password)).status).toBe(200);
  });

  test("accepts a user past the size limit", async () => {
    expect((await login(`user${String(bulkUsers).padStart(4, "0")}`, bulkPassword)).status).toBe(200);
  });

  test("stores the directory's spelling of the name", async () => {
    expect((await login("ALICE", people.alice.password)).status).toBe(200);
    const rows = await server.store.db.select().from(users);
    expect(rows.filter((row) => row.username.toLowerCase() === "alice").map((row) => row.username)).toEqual(["alice"]);
  });

  test("accepts HTTP Basic as Jami clients send it", async () => {
    const reply = await userLogin(server.url, server.serverCa, "zoë", people.zoe.password);
    expect(reply.status).toBe(200);
  });

  test("keeps the local administrator local", async () => {
    const reply = await login(wizardAdmin.username, wizardAdmin.password);
    expect(reply.status).toBe(200);
    expect((await userRow(wizardAdmin.username))?.source).toBe("local");
  });

  const refused: [string, string, string][] = [
    ["wrong password", "alice", "not alice's password"],
    ["empty password", "alice", ""],
    ["unknown user", "nobody", "whatever"],
    ["ambiguous login name", "twin", "twin-password"],
    ["invalid directory name", "bad:name", "bad-password"],
    ["password of another user", "bob", people.alice.password],
  ];
  for (const [name, username, password] of refused) {
    test(`refuses ${name} with 401`, async () => {
      const before = await userCount();
      const reply = await login(username, password);
      expect(reply.status).toBe(401);
      expect(reply.json.error).toBe("invalid_credentials");
      expect(reply.json.message).toBe("The username or password is wrong.");
      expect(await userCount()).toBe(before);
    });
  }
});

describe("LDAP filter injection", () => {
  const names = ["*", "al*", "*)(uid=*", "alice)(|(objectClass=*", "alice)(uid=*", "*)(|(uid=*", "alice\\", "\\2a", "alice\u0000", "(uid=alice)", "a".repeat(300)];
  for (const name of names) {
    test(`login name ${JSON.stringify(name.slice(0, 30))} finds nobody`, async () => {
      const before = await userCount();
      const reply = await login(name, people.alice.password);
      expect(reply.status).toBe(401);
      expect(reply.json.error).toBe("invalid_credentials");
      expect(await userCount()).toBe(before);
    });
  }

  test("bulk password with a wildcard name finds nobody", async () => {
    expect((await login("user*", bulkPassword)).status).toBe(401);
  });
});

describe("LDAP enrollment and directory search", () => {
  let aliceToken: string;
  let aliceAccountId: string;

  test("enrollment sends the display name and the photo", async () => {
    const key = makeDeviceKey(2048);
    const reply = await enroll(server.url, server.serverCa, "bob", people.bob.password, await makeJamiCsr(key), "bob laptop");
    expect(reply.status).toBe(200);
    const body = reply.json as Record<string, unknown>;
    expect(body.userPhoto).toBe(photo.toString("base64"));
    expect(body["Account.displayName"]).toBe("Bob Builder");
    for (const value of Object.values(body)) expect(["string", "number", "boolean"]).toContain(typeof value);
  }, 30_000);

  test("enrollment of a second user", async () => {
    const key = makeDeviceKey(2048);
    const reply = await enroll(server.url, server.serverCa, "alice", people.alice.password, await makeJamiCsr(key), "alice phone");
    expect(reply.status).toBe(200);
    expect((reply.json as Record<string, unknown>).userPhoto).toBeUndefined();
    aliceToken = (await login("alice", people.alice.password)).json.access_token;
    const receipt = JSON.parse((reply.json as { deviceReceipt: string }).deviceReceipt) as { id: string };
    aliceAccountId = receipt.id;
    expect(aliceAccountId).toMatch(/^[0-9a-f]{40}$/);
  }, 30_000);

  test("search finds an enrolled user with string members only", async () => {
    const reply = await api(server, "GET", "/api/auth/directory/search?queryString=lidd", { token: aliceToken });
    expect(reply.status).toBe(200);
    expect(reply.json.numPages).toBe(1);
    expect(reply.json.profiles).toHaveLength(1);
    const profile = reply.json.profiles[0];
    expect(profile.id).toBe(aliceAccountId);
    expect(profile.username).toBe("alice");
    expect(profile.firstName).toBe("Alice");
    expect(profile.lastName).toBe("Liddell");
    for (const value of Object.values(profile)) expect(typeof value).toBe("string");
  });

  test("search sends the photo as profilePicture", async () => {
    const reply = await api(server, "GET", "/api/auth/directory/search?queryString=bob", { token: aliceToken });
    expect(reply.json.profiles.map((profile: { profilePicture: string }) => profile.profilePicture)).toEqual([photo.toString("base64")]);
  });

  test("search with * lists every enrolled user only", async () => {
    const reply = await api(server, "GET", "/api/auth/directory/search?queryString=*", { token: aliceToken });
    expect(reply.status).toBe(200);
    expect(reply.json.profiles.map((profile: { username: string }) => profile.username)).toEqual(["alice", "bob"]);
  });

  const injections = ["*)(userPassword=*", "*)(uid=*", "a*", "al*ce", "\\", "*)(|(objectClass=*", ")(", "\u00e9*"];
  for (const query of injections) {
    test(`search query ${JSON.stringify(query)} finds nothing`, async () => {
      const reply = await api(server, "GET", `/api/auth/directory/search?queryString=${encodeURIComponent(query)}`, { token: aliceToken });
      expect(reply.status).toBe(200);
      expect(reply.json.profiles).toEqual([]);
      expect(reply.json.numPages).toBe(0);
    });
  }

  const badSearches: [string, string][] = [
    ["missing query", "/api/auth/directory/search"],
    ["overlong query", `/api/auth/directory/search?queryString=${"x".repeat(65)}`],
    ["control character", "/api/auth/directory/search?queryString=a%01b"],
    ["page zero", "/api/auth/directory/search?queryString=*&page=0"],
    ["page not a number", "/api/auth/directory/search?queryString=*&page=two"],
  ];
  for (const [name, path] of badSearches) {
    test(`search rejects ${name} with 400`, async () => {
      const reply = await api(server, "GET", path, { token: aliceToken });
      expect(reply.status).toBe(400);
      expect(reply.json.error).toBe("invalid_request");
    });
  }

  test("search without a token is 401", async () => {
    expect((await api(server, "GET", "/api/auth/directory/search?queryString=*")).status).toBe(401);
  });
});

describe("LDAP admin listing", () => {
  const named = 6; // alice, zoë, obrien, bob and the two twins

  test("directory really exceeds its size limit", () => {
    const plain = slapd.ldapsearch(["-b", ldapPeople, "-LLL", "(objectClass=inetOrgPerson)", "1.1"]);
    // ldapsearch exits with 4 (sizeLimitExceeded) when the server stops a plain search.
    expect(plain.status).toBe(4);
    expect(bulkUsers).toBeGreaterThan(slapd.sizeLimit);
  });

  test("lists every user past the size limit", async () => {
    const reply = await api(server, "GET", "/api/admin/directory/users?pageSize=1000", { token: adminToken });
    expect(reply.status).toBe(200);
    expect(reply.json.total).toBe(bulkUsers + named);
    expect(reply.json.users).toHaveLength(bulkUsers + named);
    expect(reply.json.partial).toBe(false);
  });

  test("skips bad entries and keeps the rest", async () => {
    const reply = await api(server, "GET", "/api/admin/directory/users", { token: adminToken });
    expect(reply.json.skipped).toBe(2);
    expect(reply.json.total).toBe(bulkUsers + named);
  });

  test("reports referrals without following them", async () => {
    const reply = await api(server, "GET", "/api/admin/directory/users", { token: adminToken });
    // slapd appends the search scope to a continuation reference (RFC 4511 section 4.5.3).
    expect(reply.json.referrals).toEqual(["ldap://127.0.0.1:9/ou=partners,dc=elsewhere,dc=test??sub"]);
  });

  test("pages independently of LDAP paging", async () => {
    const reply = await api(server, "GET", "/api/admin/directory/users?page=3&pageSize=100", { token: adminToken });
    expect(reply.json.page).toBe(3);
    expect(reply.json.numPages).toBe(3);
    expect(reply.json.users).toHaveLength(bulkUsers + named - 200);
  });

  test("filters by a substring", async () => {
    const reply = await api(server, "GET", "/api/admin/directory/users?q=user02", { token: adminToken });
    // user0200 to user0250
    expect(reply.json.total).toBe(51);
  });

  test("reads groups and profile fields", async () => {
    const reply = await api(server, "GET", "/api/admin/directory/users?q=liddell", { token: adminToken });
    expect(reply.json.users).toHaveLength(1);
    const alice = reply.json.users[0];
    expect(alice.email).toBe("alice@example.test");
    expect(alice.phoneNumber).toBe("+1 555 0100");
    expect(alice.accountId).toMatch(/^[0-9a-f]{40}$/);
    const bob = (await api(server, "GET", "/api/admin/directory/users?q=bob", { token: adminToken })).json.users[0];
    expect(bob.hasPhoto).toBe(true);
  });

  test("finds nothing for an injected query", async () => {
    const reply = await api(server, "GET", `/api/admin/directory/users?q=${encodeURIComponent("*)(uid=*")}`, { token: adminToken });
    expect(reply.status).toBe(200);
    expect(reply.json.total).toBe(0);
  });

  test("rejects a user token with 403", async () => {
    const token = (await login("alice", people.alice.password)).json.access_token;
    expect((await api(server, "GET", "/api/admin/directory/users", { token })).status).toBe(403);
  });

  test("rejects a bad page size with 400", async () => {
    expect((await api(server, "GET", "/api/admin/directory/users?pageSize=5000", { token: adminToken })).status).toBe(400);
  });
});

describe("LDAP groups", () => {
  test("login reads group membership by group search", async () => {
    const { Directory } = await import("../src/directory/directory.ts");
    const { connectionParameters, parseDirectorySettings } = await import("../src/directory/settings.ts");
    const directory = new Directory(connectionParameters(parseDirectorySettings(startTlsSettings, "LDAP")));
    try {
      const found = await directory.findUser("zoë");
      expect(found.ok).toBe(true);
      if (found.ok) expect(found.user.groups).toEqual(["engineers"]);
    } finally {
      await directory.close();
    }
  });
});

describe("LDAP settings", () => {
  test("never returns the bind password", async () => {
    const reply = await api(server, "GET", "/api/admin/directory/settings", { token: adminToken });
    expect(reply.status).toBe(200);
    expect(reply.json.type).toBe("LDAP");
    expect(reply.json.settings.bindPasswordSet).toBe(true);
    expect(reply.json.settings.bindPassword).toBeUndefined();
    expect(reply.text).not.toContain(ldapReader.password);
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ["StartTLS on ldaps", { url: "ldaps://127.0.0.1:636" }, "startTls"],
    ["a URL without ldap scheme", { url: "http://127.0.0.1" }, "url"],
    ["a URL with a path", { url: "ldap://127.0.0.1/dc=example" }, "url"],
    ["a conflicting port", { url: "ldap://127.0.0.1:389", port: 390 }, "port"],
    ["an invalid filter", { userFilter: "(objectClass=person" }, "userFilter"],
    ["a filter without parentheses", { userFilter: "objectClass=person" }, "userFilter"],
    ["a CA bundle without certificates", { caCertificates: "not a certificate" }, "caCertificates"],
    ["an invalid attribute name", { loginAttribute: "uid)(x" }, "loginAttribute"],
    ["an unknown field", { bindPasswordFile: "/etc/shadow" }, ""],
    ["a tiny timeout", { timeoutMs: 1 }, "timeoutMs"],
  ];
  for (const [name, change, field] of invalid) {
    test(`rejects ${name} with 400`, async () => {
      const before = await api(server, "GET", "/api/admin/directory/settings", { token: adminToken });
      const reply = await api(server, "PUT", "/api/admin/directory/settings", {
        token: adminToken,
        body: { settings: { ...startTlsSettings, ...change } },
      });
      expect(reply.status).toBe(400);
      expect(reply.json.error).toBe("invalid_settings");
      if (field) expect(reply.json.details.fields.map((f: { field: string }) => f.field)).toContain(field);
      const after = await api(server, "GET", "/api/admin/directory/settings", { token: adminToken });
      expect(after.json).toEqual(before.json);
    });
  }

  test("refuses to switch to Active Directory", async () => {
    const reply = await api(server, "PUT", "/api/admin/directory/settings", {
      token: adminToken,
      body: { type: "AD", settings: { host: "127.0.0.1", domain: "CORP", bindUser: "x", bindPassword: "y", baseDn: "dc=x" } },
    });
    expect(reply.status).toBe(409);
    expect(reply.json.error).toBe("user_source_change_unsupported");
    expect(reply.json.message).toContain("cannot change");
  });

  test("refuses to switch to LOCAL", async () => {
    const reply = await api(server, "PUT", "/api/admin/directory/settings", { token: adminToken, body: { type: "LOCAL" } });
    expect(reply.status).toBe(409);
    expect(reply.json.error).toBe("user_source_change_unsupported");
  });

  test("switches to ldaps and back without a restart", async () => {
    const { startTls: _, ...rest } = startTlsSettings;
    const ldaps = { ...rest, url: slapd.ldapsUrl, bindPassword: undefined };
    const changed = await api(server, "PUT", "/api/admin/directory/settings", { token: adminToken, body: { settings: ldaps } });
    expect(changed.status).toBe(200);
    expect(changed.json.settings.url).toBe(slapd.ldapsUrl);
    expect(changed.json.settings.bindPasswordSet).toBe(true);
    expect((await login("alice", people.alice.password)).status).toBe(200);
    const restored = await api(server, "PUT", "/api/admin/directory/settings", { token: adminToken, body: { settings: startTlsSettings } });
    expect(restored.status).toBe(200);
  });
});

describe("LDAP connection test", () => {
  async function testConnection(change: Record<string, unknown> | undefined) {
    const body = change === undefined ? {} : { type: "LDAP", settings: { ...startTlsSettings, ...change } };
    const reply = await api(server, "POST", "/api/admin/directory/test", { token: adminToken, body });
    expect(reply.status).toBe(200);
    return reply.json as { ok: boolean; steps: { step: string; ok: boolean; message: string }[] };
  }
  const failedStep = (report: { steps: { step: string; ok: boolean; message: string }[] }) => report.steps.find((step) => !step.ok);

  test("passes every step with the saved settings", async () => {
    const report = await testConnection(undefined);
    expect(report.ok).toBe(true);
    expect(report.steps.map((step) => step.step)).toEqual(["tcp", "tls", "bind", "search"]);
  });

  test("passes over ldaps with the private CA", async () => {
    const report = await testConnection({ url: slapd.ldapsUrl, startTls: false });
    expect(report.ok).toBe(true);
  });

  test("reports an untrusted issuer at the TLS step", async () => {
    const report = await testConnection({ url: slapd.ldapsUrl, startTls: false, caCertificates: slapd.tls.otherCaPem });
    expect(report.ok).toBe(false);
    expect(failedStep(report)?.step).toBe("tls");
    expect(failedStep(report)?.message).toContain("not trusted");
  });

  test("reports an untrusted issuer after StartTLS", async () => {
    const report = await testConnection({ caCertificates: undefined });
    expect(failedStep(report)?.step).toBe("tls");
    expect(failedStep(report)?.message).toContain("not trusted");
  });

  test("reports a name mismatch at the TLS step", async () => {
    const report = await testConnection({ url: `ldaps://localhost:${slapd.ldapsPort}`, startTls: false });
    expect(failedStep(report)?.step).toBe("tls");
    expect(failedStep(report)?.message).toContain("does not name localhost");
  });

  test("reports a wrong lookup password at the bind step", async () => {
    const report = await testConnection({ bindPassword: "wrong" });
    expect(failedStep(report)?.step).toBe("bind");
    expect(failedStep(report)?.message).toContain("bind DN or password is wrong");
  });

  test("reports a closed port at the TCP step", async () => {
    const report = await testConnection({ url: `ldap://127.0.0.1:${await freePort()}` });
    expect(failedStep(report)?.step).toBe("tcp");
    expect(failedStep(report)?.message).toContain("refused");
  });

  test("reports a missing base DN at the search step", async () => {
    const report = await testConnection({ baseDn: `ou=missing,${ldapBase}` });
    expect(failedStep(report)?.step).toBe("search");
    expect(failedStep(report)?.message).toContain("does not exist");
  });

  test("reports a login attribute no entry has", async () => {
    const report = await testConnection({ loginAttribute: "employeeNumber" });
    expect(failedStep(report)?.step).toBe("search");
  });

  test("unsafe mode skips the certificate check", async () => {
    const report = await testConnection({ caCertificates: undefined, unsafeSkipCertificateCheck: true });
    expect(report.ok).toBe(true);
  });

  test("rejects invalid settings with 400", async () => {
    const reply = await api(server, "POST", "/api/admin/directory/test", { token: adminToken, body: { type: "LDAP", settings: { url: "ldap://x" } } });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe("invalid_settings");
  });

  test("needs an ADMIN token", async () => {
    expect((await api(server, "POST", "/api/admin/directory/test", { body: {} })).status).toBe(401);
  });
});

describe("LDAP outage", () => {
  test("a stopped directory is 503, never 401", async () => {
    await slapd.stop();
    const reply = await login("alice", people.alice.password);
    expect(reply.status).toBe(503);
    expect(reply.json.error).toBe("directory_unavailable");
    const basic = await userLogin(server.url, server.serverCa, "alice", people.alice.password);
    expect(basic.status).toBe(503);
    const key = makeDeviceKey(2048);
    const enrolled = await enroll(server.url, server.serverCa, "zoë", people.zoe.password, await makeJamiCsr(key), "zoe");
    expect(enrolled.status).toBe(503);
  }, 30_000);

  test("a stopped directory still lets the local admin in", async () => {
    const reply = await login(wizardAdmin.username, wizardAdmin.password);
    expect(reply.status).toBe(200);
    const search = await api(server, "GET", "/api/auth/directory/search?queryString=*", { token: reply.json.access_token });
    expect(search.status).toBe(503);
    const listing = await api(server, "GET", "/api/admin/directory/users", { token: reply.json.access_token });
    expect(listing.status).toBe(503);
  });

  test("a restarted directory works without restarting the appliance", async () => {
    await slapd.start();
    const reply = await login("alice", people.alice.password);
    expect(reply.status).toBe(200);
  }, 30_000);

  test("a directory that never answers times out as 503", async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const changed = await api(server, "PUT", "/api/admin/directory/settings", {
        token: adminToken,
        body: { settings: { ...startTlsSettings, url: `ldap://127.0.0.1:${port}`, timeoutMs: 500 } },
      });
      expect(changed.status).toBe(200);
      const started = Date.now();
      const reply = await login("alice", people.alice.password);
      expect(reply.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await api(server, "PUT", "/api/admin/directory/settings", { token: adminToken, body: { settings: startTlsSettings } });
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
    expect((await login("alice", people.alice.password)).status).toBe(200);
  }, 30_000);
});

describe("LDAP in the setup wizard", () => {
  let fresh: TestServer;
  let token: string;

  beforeAll(async () => {
    const { startServer } = await import("./support/server.ts");
    fresh = await startServer();
    token = (await api(fresh, "PUT", "/api/install/start", { body: wizardAdmin })).json.access_token;
    const ca = await api(fresh, "POST", "/api/install/ca", { token, body: { mode: "generate", fields: { commonName: "Wizard CA" } } });
    if (ca.status !== 200) throw new Error(`CA step failed: ${ca.text}`);
  }, 30_000);

  afterAll(async () => {
    await fresh?.stop();
  });

  async function setupStep() {
    return (await api(fresh, "GET", "/api/info")).json.setupStep;
  }

  const rejected: [string, unknown, string][] = [
    ["LDAP without settings", { type: "LDAP" }, "invalid_settings"],
    ["LDAP with settings that are not an object", { type: "LDAP", settings: "ldap://x" }, "invalid_settings"],
    ["LDAP without a bind password", { type: "LDAP", settings: { ...{ url: "ldap://127.0.0.1", bindDn: "cn=x", baseDn: "dc=x" } } }, "invalid_settings"],
    ["AD without a domain", { type: "AD", settings: { host: "127.0.0.1", bindUser: "x", bindPassword: "y", baseDn: "dc=x" } }, "invalid_settings"],
    ["an unknown source", { type: "KERBEROS" }, "unsupported_auth_type"],
    ["a source that is not a string", { type: ["LDAP"] }, "unsupported_auth_type"],
  ];
  for (const [name, body, code] of rejected) {
    test(`rejects ${name} with 400`, async () => {
      const reply = await api(fresh, "POST", "/api/install/auth", { token, body });
      expect(reply.status).toBe(400);
      expect(reply.json.error).toBe(code);
      expect(await setupStep()).toBe("auth");
    });
  }

  test("stores LDAP and never echoes the bind password", async () => {
    const reply = await api(fresh, "POST", "/api/install/auth", { token, body: { type: "LDAP", settings: startTlsSettings } });
    expect(reply.status).toBe(200);
    expect(reply.json.type).toBe("LDAP");
    expect(reply.json.settings.bindPasswordSet).toBe(true);
    expect(reply.text).not.toContain(ldapReader.password);
    expect(await setupStep()).toBe("settings");
  });

  test("tests the connection before setup finishes", async () => {
    const reply = await api(fresh, "POST", "/api/admin/directory/test", { token, body: {} });
    expect(reply.status).toBe(200);
    expect(reply.json.ok).toBe(true);
  });
});
