#!/usr/bin/env bash
# Builds dist/jams-<version>-linux-x64.tar.gz from an already built dist/jams, for machines
# without dpkg: the binary, the systemd unit, README.md and the copyright file, in one
# top-level directory jams-<version>-linux-x64/.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
binary=${1:-$root/dist/jams}
out=${2:-$root/dist}

fail() {
  echo "build-tarball.sh: $*" >&2
  exit 1
}

[ -x "$binary" ] || fail "$binary is missing or not executable: build it first with \`bun packaging/build.ts\`"
version=$(node -p 'require(process.argv[1]).version' "$root/package.json")
reported=$("$binary" --version) || fail "$binary --version failed"
[ "$(printf '%s\n' "$reported" | awk '{ print $2 }')" = "$version" ] ||
  fail "the binary reports \"$reported\" but package.json has $version: rebuild dist/jams"

name=jams-$version-linux-x64
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -D -m 0755 "$binary" "$stage/$name/jams"
install -D -m 0644 "$root/systemd/jams.service" "$stage/$name/jams.service"
install -m 0644 "$root/README.md" "$stage/$name/README.md"
install -m 0644 "$root/packaging/copyright" "$stage/$name/copyright"

mkdir -p "$out"
tarball=$out/$name.tar.gz
tar -C "$stage" --owner=0 --group=0 --numeric-owner --sort=name -czf "$tarball" "$name"
echo "built $tarball ($(du -h "$tarball" | cut -f1))"
