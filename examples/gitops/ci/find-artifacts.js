// The apply job's artifact look-ups, run by actions/github-script (`github` is an
// authenticated Octokit, `context` the event, `core` @actions/core). See README.md.
//
// reviewedPlan: the plan reviewers saw for the pull request that this push merged. The push's
// commit must be the merge commit of a merged pull request; the newest run of this workflow
// for that pull request's head commit must have finished successfully (it planned, uploaded
// the plan and posted the comment); its newest unexpired artifact avnology-plan-<head sha>
// is the one to apply. Anything else fails the job: nothing that was not reviewed is applied.
//
// earlierJournal: on a re-run (attempt > 1), the newest journal that an earlier attempt of
// this run uploaded (artifact avnology-apply-attempt-<n>), so the apply resumes where it
// stopped. The REST API lists every attempt's artifacts of a run; each attempt uploads under
// its own name, so no attempt deletes another's journal.

'use strict';

const PLAN_PREFIX = 'avnology-plan-';
const JOURNAL_PREFIX = 'avnology-apply-attempt-';

const newestFirst = (a, b) => Date.parse(b.created_at) - Date.parse(a.created_at);

async function reviewedPlan({ github, context, core }) {
  const { owner, repo } = context.repo;
  const prs = await github.paginate(github.rest.repos.listPullRequestsAssociatedWithCommit, {
    owner,
    repo,
    commit_sha: context.sha,
    per_page: 100,
  });
  const pr = prs.find((p) => p.merged_at && p.merge_commit_sha === context.sha);
  if (!pr) {
    throw new Error(
      `commit ${context.sha} is not the merge commit of a merged pull request: nothing reviewed to apply (changes reach the tenant through pull requests)`,
    );
  }
  const head = pr.head.sha;

  const { data: thisRun } = await github.rest.actions.getWorkflowRun({
    owner,
    repo,
    run_id: context.runId,
  });
  const runs = await github.paginate(github.rest.actions.listWorkflowRuns, {
    owner,
    repo,
    workflow_id: thisRun.workflow_id,
    event: 'pull_request',
    head_sha: head,
    per_page: 100,
  });
  const latest = runs.filter((r) => r.head_sha === head).sort(newestFirst)[0];
  if (!latest) {
    throw new Error(
      `no plan run of this workflow for head commit ${head} of pull request #${pr.number}: nothing reviewed to apply`,
    );
  }
  if (latest.status !== 'completed' || latest.conclusion !== 'success') {
    throw new Error(
      `the latest plan run for head commit ${head} of pull request #${pr.number} (${latest.html_url}) is ${latest.conclusion || latest.status}, not a success: the plan on the pull request is not one to apply; make a new plan in a pull request`,
    );
  }

  const name = PLAN_PREFIX + head;
  const artifacts = await github.paginate(github.rest.actions.listWorkflowRunArtifacts, {
    owner,
    repo,
    run_id: latest.id,
    name,
    per_page: 100,
  });
  const artifact = artifacts.filter((a) => a.name === name && !a.expired).sort(newestFirst)[0];
  if (!artifact) {
    throw new Error(
      `run ${latest.html_url} has no unexpired artifact ${name} (plans are kept 7 days): make a new plan in a pull request`,
    );
  }

  core.info(
    `Pull request #${pr.number}, head ${head}: plan run ${latest.html_url} (attempt ${latest.run_attempt}), artifact ${name} (id ${artifact.id}).`,
  );
  core.setOutput('pull-request', String(pr.number));
  core.setOutput('head-sha', head);
  core.setOutput('run-id', String(latest.id));
  core.setOutput('artifact-id', String(artifact.id));
  return { pullRequest: pr.number, headSha: head, runId: latest.id, artifactId: artifact.id };
}

async function earlierJournal({ github, context, core }) {
  const attempt = Number(process.env.GITHUB_RUN_ATTEMPT || context.runAttempt || 1);
  if (!(attempt > 1)) {
    core.info('First attempt of this run: no journal to restore.');
    return null;
  }
  const { owner, repo } = context.repo;
  const artifacts = await github.paginate(github.rest.actions.listWorkflowRunArtifacts, {
    owner,
    repo,
    run_id: context.runId,
    per_page: 100,
  });
  const earlier = artifacts
    .filter((a) => a.name.startsWith(JOURNAL_PREFIX) && !a.expired)
    .map((a) => ({ artifact: a, attempt: Number(a.name.slice(JOURNAL_PREFIX.length)) }))
    .filter((j) => Number.isInteger(j.attempt) && j.attempt < attempt)
    .sort((x, y) => y.attempt - x.attempt || newestFirst(x.artifact, y.artifact))[0];
  if (!earlier) {
    core.info(`Attempt ${attempt}: no earlier attempt of this run left a journal; applying from the start.`);
    return null;
  }
  core.info(
    `Attempt ${attempt}: restoring the journal of attempt ${earlier.attempt} (artifact ${earlier.artifact.name}, id ${earlier.artifact.id}).`,
  );
  core.setOutput('artifact-id', String(earlier.artifact.id));
  return { attempt: earlier.attempt, artifactId: earlier.artifact.id };
}

module.exports = { reviewedPlan, earlierJournal };
