/**
 * @module The one import point for @peculiar/x509, which needs reflect-metadata loaded first and
 * a WebCrypto provider set.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };
