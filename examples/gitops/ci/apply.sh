#!/usr/bin/env bash
# Applies exactly the reviewed plan file, then verifies the tenant against the manifest.
#
#   ci/apply.sh [MANIFEST]
#
# The plan is ./plan.json, beside the manifest. In CI it comes from the reviewed plan run's
# artifact, downloaded to PLAN_DIR: that folder must hold plan.json and nothing else, and only
# plan.json is taken from it. JOURNAL_DIR, when set and not empty, is what an earlier attempt
# of this run left (plan.json.journal* and apply.ndjson): put beside the plan, the journal
# makes apply resume where that attempt stopped, and the log goes on.
#
# AVM       the avnology-migrate binary (default: avnology-migrate on PATH)
# AVNOLOGY_API_URL, AVNOLOGY_SECRET_KEY (in CI the write key, in the protected environment)
#
# Appends one NDJSON line per change to apply.ndjson (ids and outcomes, no secrets) and a
# short result to $GITHUB_STEP_SUMMARY when set. Exits 1 when apply refused the plan (a source
# or the manifest changed since the review, another tenant), when changes were stale (edited
# in the tenant since the plan) or failed, or when verify finds the tenant off the manifest.
set -euo pipefail

manifest=${1:-migration.toml}
avm=${AVM:-avnology-migrate}
plan=plan.json

summary() {
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    printf '%s\n\n' "$1" >>"$GITHUB_STEP_SUMMARY"
  fi
}
fail() {
  echo "::error title=avnology-migrate apply::$1" >&2
  summary "> [!CAUTION]
> $1"
  exit 1
}

if [ -n "${PLAN_DIR:-}" ]; then
  found=$(cd "$PLAN_DIR" 2>/dev/null && find . -mindepth 1 | sort | tr '\n' ' ') ||
    fail "no folder $PLAN_DIR: the reviewed plan was not downloaded"
  [ "$found" = "./plan.json " ] ||
    fail "the plan artifact must hold plan.json alone, not: $found"
  cp "$PLAN_DIR/plan.json" "$plan"
fi
[ -f "$plan" ] || fail "no plan file $plan: nothing reviewed to apply"

if [ -n "${JOURNAL_DIR:-}" ] && [ -d "$JOURNAL_DIR" ]; then
  for f in "$JOURNAL_DIR"/plan.json.journal "$JOURNAL_DIR"/plan.json.journal-wal \
    "$JOURNAL_DIR"/plan.json.journal-shm "$JOURNAL_DIR"/apply.ndjson; do
    if [ -f "$f" ]; then
      cp "$f" .
    fi
  done
fi
if [ -f "$plan.journal" ]; then
  echo "Resuming from $plan.journal, left by an earlier attempt."
fi

code=0
"$avm" apply "$plan" --log apply.ndjson --color never || code=$?
if [ "$code" != 0 ]; then
  fail "apply exited $code: the plan was refused, or some changes were stale or failed (see the log above and apply.ndjson). What was applied is kept and journaled. If the error was transient, re-run this job: it resumes from the journal. If the tenant or the sources moved since the review, make a new plan: push a commit that touches migration.toml in a pull request."
fi

"$avm" verify -m "$manifest" --color never ||
  fail "the plan was applied but verify finds the tenant off the manifest (see the log above): make a new plan in a pull request"

summary "**Applied** the reviewed plan and verified the tenant against \`$manifest\`."
