#!/usr/bin/env bash
# Installs the Debian packages the tests drive for real, if any is missing: jamid (the Jami
# client), dbus-daemon, busctl (systemd), dhtnode, coturn (turnserver, turnutils_uclient),
# python3-opendht (a DHT test client) and iproute2 (network namespaces). The directory tests
# add slapd and ldap-utils (OpenLDAP) and samba-ad-dc with samba-ad-provision (an Active
# Directory domain controller). The admin UI tests add chromium and fonts-dejavu-core.
# The package test adds dpkg-dev (dpkg-shlibdeps) to build the .deb.
# Needs root (or sudo) and apt.
set -euo pipefail

packages=(jami-daemon dbus systemd dhtnode coturn python3-opendht iproute2 procps openssl ca-certificates slapd ldap-utils samba-ad-dc samba-ad-provision samba chromium fonts-dejavu-core dpkg-dev)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
# Debian may start a system slapd on install. The tests run their own slapd on free ports, and
# Samba AD needs ports 389 and 636, so a system instance is stopped whenever this script runs.
stop_system_slapd() {
  if [ "$(id -u)" -eq 0 ]; then service slapd stop >/dev/null 2>&1 || true; fi
}
if [ ${#missing[@]} -eq 0 ]; then
  stop_system_slapd
  exit 0
fi

echo "installing Debian packages for the tests: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null; then
  sudo=(sudo)
else
  echo "not root and no sudo: install them with: apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
"${sudo[@]}" service slapd stop >/dev/null 2>&1 || true
