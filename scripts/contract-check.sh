#!/usr/bin/env bash
# The API contract as a gate: schemathesis runs every check in every phase (examples,
# coverage, fuzzing, stateful) against a seeded emulator, driven by
# schemas/avnology-admin.openapi.yaml, and this script fails on any failure.
#
#   scripts/contract-check.sh [MAX_EXAMPLES]
#
# - schemathesis is pinned (ST_VERSION below) and installed from the package registry into
#   a virtual environment under the cargo target directory (honouring CARGO_TARGET_DIR),
#   once; later runs reuse it.
# - The emulator is the debug binary that `cargo test` builds (built here only if it is
#   missing), on a free loopback port with a temporary SQLite database, with a random
#   admin key of its own.
# - Seeding: one organization and one identity. Their ids are the only values schemathesis
#   cannot invent (a body's `organization_id` and a service account's `owner_id` must name
#   live objects), so the generated config binds those body fields to them; every other
#   value comes from the OpenAPI file. `page_token` is opaque and bound to the listing it
#   came from: the generated phases send the first page (`page_token` empty), and the
#   stateful phase follows real `next_page_token` values through the file's `links`.
# - One check is off for one resource: use-after-free on the identity resource, whose
#   DELETE is a soft delete (see the generated config below).
# - MAX_EXAMPLES (default 50) is per operation and phase. With seed 11 on 2 cores the
#   schemathesis step takes about 75 s (about 3,200 requests; BENCHMARKS.md); the CI budget
#   for it is 5 minutes.
#
# Loopback only; the emulator is stopped and the temporary directory removed on exit.
# Reports (JUnit XML) land in $CONTRACT_REPORT_DIR (default: <target>/contract-report).
set -euo pipefail
cd "$(dirname "$0")/.."

ST_VERSION=4.32.5
max_examples=${1:-50}
target=${CARGO_TARGET_DIR:-$PWD/target}
bin=${AVNOLOGY_MIGRATE_BIN:-$target/debug/avnology-migrate}
venv=$target/schemathesis-venv
report_dir=${CONTRACT_REPORT_DIR:-$target/contract-report}

if [ ! -x "$bin" ]; then
  cargo build --locked --quiet --bin avnology-migrate
fi
if ! "$venv/bin/st" --version 2>/dev/null | grep -qF "$ST_VERSION"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION"
fi

work=$(mktemp -d)
emu_pid=
cleanup() {
  if [ -n "$emu_pid" ]; then
    kill "$emu_pid" 2>/dev/null || true
    wait "$emu_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

key="ak_test_contract$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
"$bin" emulator --listen 127.0.0.1:0 --db "$work/emulator.db" --api-key "$key" \
  2> "$work/emulator.log" &
emu_pid=$!
url=
for _ in $(seq 300); do
  url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/emulator.log" | head -n1)
  [ -n "$url" ] && break
  kill -0 "$emu_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "contract-check: the emulator did not start" >&2
  cat "$work/emulator.log" >&2
  exit 1
fi

# POST a JSON body with the admin key; prints the response body, fails on a non-2xx.
post() {
  curl -fsS -X POST "$url$1" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' --data "$2"
}
# The string value of "FIELD" in a JSON object on stdin (ids are plain ASCII).
json_field() {
  sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" | head -n1
}

org_id=$(post /v1/organizations '{"name":"contract-check","display_name":"Contract check"}' |
  json_field id)
owner_id=$(post /v1/identities \
  "{\"identity\":{\"email\":\"owner@contract-check.example\",\"organization_id\":\"$org_id\"}}" |
  json_field id)
[ -n "$org_id" ] && [ -n "$owner_id" ] || {
  echo "contract-check: seeding failed" >&2
  exit 1
}

cat > "$work/schemathesis.toml" <<EOF
# Every check (what \`--checks all\` selects; set here rather than on the command line, where
# it would override the one exception below).
[checks]
enabled = true

[dictionaries.organizations]
values = ["$org_id"]

[dictionaries.owners]
values = ["$owner_id"]

[parameters]
"query.page_token" = ""
"body.identity.organization_id" = { dictionary = "organizations" }
"body.organization_id" = { dictionary = "organizations" }
"body.client.organization_id" = { dictionary = "organizations" }
"body.owner_id" = { dictionary = "owners" }

# An identity's DELETE is a soft delete (documented): the identity stays readable by id in
# state \`scheduled_deletion\` for its grace period, and \`:reactivate\` restores it (AIP-164's
# soft delete; \`apply\` relies on both). schemathesis's use-after-free check expects a 404
# after any successful DELETE, so it is off for the identity resource only; OAuth clients
# and service accounts are deleted for good and keep the check.
[[operations]]
include-path-regex = "^/v1/identities/"
checks.use_after_free.enabled = false
EOF

mkdir -p "$report_dir"
started=$(date +%s)
status=0
"$venv/bin/st" --config-file "$work/schemathesis.toml" run \
  schemas/avnology-admin.openapi.yaml \
  --url "$url" \
  -H "Authorization: Bearer $key" \
  --phases examples,coverage,fuzzing,stateful \
  --seed 11 \
  --max-examples "$max_examples" \
  --workers 1 \
  --report junit --report-dir "$report_dir" \
  --generation-database none \
  --output-sanitize "${CONTRACT_SANITIZE:-true}" \
  --no-color || status=$?
echo "contract-check: schemathesis $ST_VERSION, seed 11, max-examples $max_examples:" \
  "$(($(date +%s) - started)) s, exit $status"
exit "$status"
