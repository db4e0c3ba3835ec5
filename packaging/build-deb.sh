#!/usr/bin/env bash
# Builds dist/jams_<version>_amd64.deb from an already built dist/jams with dpkg-deb. It
# installs /usr/bin/jams, /lib/systemd/system/jams.service and /usr/share/doc/jams, with the
# maintainer scripts in packaging/debian/. Needs dpkg-dev (dpkg-shlibdeps) and node.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)

usage() {
  cat <<'USAGE'
Usage: packaging/build-deb.sh [--binary FILE] [--version VERSION] [--out DIR] [--compression gzip|xz|zstd]

  --binary FILE        The built executable (default dist/jams; build it with `bun packaging/build.ts`).
  --version VERSION    Debian package version (default: "version" in package.json). It must start
                       with the version the binary reports, so a stale binary is not packaged.
  --out DIR            Where the .deb is written (default dist).
  --compression NAME   dpkg-deb compressor (default gzip: about 6 s for the 120 MB binary on
                       2 cores, where xz takes over a minute; dpkg before 1.21.18 cannot read zstd).
USAGE
}

binary=$root/dist/jams
version=
out=$root/dist
compression=gzip
while [ $# -gt 0 ]; do
  case $1 in
    --binary) binary=${2:?--binary needs a file}; shift 2 ;;
    --version) version=${2:?--version needs a value}; shift 2 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --compression) compression=${2:?--compression needs a name}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "build-deb.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

fail() {
  echo "build-deb.sh: $*" >&2
  exit 1
}

case $compression in
  gzip | xz | zstd) ;;
  *) fail "invalid --compression $compression: use gzip, xz or zstd" ;;
esac
for tool in dpkg-deb dpkg-shlibdeps node; do
  command -v "$tool" >/dev/null || fail "$tool is missing: apt-get install dpkg-dev nodejs"
done
[ -x "$binary" ] || fail "$binary is missing or not executable: build it first with \`bun packaging/build.ts\`"

[ -n "$version" ] || version=$(node -p 'require(process.argv[1]).version' "$root/package.json")
# Debian upstream version characters, without an epoch, because the file name leaves it out.
[[ $version =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || fail "invalid Debian version \"$version\": use digits, letters and . + ~ -, starting with a digit"

reported=$("$binary" --version) || fail "$binary --version failed"
binary_version=$(printf '%s\n' "$reported" | awk '{ print $2 }')
case $version in
  "$binary_version" | "$binary_version"[+~-]*) ;;
  *) fail "package version $version does not match the binary ($reported): rebuild dist/jams or pass --version" ;;
esac

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
package=$stage/jams

install -D -m 0755 "$binary" "$package/usr/bin/jams"
install -D -m 0644 "$root/systemd/jams.service" "$package/lib/systemd/system/jams.service"
install -D -m 0644 "$root/README.md" "$package/usr/share/doc/jams/README.md"
install -D -m 0644 "$root/packaging/copyright" "$package/usr/share/doc/jams/copyright"
install -d -m 0755 "$package/DEBIAN"
for script in postinst prerm postrm; do
  install -m 0755 "$root/packaging/debian/$script" "$package/DEBIAN/$script"
done

# dpkg-shlibdeps reads debian/control in its working directory and maps each ELF NEEDED
# library to its package and minimum version (libc6 only, for a Bun executable).
mkdir -p "$stage/src/debian"
printf 'Source: jams\n\nPackage: jams\nArchitecture: amd64\n' >"$stage/src/debian/control"
shlibs=$(cd "$stage/src" && dpkg-shlibdeps -O "$package/usr/bin/jams" 2>/dev/null) || fail "dpkg-shlibdeps failed on $binary"
depends=${shlibs#shlibs:Depends=}
[ -n "$depends" ] || fail "dpkg-shlibdeps found no dependency for $binary"

maintainer=${DEBFULLNAME:-$(git -C "$root" config user.name || true)}
email=${DEBEMAIL:-$(git -C "$root" config user.email || true)}
[ -n "$maintainer" ] && [ -n "$email" ] || fail "no maintainer: set DEBFULLNAME and DEBEMAIL"
installed_size=$(du -sk --exclude=DEBIAN "$package" | cut -f1)

cat >"$package/DEBIAN/control" <<CONTROL
Package: jams
Version: $version
Architecture: amd64
Maintainer: $maintainer <$email>
Installed-Size: $installed_size
Depends: $depends
Recommends: dhtnode, coturn
Section: net
Priority: optional
Description: enterprise account server for Jami, compatible with JAMS
 jams enrolls Jami devices with an organisation's users and credentials (local,
 LDAP or Active Directory), signs their certificates with the organisation CA,
 serves device login, revocation (CRL and OCSP) and a name server, and can run a
 private DHT bootstrap node (dhtnode) and a TURN server (coturn) for air-gapped
 sites. It is one executable with a hardened systemd unit.
CONTROL

(cd "$package" && find usr lib -type f -print0 | sort -z | xargs -0 md5sum) >"$package/DEBIAN/md5sums"

mkdir -p "$out"
deb=$out/jams_${version}_amd64.deb
dpkg-deb --root-owner-group -Z"$compression" --build "$package" "$deb" >/dev/null
echo "built $deb ($(du -h "$deb" | cut -f1), Depends: $depends)"
