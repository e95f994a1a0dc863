#!/usr/bin/env bash
# Measures every step of a migration of N synthetic Auth0 users (with the bcrypt password
# export) against a local emulator: time and peak memory (/usr/bin/time -v) of validate, the
# first plan, apply, a no-op plan and a plan after 5% of the users changed, beside a bare
# serde_json parse of the same files measured in the same run.
#
#   scripts/bench-scale.sh N [WORKDIR]        # e.g. scripts/bench-scale.sh 1000000
#
# SKIP_APPLY=1 stops after the first plan (for sizes too large to apply here). A benchmark,
# not a test: it prints numbers and never fails on a slow machine. BENCHMARKS.md records them.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:?usage: scripts/bench-scale.sh N [WORKDIR]}
WORK=${2:-target/bench-scale/$N}
rm -rf "$WORK"
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

cargo build --release --locked --quiet --bin avnology-migrate --example bare_parse
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
BIN=$TARGET/release/avnology-migrate
BARE=$TARGET/release/examples/bare_parse

KEY=ak_test_bench_$RANDOM$RANDOM
"$BIN" emulator --listen 127.0.0.1:0 --db "$WORK/emulator.db" --api-key "$KEY" \
  2>"$WORK/emulator.log" &
EMU=$!
trap 'kill $EMU 2>/dev/null || true' EXIT
URL=
for _ in $(seq 100); do
  URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/emulator.log" | head -1 || true)
  [ -n "$URL" ] && break
  sleep 0.1
done
[ -n "$URL" ] || { echo "the emulator did not start" >&2; exit 1; }
export AVNOLOGY_SECRET_KEY=$KEY

echo "generating $N users…" >&2
python3 scripts/gen-auth0-users.py "$N" "$WORK/export" --url "$URL"
python3 scripts/gen-auth0-users.py "$N" "$WORK/changed" --url "$URL" --changed-fraction 0.05
SIZE=$(du -cb "$WORK/export/auth0_users.ndjson" "$WORK/export/auth0_passwords.ndjson" | tail -1 | cut -f1)

ROWS=()
# measure NAME COMMAND...: runs it under /usr/bin/time -v, records elapsed seconds and peak RSS.
measure() {
  local name=$1
  shift
  echo "== $name" >&2
  local status=0
  /usr/bin/time -v -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || status=$?
  local wall rss secs
  wall=$(grep 'Elapsed (wall clock)' "$WORK/$name.time" | awk '{print $NF}')
  rss=$(grep 'Maximum resident set size' "$WORK/$name.time" | awk '{print $NF}')
  secs=$(echo "$wall" | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
  ROWS+=("$(printf '| %s | %.1f s | %d MiB | %s |' "$name" "$secs" $((rss / 1024)) "exit $status")")
  eval "SECS_${name//-/_}=$secs"
}

measure bare-parse "$BARE" "$WORK/export/auth0_users.ndjson" "$WORK/export/auth0_passwords.ndjson"
measure readers "$BARE" --reader "$WORK/export/migration.toml"
measure validate "$BIN" validate -m "$WORK/export/migration.toml"
measure first-plan "$BIN" plan -m "$WORK/export/migration.toml" --out "$WORK/plan.json"
PLAN_BYTES=$(stat -c %s "$WORK/plan.json")
CREATES=$(tail -2 "$WORK/plan.json" | head -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["footer"]["summary"]["create"])')

if [ "${SKIP_APPLY:-0}" != 1 ]; then
  START=$(date +%s.%N)
  measure apply "$BIN" apply "$WORK/plan.json" --log "$WORK/apply.ndjson"
  FIRST=$(head -1 "$WORK/apply.ndjson" | python3 -c 'import json,sys,datetime; t=json.load(sys.stdin)["time"]; print(datetime.datetime.fromisoformat(t.replace("Z","+00:00")).timestamp())')
  FIRST_AFTER=$(echo "$FIRST $START" | awk '{printf "%.1f", $1 - $2}')
  APPLIED=$(grep -c '"outcome":"applied"' "$WORK/apply.ndjson" || true)
  measure noop-plan "$BIN" plan -m "$WORK/export/migration.toml" --detailed-exitcode
  measure changed-plan "$BIN" plan -m "$WORK/changed/migration.toml" --out "$WORK/changed-plan.json"
  UPDATES=$(tail -2 "$WORK/changed-plan.json" | head -1 | python3 -c 'import json,sys; s=json.load(sys.stdin)["footer"]["summary"]; print(s["update"], "updates,", s["create"], "creates,", s["no_op"], "unchanged")')
fi

echo
echo "N = $N users; export $((SIZE / 1024 / 1024)) MiB (users + passwords)"
echo
echo "| step | time | peak RSS | status |"
echo "|---|---:|---:|---|"
printf '%s\n' "${ROWS[@]}"
echo
awk -v v="$SECS_validate" -v b="$SECS_bare_parse" 'BEGIN { if (b > 0) printf "validate / bare parse = %.2f\n", v / b }'
echo "plan file: $PLAN_BYTES bytes for $CREATES creates = $((PLAN_BYTES / (CREATES > 0 ? CREATES : 1))) bytes per create"
if [ "${SKIP_APPLY:-0}" != 1 ]; then
  awk -v n="$APPLIED" -v s="$SECS_apply" 'BEGIN { printf "apply: %d applied, %.0f changes/s overall\n", n, n / s }'
  echo "apply: first change finished ${FIRST_AFTER} s after the command started"
  echo "no-op plan: $(head -c 300 "$WORK/noop-plan.out" | head -1)"
  echo "5%-changed plan: $UPDATES"
fi
