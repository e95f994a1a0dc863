#!/usr/bin/env bash
# The emulator's scale goals (DESIGN.md §8): a full listing of a large organization, and
# creates per second from concurrent clients against a database that already holds it.
#
#   scripts/bench-emulator.sh [IDENTITIES] [CREATES] [CONCURRENCY]
#
# Defaults: 1000000 identities, 50000 creates, 8 concurrent clients. Builds the release
# binary and examples/bench_emulator.rs (honouring CARGO_TARGET_DIR), then:
#
# 1. seeds IDENTITIES identities into one organization of a fresh database file, straight
#    through the create route's code (no HTTP; `bench_emulator seed`, about 2.3 GB and two
#    to three minutes for a million),
# 2. starts `avnology-migrate emulator` on it and lists every identity of the organization
#    with `GET /v1/identities?page_size=100&filter=organization_id="…"`, following
#    next_page_token (`bench_emulator list`),
# 3. sends CREATES creates (Idempotency-Key, external_id, bcrypt password_hash, like
#    `apply`) from CONCURRENCY clients (`bench_emulator creates`) and prints creates per
#    second and the emulator's CPU time per create (all its threads, from /proc).
#
# Loopback only; stops by itself; the database lives in a temporary directory (under
# TMPDIR) that is removed at the end. Numbers are for BENCHMARKS.md, not for a test: the
# machine's other load moves them.
set -euo pipefail
cd "$(dirname "$0")/.."

identities=${1:-1000000}
creates=${2:-50000}
concurrency=${3:-8}

cargo build --release --locked --quiet --bin avnology-migrate --example bench_emulator
target=${CARGO_TARGET_DIR:-$PWD/target}
bin=$target/release/avnology-migrate
driver=$target/release/examples/bench_emulator
work=$(mktemp -d)
trap 'kill "${emu_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

echo "seeding $identities identities..."
org=$("$driver" seed "$work/emulator.db" "$identities")

key="ak_test_bench$(date +%s%N)"
"$bin" emulator --listen 127.0.0.1:0 --db "$work/emulator.db" --api-key "$key" \
  2> "$work/emulator.log" &
emu_pid=$!
for _ in $(seq 600); do
  grep -q "listening on" "$work/emulator.log" 2>/dev/null && break
  sleep 0.1
done
url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/emulator.log" | head -n1)
[ -n "$url" ] || { cat "$work/emulator.log" >&2; exit 1; }

cpu() { awk '{ print $14 + $15 }' "/proc/$emu_pid/stat"; }
ticks=$(getconf CLK_TCK)

"$driver" list "$url" "$key" "$org" 2> /dev/null

before=$(cpu)
"$driver" creates "$url" "$key" "$creates" "$concurrency"
after=$(cpu)
awk -v b="$before" -v a="$after" -v t="$ticks" -v n="$creates" 'BEGIN {
  printf "emulator CPU: %.1f s for %d creates = %.0f us per create (all threads)\n", (a - b) / t, n, 1e6 * (a - b) / t / n
}'
