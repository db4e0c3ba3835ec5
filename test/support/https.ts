/** @module A minimal HTTPS client for tests that need raw bytes (CRLs, OCSP) or admin JSON calls. */
import { request } from "node:https";

/** A reply with its raw body. */
export interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json(): any;
}

/** Sends one request, trusting `ca` for the server certificate. Never throws on HTTP errors. */
export function httpsRequest(
  url: string,
  ca: string,
  options: { method?: string; body?: Uint8Array | string; headers?: Record<string, string>; token?: string } = {},
): Promise<RawReply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { method: options.method ?? "GET", ca, headers }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
      incoming.on("end", () => {
        const body = Buffer.concat(chunks);
        resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body, json: () => JSON.parse(body.toString("utf8")) });
      });
      incoming.on("error", reject);
    });
    outgoing.on("error", reject);
    if (options.body !== undefined) outgoing.write(options.body);
    outgoing.end();
  });
}
