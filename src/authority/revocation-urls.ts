/**
 * @module The CRL and OCSP URLs put in issued certificates, built from the configured public
 * base URL. Without one there is no address clients could reach, so certificates carry none.
 */
import type { InstallSettings } from "../config/install-settings.ts";
import type { RevocationUrls } from "../pki/certificates.ts";

/** Issuer id of the organisation CA in CRL paths; accounts use their 40-hex account id. */
export const caIssuerId = "ca";

/** Returns the URLs for certificates issued by `issuerId` ("ca" or an account id). */
export function revocationUrlsFor(settings: InstallSettings, issuerId: string): RevocationUrls | undefined {
  if (!settings.serverDomain) return undefined;
  const crlPath = issuerId === caIssuerId ? "/api/crl/ca.crl" : `/api/crl/account/${issuerId}.crl`;
  return { crl: `${settings.serverDomain}${crlPath}`, ocsp: `${settings.serverDomain}/api/ocsp` };
}
