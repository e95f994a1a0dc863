#!/usr/bin/env bash
# Apply throughput against a rate-limited emulator.
#
#   scripts/bench-apply.sh RPS [USERS] [BURST]
#
# Builds the release binary, starts `avnology-migrate emulator --rate-limit RPS --burst BURST`
# on 127.0.0.1, generates USERS synthetic Auth0 users (default: 30 s worth at RPS), plans and
# applies them, and prints the sustained rate (identity creates per second over the whole
# apply) as a share of RPS, with the failure count. Each create is one request, so creates
# per second is requests per second. Loopback only; stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

rps=${1:?usage: scripts/bench-apply.sh RPS [USERS] [BURST]}
users=${2:-$((rps * 30))}
burst=${3:-$(( rps / 10 > 1 ? rps / 10 : 1 ))}

cargo build --release --locked --quiet
bin=${CARGO_TARGET_DIR:-$PWD/target}/release/avnology-migrate
work=$(mktemp -d)
trap 'kill "${emu_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

key="ak_test_bench$(date +%s%N)"
"$bin" emulator --listen 127.0.0.1:0 --db "$work/emulator.db" --api-key "$key" \
  --rate-limit "$rps" --burst "$burst" --log-requests 2> "$work/emulator.log" &
emu_pid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$work/emulator.log" 2>/dev/null && break
  sleep 0.1
done
url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/emulator.log" | head -n1)

awk -v n="$users" 'BEGIN { for (i = 0; i < n; i++) printf "{\"user_id\":\"auth0|bench-%07d\",\"email\":\"bench%07d@example.com\",\"email_verified\":true,\"given_name\":\"Bench\"}\n", i, i }' > "$work/users.ndjson"
cat > "$work/migration.toml" <<TOML
[target]
organization = "bench"
[[users]]
name = "bench"
provider = "auth0"
path = "users.ndjson"
TOML

cd "$work"
export AVNOLOGY_API_URL="$url" AVNOLOGY_SECRET_KEY="$key" NO_COLOR=1
"$bin" plan -m migration.toml --out plan.json > /dev/null
sleep 1.5 # let the plan's reads refill the bucket
before=$(wc -l < emulator.log)
start=$(date +%s.%N)
"$bin" apply plan.json --log apply.ndjson 2> apply.err || true
end=$(date +%s.%N)

created=$(grep -c '"kind":"identity".*"outcome":"\(applied\|already_applied\)"' apply.ndjson || true)
failed=$(grep -c '"outcome":"failed"' apply.ndjson || true)
in_db=$(python3 -c "import sqlite3,sys; print(sqlite3.connect('emulator.db').execute('select count(distinct external_id) from identities').fetchone()[0])")
awk -v c="$created" -v s="$start" -v e="$end" -v r="$rps" -v f="$failed" -v d="$in_db" -v u="$users" -v b="$burst" 'BEGIN {
  t = e - s; rate = c / t;
  printf "rate limit %d rps (burst %d): %d/%d users created in %.1f s = %.1f creates/s = %.1f%% of the limit; %d failed; %d distinct in the emulator\n", r, b, c, u, t, rate, 100 * rate / r, f, d
}'
grep -o '[0-9]* retries' apply.err | tail -n1 | sed 's/^/client retries: /'
tail -n +$((before + 1)) emulator.log > apply-requests.log
requests=$(grep -c ' /v1/' apply-requests.log || true)
throttled=$(grep -c ' 429 ' apply-requests.log || true)
awk -v r="$requests" -v t="$throttled" 'BEGIN { printf "429s: %d of %d requests = %.2f%%\n", t, r, 100 * t / r }'
# Sustained rate: creates per second after the first 10 s (ramp-up excluded), from the
# NDJSON log's timestamps.
python3 - "$rps" <<'PY'
import json, sys, datetime
rps = float(sys.argv[1])
times = sorted(datetime.datetime.fromisoformat(json.loads(l)["time"].replace("Z", "+00:00")).timestamp()
               for l in open("apply.ndjson") if '"kind":"identity"' in l)
if len(times) > 2:
    start = times[0] + 10
    steady = [t for t in times if t >= start]
    if len(steady) > 1 and steady[-1] > steady[0]:
        rate = (len(steady) - 1) / (steady[-1] - steady[0])
        print(f"sustained after the first 10 s: {rate:.1f} creates/s = {100 * rate / rps:.1f}% of the limit")
PY
