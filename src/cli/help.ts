/** @module Help text of the `jams` command. */

export const usage = `jams: an enterprise account server for Jami, compatible with JAMS.

Usage:
  jams serve [--host ADDR] [--port N] [--cert FILE] [--key FILE]
             [--key-passphrase-file FILE] [--data-dir DIR] [--config FILE]
             [--log-level LEVEL]
  jams PORT CERT KEY
  jams setup --admin-user NAME --admin-password-file FILE
             (--ca-generate [--ca-subject "CN=...,O=..."] | --ca-cert FILE --ca-key FILE
              [--ca-key-passphrase-file FILE])
             --auth local [--server-domain URL] [--device-lifetime DUR]
             [--user-lifetime DUR] [--crl-lifetime DUR] [--public-name-server]
             [--data-dir DIR]
  jams user add NAME --password-file FILE [--admin] [--data-dir DIR]
  jams --help | --version

Commands:
  serve        Serve the API over HTTPS (the default command).
  PORT CERT KEY
               The JAMS launcher's form: serve on PORT, on all addresses, with that PEM
               certificate chain and key.
  setup        Set the server up from the command line: first administrator, organisation CA,
               user source and server settings, in one transaction.
  user add     Create a local user. The password is read from a file ("-" reads stdin).

Serve options (defaults < --config file < JAMS_* environment < flags):
  --host ADDR                 Listen address (JAMS_HOST; default 127.0.0.1).
  --port N                    Listen port (JAMS_PORT; default 8443).
  --cert FILE                 PEM certificate chain, server certificate first (JAMS_CERT_FILE).
  --key FILE                  PEM private key: PKCS#8, PKCS#1 RSA, SEC1 EC or encrypted PKCS#8
                              (JAMS_KEY_FILE).
  --key-passphrase-file FILE  File holding the passphrase of an encrypted key
                              (JAMS_KEY_PASSPHRASE_FILE).
  --data-dir DIR              Database, CA and trial certificate (JAMS_DATA_DIR, else
                              $STATE_DIRECTORY, else ./data).
  --config FILE               JSON file with any of: host, port, certFile, keyFile,
                              keyPassphraseFile, dataDir, logLevel (JAMS_CONFIG).
  --log-level LEVEL           debug, info, warn or error (JAMS_LOG_LEVEL; default info).
  Without --cert and --key, serve creates a self-signed trial certificate for localhost in
  DATA_DIR/tls and logs its SHA-256 fingerprint. Clients must trust it explicitly.

Setup options:
  --ca-subject "CN=..,O=.."   Subject of a generated CA: CN, O, OU, L, ST, C (default
                              CN=Jami Organization CA).
  --server-domain URL         Public https:// base URL that clients use, for example
                              https://jams.example.org (used in the URLs sent to clients).
  --device-lifetime DUR       Device certificate lifetime, e.g. 365d (default 365d).
  --user-lifetime DUR         Account certificate lifetime (default 730d).
  --crl-lifetime DUR          CRL validity (default 1d).
  --public-name-server        Send clients the public Jami name server instead of this one.
  Durations: a number with a unit (30m, 12h, 90d, 1y) or milliseconds.

Exit status: 0 success, 1 failure, 2 usage error.

Examples:
  jams setup --data-dir /var/lib/jams --admin-user admin --admin-password-file pw.txt \\
       --ca-generate --ca-subject "CN=Example CA,O=Example" --auth local \\
       --server-domain https://jams.example.org
  jams user add alice --password-file alice.txt --data-dir /var/lib/jams
  jams serve --host 0.0.0.0 --port 443 --cert fullchain.pem --key privkey.pem \\
       --data-dir /var/lib/jams
`;
