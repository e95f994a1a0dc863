#!/usr/bin/env bash
# Plans the manifest against the live tenant and prepares what reviewers read.
#
#   ci/plan.sh [MANIFEST]
#
# Writes, in the current folder:
#   plan.json   the plan file: the artifact that the apply job runs on merge
#   plan.md     the Markdown plan (`show plan.json --format markdown`; emails and names masked)
#   plan.txt    the text plan (unmasked: it stays on the runner)
#   comment.md  the sticky pull-request comment: a marker line, then the plan (or, when the
#               plan failed, a notice), cut at COMMENT_MAX_BYTES on a line boundary
# and appends `changes=true|false` to $GITHUB_OUTPUT and the plan to $GITHUB_STEP_SUMMARY
# when those are set (as in GitHub Actions).
#
# Exit codes of `plan --detailed-exitcode`: 0 no changes and 2 changes succeed here; 1 (an
# error) and anything else fail this script, and comment.md then says the plan failed.
#
# Environment: AVNOLOGY_API_URL and AVNOLOGY_SECRET_KEY (in CI the read-only plan key),
# AVM (default: avnology-migrate on PATH), PLAN_COMMIT (the pull request's head commit, for
# the comment and the artifact name), COMMENT_MAX_BYTES (default 65000: GitHub refuses
# comments over 65,536 characters).
set -euo pipefail

manifest=${1:-migration.toml}
avm=${AVM:-avnology-migrate}
commit=${PLAN_COMMIT:-}
max_bytes=${COMMENT_MAX_BYTES:-65000}
marker='<!-- avnology-migrate-plan -->'
run_url=
if [ -n "${GITHUB_RUN_ID:-}" ]; then
  run_url="${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY:-}/actions/runs/$GITHUB_RUN_ID"
fi
where=${run_url:+" in [the workflow run]($run_url)"}
of_commit=${commit:+" for commit \`$commit\`"}

rm -f plan.json plan.md comment.md plan.txt

# The text plan shows emails and names unmasked: it goes to plan.txt, not to the job's log
# (which everyone who can read the repository can read); the log gets its summary lines, and
# errors and warnings come on stderr as usual.
code=0
"$avm" plan -m "$manifest" --out plan.json --detailed-exitcode --color never >plan.txt || code=$?
grep -E '^(Plan:|No changes)' plan.txt || true
case $code in
  0) changes=false ;;
  2) changes=true ;;
  *)
    {
      echo "$marker"
      echo "## avnology-migrate plan"
      echo
      echo "> [!WARNING]"
      echo "> **The plan failed**$of_commit (exit code $code). Nothing from this commit can be applied; the error is in the log of the Plan step$where."
    } >comment.md
    echo "::error title=avnology-migrate plan::plan exited $code: see the error above" >&2
    exit 1
    ;;
esac

"$avm" show plan.json --format markdown --color never >plan.md

if [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "changes=$changes" >>"$GITHUB_OUTPUT"
fi
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  cat plan.md >>"$GITHUB_STEP_SUMMARY"
fi

if [ "$changes" = true ]; then
  status="**Merging applies exactly this plan** (artifact \`avnology-plan-${commit:-COMMIT}\`): the apply job runs it after approval. If the tenant or an export moves before then, apply refuses or skips what changed and asks for a new plan."
else
  status="**No changes.** The tenant matches the manifest: merging this pull request applies nothing."
fi
footer=$(
  echo
  echo "---"
  echo "$status"
  echo
  echo "<sub>Planned$of_commit$where. The full plan is the run's step summary and its \`plan.json\` artifact; \`avnology-migrate show plan.json --show-pii\` unmasks it locally.</sub>"
)

# Cut the plan at a line boundary so that marker + plan + footer stay within max_bytes. A cut
# inside a code fence closes it with a fence of the same length, and open <details> blocks are
# closed, so the note below renders as text and not inside a block.
note=$'> [!NOTE]\n> The plan is too long for a comment and was cut here: read it whole in the step summary of the run or in the plan artifact.'
budget=$((max_bytes - ${#marker} - ${#footer} - ${#note} - 512))
cut=0
LC_ALL=C awk -v budget="$budget" '
  function fence_len(s,    n) { n = 0; while (substr(s, n + 1, 1) == "`") n++; return n }
  {
    if (used + length($0) + 1 > budget) { cut = 1; exit }
    print
    used += length($0) + 1
    if (fence == 0 && $0 ~ /^```/) { fence = fence_len($0); next }
    if (fence > 0) {
      if ($0 ~ /^`+[ \t]*$/ && fence_len($0) >= fence) fence = 0
      next
    }
    if ($0 ~ /<details[ >]/) open++
    if ($0 ~ /<\/details>/ && open > 0) open--
  }
  END {
    if (!cut) exit 0
    if (fence > 0) { s = ""; for (i = 0; i < fence; i++) s = s "`"; print s }
    for (; open > 0; open--) { print ""; print "</details>" }
    exit 3
  }' plan.md >comment.part || cut=$?
case $cut in
  0 | 3) ;;
  *) echo "::error::cannot build the comment (awk exited $cut)" >&2; exit 1 ;;
esac
{
  echo "$marker"
  cat comment.part
  if [ "$cut" = 3 ]; then
    echo
    echo "$note"
  fi
  echo "$footer"
} >comment.md
rm -f comment.part

echo "Plan: changes=$changes; comment.md is $(wc -c <comment.md) bytes."
