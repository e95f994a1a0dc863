#!/usr/bin/env bash
# The cutover rehearsal, Day 0 to cutover day, against a local Avnology emulator: the walk
# README.md shows, run as it is written (tests/it/cutover.rs runs this script too).
#
#   examples/cutover/walk.sh            # uses `cargo run --release`
#   AVM=path/to/avnology-migrate examples/cutover/walk.sh
#
# Nothing is written beside this file: the example is copied to a temporary folder, and the
# emulator keeps its SQLite database there.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -z "${AVM:-}" ]; then
  cargo build --release --locked --quiet --manifest-path "$HERE/../../Cargo.toml"
  AVM="$HERE/../../target/release/avnology-migrate"
fi
WORK=$(mktemp -d)
cp -r "$HERE"/day0 "$HERE"/cutover "$HERE"/*.toml "$HERE"/logins.csv "$WORK"/
cd "$WORK"

KEY=ak_test_cutover_$RANDOM$RANDOM
"$AVM" emulator --listen 127.0.0.1:0 --db sandbox.db --api-key "$KEY" 2>emulator.log &
EMULATOR=$!
trap 'kill $EMULATOR 2>/dev/null || true; rm -rf "$WORK"' EXIT
URL=
for _ in $(seq 100); do
  URL=$(grep -o 'http://127.0.0.1:[0-9]*' emulator.log | head -1 || true)
  [ -n "$URL" ] && break
  sleep 0.1
done
[ -n "$URL" ] || { echo "the emulator did not start" >&2; exit 1; }
export AVNOLOGY_API_URL=$URL AVNOLOGY_SECRET_KEY=$KEY NO_COLOR=1

step() {
  echo
  echo "\$ avnology-migrate $*"
  "$AVM" "$@" 2>&1
}

echo "== Day 0: import into the side-by-side tenant, check a few logins"
step validate -m day0.toml
step apply -m day0.toml --auto-approve
step verify -m day0.toml --logins day0/logins.csv --sample 2 --seed 7

echo
echo "== Days 1 to 7: dual-write; two people sign up, on Auth0 and on Avnology"
ORG=$(curl -fsS -H "authorization: Bearer $KEY" "$URL/v1/organizations" | grep -o '"id":"org_[^"]*"' | head -1 | cut -d'"' -f4)
for who in parker:Parker:demo quinn:Quinn:specimen; do
  IFS=: read -r name first last <<<"$who"
  echo "\$ curl -X POST \$AVNOLOGY_API_URL/v1/identities   # $name.$last@example.com signs up"
  curl -fsS -o /dev/null -w '%{http_code}\n' -X POST "$URL/v1/identities" \
    -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
    -d "{\"identity\":{\"email\":\"$name.$last@example.com\",\"email_verified\":true,\"first_name\":\"$first\",\"organization_id\":\"$ORG\"},\"initial_password\":\"$name-Sandbox-2024!\"}"
done

echo
echo "== Cutover day: the final sync from a fresh export"
step plan -m cutover.toml --out cutover-plan.json
step apply cutover-plan.json
step plan -m cutover.toml --detailed-exitcode
step verify -m cutover.toml --logins logins.csv --sample 4 --seed 7
