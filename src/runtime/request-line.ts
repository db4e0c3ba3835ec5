/**
 * @module Repairs the request line of a connection's first request. The Jami daemon appends
 * its directory search text to the URL without percent-encoding it, so a search for
 * "jean luc" or "élodie" arrives as `GET /api/auth/directory/search?queryString=jean luc
 * HTTP/1.1`, which HTTP parsers reject. The daemon opens one connection per request, so
 * repairing the first request line of each connection is enough.
 */

const wellFormed = /^[!-~]+ [!-~]+ HTTP\/\d\.\d$/;
const version = /^HTTP\/\d\.\d$/;

/**
 * Returns the request line with spaces, control bytes and non-ASCII bytes inside the request
 * target percent-encoded. A line that is already well formed, or is no request line at all,
 * comes back unchanged.
 */
export function repairRequestLine(line: Buffer): Buffer {
  const text = line.toString("latin1");
  if (wellFormed.test(text)) return line;
  const first = line.indexOf(0x20);
  const last = line.lastIndexOf(0x20);
  if (first <= 0 || last <= first || !version.test(text.slice(last + 1))) return line;
  const target = line.subarray(first + 1, last);
  let encoded = "";
  for (const byte of target) {
    encoded += byte <= 0x20 || byte >= 0x7f ? `%${byte.toString(16).toUpperCase().padStart(2, "0")}` : String.fromCharCode(byte);
  }
  return Buffer.concat([line.subarray(0, first + 1), Buffer.from(encoded, "latin1"), line.subarray(last)]);
}
