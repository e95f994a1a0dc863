#!/usr/bin/env bash
# Brings the provider exports into exports/ (git-ignored) and checks them against the pins in
# the manifest, offline, before anything talks to the tenant.
#
#   ci/fetch-exports.sh SOURCE [MANIFEST]
#
# SOURCE    s3://bucket/prefix (copied with `aws s3 sync`, using the credentials in the
#           environment: in CI, short-lived ones from OIDC) or a local folder (a rehearsal)
# MANIFEST  default migration.toml
# AVM       the avnology-migrate binary (default: avnology-migrate on PATH)
#
# Then `validate` refuses any file whose SHA-256 is not the one the manifest pins (naming the
# file and both digests), and `pin --check` refuses a source file without a pin: an export
# reaches a plan only as the exact bytes a reviewed manifest names.
set -euo pipefail

source=${1:?usage: ci/fetch-exports.sh s3://bucket/prefix|FOLDER [MANIFEST]}
manifest=${2:-migration.toml}
avm=${AVM:-avnology-migrate}
dest=exports

fail() {
  echo "::error title=avnology-migrate exports::$*" >&2
  exit 1
}

mkdir -p "$dest"
case $source in
  s3://*)
    aws s3 sync --no-progress --only-show-errors "$source" "$dest" ||
      fail "cannot copy the exports from $source"
    ;;
  *://*)
    fail "unsupported export source $source: use s3://bucket/prefix or a local folder"
    ;;
  *)
    [ -d "$source" ] || fail "no folder $source"
    cp -R "$source"/. "$dest"/
    ;;
esac

echo "Exports in $dest/:"
(cd "$dest" && find . -type f | sort | sed 's|^\./|  |')

"$avm" validate -m "$manifest" --color never ||
  fail "validate refused the exports (a pin mismatch names the file and both digests above)"

code=0
"$avm" pin --check -m "$manifest" --color never || code=$?
case $code in
  0) ;;
  2) fail "every source file must be pinned: run \`avnology-migrate pin -m $manifest\` on the new exports and commit the manifest" ;;
  *) fail "pin --check failed (exit $code)" ;;
esac
