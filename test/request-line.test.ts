/**
 * The Jami daemon sends its directory search text unencoded in the URL. The listener repairs
 * the first request line of each connection so such searches reach the route.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:tls";
import { repairRequestLine } from "../src/runtime/request-line.ts";
import { enroll, makeDeviceKey, makeJamiCsr, userLogin } from "./support/jami-client.ts";
import { startServer, type TestServer } from "./support/server.ts";

describe("repairRequestLine", () => {
  const cases: [string, string, string][] = [
    ["well-formed line unchanged", "GET /api/info HTTP/1.1", "GET /api/info HTTP/1.1"],
    ["space in the query", "GET /s?queryString=jean luc HTTP/1.1", "GET /s?queryString=jean%20luc HTTP/1.1"],
    ["two spaces", "GET /s?q=a b c HTTP/1.1", "GET /s?q=a%20b%20c HTTP/1.1"],
    ["tab in the query", "GET /s?q=a\tb HTTP/1.1", "GET /s?q=a%09b HTTP/1.1"],
    ["no version is left alone", "GET /s?q=a b", "GET /s?q=a b"],
    ["not a request line", "garbage", "garbage"],
    ["HTTP/1.0 line", "GET /s?q=x y HTTP/1.0", "GET /s?q=x%20y HTTP/1.0"],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => expect(repairRequestLine(Buffer.from(input, "latin1")).toString("latin1")).toBe(expected));
  }

  test("UTF-8 bytes are percent-encoded", () => {
    const line = Buffer.concat([Buffer.from("GET /s?q="), Buffer.from("élodie", "utf8"), Buffer.from(" HTTP/1.1")]);
    expect(repairRequestLine(line).toString("latin1")).toBe("GET /s?q=%C3%A9lodie HTTP/1.1");
  });
});

let server: TestServer;
let token: string;

/**
 * Sends raw bytes over TLS, as the Jami daemon does without half-closing, and returns everything
 * the server sends back before it closes the connection.
 */
function rawExchange(payload: Buffer): Promise<string> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port: Number(url.port), servername: "localhost", ca: server.serverCa }, () => socket.write(payload));
    let reply = "";
    socket.on("data", (chunk: Buffer) => (reply += chunk.toString("utf8")));
    socket.on("end", () => {
      socket.end();
      resolve(reply);
    });
    socket.on("error", reject);
  });
}

function searchRequest(query: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from("GET /api/auth/directory/search?queryString="),
    query,
    Buffer.from(` HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`),
  ]);
}

beforeAll(async () => {
  server = await startServer({ installed: true, users: { "jean luc": "jl-password", élodie: "el-password" } });
  for (const [name, password] of [["jean luc", "jl-password"], ["élodie", "el-password"]] as const) {
    const reply = await enroll(server.url, server.serverCa, name, password, await makeJamiCsr(makeDeviceKey(2048)), "d");
    expect(reply.status).toBe(200);
  }
  token = ((await userLogin(server.url, server.serverCa, "élodie", "el-password")).json as { access_token: string }).access_token;
});

afterAll(async () => {
  await server?.stop();
});

describe("raw directory searches", () => {
  test("a literal space finds the user", async () => {
    const reply = await rawExchange(searchRequest(Buffer.from("jean luc")));
    expect(reply.startsWith("HTTP/1.1 200")).toBe(true);
    expect(reply).toContain('"username":"jean luc"');
  });

  test("raw UTF-8 finds the user", async () => {
    const reply = await rawExchange(searchRequest(Buffer.from("élodie", "utf8")));
    expect(reply.startsWith("HTTP/1.1 200")).toBe(true);
    expect(reply).toContain('"username":"élodie"');
  });

  test("a second keep-alive request still works", async () => {
    const first = `GET /api/info HTTP/1.1\r\nHost: localhost\r\n\r\n`;
    const second = `GET /livez HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`;
    const reply = await rawExchange(Buffer.from(first + second));
    expect(reply.match(/HTTP\/1\.1 200/g)?.length).toBe(2);
  });

  test("a garbage request line is still rejected", async () => {
    const reply = await rawExchange(Buffer.from("NONSENSE\r\n\r\n"));
    expect(reply.startsWith("HTTP/1.1 400")).toBe(true);
  });
});
