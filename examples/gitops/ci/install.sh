#!/usr/bin/env bash
# Installs the pinned release of avnology-migrate: downloads the Linux x86_64 archive and its
# .sha256 from the release, checks the archive's SHA-256 before extracting anything, checks
# that the binary reports the pinned version, and puts it on the PATH of the job's later steps.
#
#   AVNOLOGY_MIGRATE_VERSION=0.1.0 ci/install.sh [DEST]
#
# AVNOLOGY_MIGRATE_VERSION  the release to install (required; plan and apply pin the same one)
# AVNOLOGY_MIGRATE_SHA256   optional: the archive's SHA-256 as you recorded it once; when set,
#                           the archive must match it too (a re-uploaded asset is refused)
# AVNOLOGY_MIGRATE_RELEASES optional: where the releases are (default: the project's GitHub
#                           releases; a file:// URL works for a local mirror)
# DEST                      install folder (default: $RUNNER_TEMP/avnology-migrate-VERSION);
#                           the binary goes to DEST/bin, which is added to $GITHUB_PATH when set
set -euo pipefail

version=${AVNOLOGY_MIGRATE_VERSION:?set AVNOLOGY_MIGRATE_VERSION to the release to install, e.g. 0.1.0}
version=${version#v}
releases=${AVNOLOGY_MIGRATE_RELEASES:-https://github.com/avnology/avnology-migrate/releases/download}
dest=${1:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/avnology-migrate-$version}
archive=avnology-migrate-x86_64-unknown-linux-gnu.tar.xz
url=$releases/v$version/$archive

fail() {
  echo "::error title=install avnology-migrate::$*" >&2
  exit 1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {
  curl --fail --silent --show-error --location --proto '=https,file' --retry 3 \
    --output "$2" "$1" || fail "cannot download $1"
}
fetch "$url" "$work/$archive"
fetch "$url.sha256" "$work/$archive.sha256"

# The .sha256 beside the archive is `<digest>  <file name>` (or `<digest> *<file name>`).
published=$(awk 'NR == 1 { print tolower($1) }' "$work/$archive.sha256")
[[ $published =~ ^[0-9a-f]{64}$ ]] || fail "$url.sha256 holds no SHA-256 digest"
actual=$(sha256sum "$work/$archive" | awk '{ print $1 }')
[ "$actual" = "$published" ] ||
  fail "$archive has SHA-256 $actual but the release's .sha256 says $published: refusing to install it"
if [ -n "${AVNOLOGY_MIGRATE_SHA256:-}" ]; then
  pinned=$(printf '%s' "$AVNOLOGY_MIGRATE_SHA256" | tr '[:upper:]' '[:lower:]')
  [ "$actual" = "$pinned" ] ||
    fail "$archive has SHA-256 $actual but AVNOLOGY_MIGRATE_SHA256 pins $pinned: refusing to install it"
fi

mkdir "$work/x"
tar -xJf "$work/$archive" -C "$work/x"
binary=$(find "$work/x" -type f -name avnology-migrate | head -n 1)
[ -n "$binary" ] || fail "$archive holds no avnology-migrate binary"

chmod 0755 "$binary"
reported=$("$binary" --version) || fail "the binary in $archive does not run"
[ "$reported" = "avnology-migrate $version" ] ||
  fail "the binary in $archive says \"$reported\", not avnology-migrate $version"

mkdir -p "$dest/bin"
install -m 0755 "$binary" "$dest/bin/avnology-migrate"

if [ -n "${GITHUB_PATH:-}" ]; then
  echo "$dest/bin" >>"$GITHUB_PATH"
fi
echo "Installed $reported (archive SHA-256 $actual) in $dest/bin"
