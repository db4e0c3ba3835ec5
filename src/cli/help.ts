/** @module Help text of the `jams` command. */

export const usage = `jams: an enterprise account server for Jami, compatible with JAMS.

Usage:
  jams serve [--host ADDR] [--port N] [--cert FILE] [--key FILE]
             [--key-passphrase-file FILE] [--data-dir DIR] [--config FILE]
             [--log-level LEVEL] [--public-host HOST]
             [--dht [--dht-port N] [--dht-network-id N] ...]
             [--turn [--turn-port N] [--turn-realm REALM] ...]
  jams PORT CERT KEY
  jams setup --admin-user NAME --admin-password-file FILE
             (--ca-generate [--ca-subject "CN=...,O=..."] | --ca-cert FILE --ca-key FILE
              [--ca-key-passphrase-file FILE])
             --auth local|ldap|ad [LDAP or AD options] [--server-domain URL]
             [--device-lifetime DUR]
             [--user-lifetime DUR] [--crl-lifetime DUR] [--public-name-server]
             [--data-dir DIR]
  jams user add NAME --password-file FILE [--admin] [--data-dir DIR]
  jams backup --out FILE [--passphrase-file FILE] [--data-dir DIR]
  jams restore --in FILE [--passphrase-file FILE] [--data-dir DIR]
  jams --help | --version

Commands:
  serve        Serve the API over HTTPS (the default command).
  PORT CERT KEY
               The JAMS launcher's form: serve on PORT, on all addresses, with that PEM
               certificate chain and key.
  setup        Set the server up from the command line: first administrator, organisation CA,
               user source and server settings, in one transaction.
  user add     Create a local user. The password is read from a file ("-" reads stdin).
  backup       Write a consistent snapshot of the database (users, CA and account keys,
               devices, settings) while the server runs. With --passphrase-file it is
               encrypted (AES-256-GCM, scrypt); without, it is a 0600 SQLite file that holds
               private keys in the clear.
  restore      Put a backup into an empty data directory; serve it with the same
               --server-domain and devices keep working.

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
                              keyPassphraseFile, dataDir, logLevel, and the settings below
                              in camelCase (publicHost, dhtEnabled, turnRealm, ...; lists as
                              JSON arrays) (JAMS_CONFIG).
  --log-level LEVEL           debug, info, warn or error (JAMS_LOG_LEVEL; default info).
  Without --cert and --key, serve creates a self-signed trial certificate for localhost in
  DATA_DIR/tls and logs its SHA-256 fingerprint. Clients must trust it explicitly.

DHT bootstrap node and TURN server (serve options; both off unless enabled):
  --public-host HOST          Host name or IP address devices use to reach this machine's DHT
                              node and TURN server (JAMS_PUBLIC_HOST). Without it, devices are
                              not told about either.
  --dht                       Run and supervise an OpenDHT bootstrap node (JAMS_DHT_ENABLED).
  --dht-binary PATH           dhtnode binary (JAMS_DHT_BINARY; default dhtnode on PATH).
  --dht-port N                UDP port of the node (JAMS_DHT_PORT; default 4222).
  --dht-network-id N          OpenDHT network id (JAMS_DHT_NETWORK_ID; default 0). Jami
                              clients (jamid 13.7) only join network 0.
  --dht-extra-args="ARGS"     More dhtnode arguments, split on spaces (JAMS_DHT_EXTRA_ARGS).
  --turn                      Run and supervise a coturn TURN server (JAMS_TURN_ENABLED).
  --turn-binary PATH          turnserver binary (JAMS_TURN_BINARY; default turnserver on PATH).
  --turn-listen-address ADDR  Address coturn listens and relays on (JAMS_TURN_LISTEN_ADDRESS;
                              default 0.0.0.0, all).
  --turn-port N               STUN/TURN port, UDP and TCP (JAMS_TURN_PORT; default 3478).
  --turn-realm REALM          TURN realm (JAMS_TURN_REALM; default jams).
  --turn-relay-port-min N     Relay port range, UDP (JAMS_TURN_RELAY_PORT_MIN/MAX; default
  --turn-relay-port-max N     49160-49200).
  --turn-secret-file FILE     Shared secret for device credentials (JAMS_TURN_SECRET_FILE;
                              default $CREDENTIALS_DIRECTORY/turn-secret, else
                              DATA_DIR/turn/secret, generated).
  --turn-allowed-peer-ips LIST
                              Peer addresses or ranges relaying may reach, comma-separated
                              (JAMS_TURN_ALLOWED_PEER_IPS).
  --turn-extra-args="ARGS"    More turnserver arguments (JAMS_TURN_EXTRA_ARGS).
  --turn-credential-lifetime-seconds N
                              Lifetime of each device's TURN credentials
                              (JAMS_TURN_CREDENTIAL_LIFETIME_SECONDS; default 86400).

Setup options:
  --ca-subject "CN=..,O=.."   Subject of a generated CA: CN, O, OU, L, ST, C (default
                              CN=Jami Organization CA).
  --server-domain URL         Public https:// base URL that clients use, for example
                              https://jams.example.org (used in the URLs sent to clients).
  --device-lifetime DUR       Device certificate lifetime, e.g. 365d (default 365d).
  --user-lifetime DUR         Account certificate lifetime (default 730d).
  --crl-lifetime DUR          CRL validity (default 1d).
  --public-name-server        Send clients the public Jami name server instead of this one.
  --auth SOURCE               Where users log in: local (this server's database), ldap or ad.
                              Administrators created here always log in locally.
  Durations: a number with a unit (30m, 12h, 90d, 1y) or milliseconds.

LDAP options (--auth ldap):
  --ldap-url URL              ldap://host[:port] or ldaps://host[:port] (default ports 389, 636).
  --ldap-port N               Port, when the URL has none.
  --ldap-start-tls            Upgrade ldap:// with StartTLS before binding.
  --ldap-bind-dn DN           The read-only lookup account, e.g. cn=jams,ou=services,dc=example,dc=org.
  --ldap-bind-password-file FILE
                              Its password (or JAMS_LDAP_BIND_PASSWORD); never on the command line.
  --ldap-base-dn DN           Where users are searched, e.g. ou=people,dc=example,dc=org.
  --ldap-login-attribute NAME The attribute users log in with (default uid).
  --ldap-user-filter FILTER   Entries that are users (default (objectClass=inetOrgPerson)).
  --ldap-group-base-dn DN     Search groups (member/uniqueMember) here instead of reading memberOf.
  --ldap-ca-file FILE         PEM CA bundle that issued the directory's certificate.
  --ldap-unsafe-skip-certificate-check
                              UNSAFE: accept any directory certificate. For tests only.

Active Directory options (--auth ad):
  --ad-host HOST              Domain controller host name or IP address.
  --ad-port N                 Port (default 636 with LDAPS, 389 with StartTLS).
  --ad-ssl / --ad-start-tls   LDAPS (the default) or StartTLS on port 389.
  --ad-domain NAME            Legacy domain name, e.g. CORP: users may log in as CORP\\user.
  --ad-base-dn DN             Where users are searched, e.g. CN=Users,DC=corp,DC=example,DC=org.
  --ad-bind-user NAME         The lookup account: CORP\\svc-jams, svc-jams@corp.example.org or a DN.
  --ad-bind-password-file FILE
                              Its password (or JAMS_AD_BIND_PASSWORD).
  --ad-user-filter FILTER     Default (&(objectCategory=person)(objectClass=user)).
  --ad-ca-file FILE           PEM CA bundle that issued the domain controller's certificate.
  --ad-unsafe-skip-certificate-check
                              UNSAFE: accept any certificate. For tests only.

Exit status: 0 success, 1 failure, 2 usage error.

Examples:
  jams setup --data-dir /var/lib/jams --admin-user admin --admin-password-file pw.txt \\
       --ca-generate --ca-subject "CN=Example CA,O=Example" --auth local \\
       --server-domain https://jams.example.org
  jams user add alice --password-file alice.txt --data-dir /var/lib/jams
  jams serve --host 0.0.0.0 --port 443 --cert fullchain.pem --key privkey.pem \\
       --data-dir /var/lib/jams
`;
