//! examples/gitops: the workflow's logic run the way the workflow runs it. The scripts in
//! `ci/` with this build's binary against the emulator (fetch and pins, plan and its comment,
//! apply, a failing plan), the release install against a local mirror, the artifact look-ups
//! (`ci/find-artifacts.js`) in node against a fake GitHub API, and the workflow file's rules
//! (pinned actions, scoped secrets and permissions, short retention).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::common::{Emulator, Workdir, assert_no_secrets, bin, output_text, repo};

const MARKER: &str = "<!-- avnology-migrate-plan -->";
const READ_SCOPES: &str =
    "admin:users:read,admin:orgs:read,admin:oauth-clients:read,admin:service-accounts:read";
const HEAD: &str = "0123456789abcdef0123456789abcdef01234567";

fn sha256_file(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// A checkout of the example repository: its manifest, workflow and scripts (not what a
/// local rehearsal may have left beside them).
fn checkout() -> Workdir {
    let w = Workdir::new();
    let mut files = vec![
        "migration.toml".to_string(),
        ".github/workflows/avnology-migrate.yml".to_string(),
    ];
    for entry in std::fs::read_dir(repo("examples/gitops/ci")).unwrap() {
        files.push(format!(
            "ci/{}",
            entry.unwrap().file_name().to_string_lossy()
        ));
    }
    for rel in files {
        w.write(&rel, &read(repo(&format!("examples/gitops/{rel}"))));
    }
    w
}

/// A folder standing in for the bucket: the quickstart's sample exports.
fn bucket() -> Workdir {
    let b = Workdir::new();
    for f in ["auth0_users.ndjson", "auth0_passwords.ndjson"] {
        std::fs::copy(repo(&format!("examples/quickstart/{f}")), b.path(f)).unwrap();
    }
    b
}

/// Runs `ci/<script>` in the checkout with bash, a clean environment and `env`.
fn script(w: &Workdir, name: &str, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = assert_cmd::Command::new("bash")
        .arg(w.path(&format!("ci/{name}")))
        .args(args)
        .current_dir(w.dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AVM", bin())
        .env("NO_COLOR", "1")
        .env("AVNOLOGY_MIGRATE_FAST_RETRY", "1")
        .envs(env.iter().copied())
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    (out.status.code(), output_text(&out))
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The password hashes of the sample: they must never reach a plan, comment or log.
fn password_hashes() -> Vec<String> {
    read(repo("examples/quickstart/auth0_passwords.ndjson"))
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["passwordHash"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// The value of `key = "…"` in the committed manifest.
fn manifest_pin(key: &str) -> String {
    let manifest: toml::Table = read(repo("examples/gitops/migration.toml"))
        .parse()
        .unwrap();
    manifest["users"][0][key].as_str().unwrap().to_string()
}

#[test]
fn the_committed_pins_are_the_sample_exports() {
    for (key, file) in [
        ("sha256", "auth0_users.ndjson"),
        ("passwords_sha256", "auth0_passwords.ndjson"),
    ] {
        assert_eq!(
            manifest_pin(key),
            sha256_file(&repo(&format!("examples/quickstart/{file}"))),
            "{key}"
        );
    }
    let ignored = read(repo("examples/gitops/.gitignore"));
    assert!(ignored.lines().any(|l| l == "/exports/"), "{ignored}");
}

#[test]
fn fetched_exports_are_checked_against_the_pins() {
    // The exports of the reviewed manifest: validate passes.
    let w = checkout();
    let b = bucket();
    let source = b.dir.path().to_str().unwrap();
    let (code, text) = script(&w, "fetch-exports.sh", &[source], &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("auth0_users.ndjson"), "{text}");
    assert_eq!(
        sha256_file(&w.path("exports/auth0_users.ndjson")),
        manifest_pin("sha256")
    );

    // Someone replaced the export in the bucket: refused, naming the file and both digests.
    let w = checkout();
    let b = bucket();
    let mut users = read(b.path("auth0_users.ndjson"));
    users.push_str("{\"user_id\":\"auth0|swapped\",\"email\":\"swapped@example.com\"}\n");
    b.write("auth0_users.ndjson", &users);
    let now = sha256_file(&b.path("auth0_users.ndjson"));
    let (code, text) = script(
        &w,
        "fetch-exports.sh",
        &[b.dir.path().to_str().unwrap()],
        &[],
    );
    assert_ne!(code, Some(0), "{text}");
    assert!(
        text.contains("exports/auth0_users.ndjson")
            && text.contains(&now)
            && text.contains(&manifest_pin("sha256"))
            && text.contains("validate refused the exports"),
        "{text}"
    );

    // A source file without a pin is refused too.
    let w = checkout();
    let manifest = read(w.path("migration.toml"));
    let unpinned: String = manifest
        .lines()
        .filter(|l| !l.starts_with("passwords_sha256"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(manifest, unpinned);
    w.write("migration.toml", &unpinned);
    let (code, text) = script(&w, "fetch-exports.sh", &[source], &[]);
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("every source file must be pinned"), "{text}");

    // s3:// goes through `aws s3 sync` with the credentials of the environment.
    let w = checkout();
    let tools = Workdir::new();
    let log = tools.path("aws-args");
    tools.write(
        "aws",
        "#!/bin/sh\necho \"$@\" >\"$AWS_ARGS_LOG\"\ncp -R \"$STUB_BUCKET\"/. \"$6\"/\n",
    );
    std::fs::set_permissions(
        tools.path("aws"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        tools.dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (code, text) = script(
        &w,
        "fetch-exports.sh",
        &["s3://acme-identity-exports/auth0/"],
        &[
            ("PATH", &path),
            ("AWS_ARGS_LOG", log.to_str().unwrap()),
            ("STUB_BUCKET", source),
        ],
    );
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(
        read(log).trim(),
        "s3 sync --no-progress --only-show-errors s3://acme-identity-exports/auth0/ exports"
    );

    let (code, text) = script(&w, "fetch-exports.sh", &["gs://elsewhere/"], &[]);
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("unsupported export source"), "{text}");
}

/// The environment of the Plan step, with the output and summary files in `w`.
fn plan_env<'a>(emu_url: &'a str, key: &'a str, w: &'a Workdir) -> Vec<(&'a str, String)> {
    vec![
        ("AVNOLOGY_API_URL", emu_url.to_string()),
        ("AVNOLOGY_SECRET_KEY", key.to_string()),
        ("PLAN_COMMIT", HEAD.to_string()),
        (
            "GITHUB_OUTPUT",
            w.path("github-output").display().to_string(),
        ),
        (
            "GITHUB_STEP_SUMMARY",
            w.path("step-summary.md").display().to_string(),
        ),
        ("GITHUB_SERVER_URL", "https://github.com".into()),
        ("GITHUB_REPOSITORY", "acme/identity".into()),
        ("GITHUB_RUN_ID", "4242".into()),
    ]
}

fn run_plan(w: &Workdir, env: &[(&str, String)], extra: &[(&str, &str)]) -> (Option<i32>, String) {
    let _ = std::fs::remove_file(w.path("github-output"));
    let _ = std::fs::remove_file(w.path("step-summary.md"));
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    script(w, "plan.sh", &[], &all)
}

/// Fences and `<details>` blocks of a Markdown text are balanced.
fn assert_blocks_closed(md: &str) {
    let mut fence = 0usize;
    let mut open = 0i32;
    for line in md.lines() {
        let ticks = line.chars().take_while(|c| *c == '`').count();
        if fence == 0 && ticks >= 3 {
            fence = ticks;
        } else if fence > 0 && ticks >= fence && line.trim_end().len() == ticks {
            fence = 0;
        } else if fence == 0 {
            open += line.matches("<details").count() as i32;
            open -= line.matches("</details>").count() as i32;
        }
    }
    assert_eq!(fence, 0, "a code block is left open:\n{md}");
    assert_eq!(open, 0, "a <details> is left open:\n{md}");
}

#[test]
fn a_pull_request_plan_then_the_merge_applies_exactly_it() {
    let plan_key = super::common::random_key();
    let emu = Emulator::start(&["--key", &format!("{plan_key}={READ_SCOPES}")]);
    let w = checkout();
    let b = bucket();
    let (code, text) = script(
        &w,
        "fetch-exports.sh",
        &[b.dir.path().to_str().unwrap()],
        &[],
    );
    assert_eq!(code, Some(0), "{text}");

    // The pull request: the read-only key plans; exit 2 (changes) is a success here.
    let env = plan_env(&emu.url, &plan_key, &w);
    let (code, plan_out) = run_plan(&w, &env, &[]);
    assert_eq!(code, Some(0), "{plan_out}");
    assert_eq!(read(w.path("github-output")), "changes=true\n");
    let comment = read(w.path("comment.md"));
    let summary = read(w.path("step-summary.md"));
    let plan_md = read(w.path("plan.md"));
    assert!(
        comment.starts_with(&format!("{MARKER}\n## avnology-migrate plan")),
        "{comment}"
    );
    assert!(
        comment.contains(&plan_md),
        "the comment holds the whole plan: {comment}"
    );
    assert!(
        plan_md.contains("1 organization to create") && plan_md.contains("29 identities to create"),
        "{plan_md}"
    );
    assert!(
        comment.contains("**Merging applies exactly this plan**")
            && comment.contains(&format!("avnology-plan-{HEAD}"))
            && comment.contains("https://github.com/acme/identity/actions/runs/4242")
            && !comment.contains("No changes"),
        "{comment}"
    );
    assert!(!comment.contains("too long for a comment"), "{comment}");
    assert_blocks_closed(&comment);
    assert!(summary.contains(&plan_md), "{summary}");
    for (what, text) in [
        ("the comment", &comment),
        ("the step summary", &summary),
        ("the plan step's log", &plan_out),
    ] {
        assert!(
            !text.contains("avery.placeholder@example.com") && !text.contains("Avery"),
            "emails and names are masked in {what}: {text}"
        );
    }
    assert!(
        plan_out.contains("Plan: organization to create, 29 to create"),
        "{plan_out}"
    );

    // No password hash, API key or secret in anything the job shows or uploads.
    let hashes = password_hashes();
    let mut secrets: Vec<&str> = hashes.iter().map(String::as_str).collect();
    secrets.extend([emu.api_key.as_str(), plan_key.as_str()]);
    for (what, text) in [
        ("the comment", comment.clone()),
        ("the step summary", summary.clone()),
        ("the plan artifact", read(w.path("plan.json"))),
        ("the plan step's log", plan_out.clone()),
    ] {
        assert_no_secrets(&text, &secrets, what);
    }

    // A long plan is cut for the comment at a line, its blocks closed, with a note.
    assert!(comment.len() > 2_500, "{}", comment.len());
    for max in [1_200usize, 1_700, 2_100, 2_500] {
        let (code, text) = run_plan(&w, &env, &[("COMMENT_MAX_BYTES", &max.to_string())]);
        assert_eq!(code, Some(0), "{text}");
        let cut = read(w.path("comment.md"));
        assert!(cut.len() <= max, "{max}: {} bytes", cut.len());
        assert!(cut.starts_with(MARKER), "{cut}");
        assert!(
            cut.contains("The plan is too long for a comment and was cut here")
                && cut.contains("step summary"),
            "{cut}"
        );
        assert!(
            cut.contains("**Merging applies exactly this plan**"),
            "{cut}"
        );
        assert_blocks_closed(&cut);
        assert_eq!(
            read(w.path("step-summary.md")),
            read(w.path("plan.md")),
            "the summary is whole"
        );
    }

    // The merge: the artifact folder must hold plan.json alone.
    let artifact = Workdir::new();
    std::fs::rename(w.path("plan.json"), artifact.path("plan.json")).unwrap();
    artifact.write("ci/apply.sh", "echo pwned\n");
    let apply_env = |key: &str| {
        vec![
            ("AVNOLOGY_API_URL", emu.url.clone()),
            ("AVNOLOGY_SECRET_KEY", key.to_string()),
            ("PLAN_DIR", artifact.dir.path().display().to_string()),
            (
                "GITHUB_STEP_SUMMARY",
                w.path("apply-summary.md").display().to_string(),
            ),
        ]
    };
    let run_apply = |key: &str| {
        let env = apply_env(key);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        script(&w, "apply.sh", &[], &env)
    };
    let (code, text) = run_apply(&emu.api_key);
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("must hold plan.json alone"), "{text}");
    assert!(!w.path("plan.json").exists());
    std::fs::remove_dir_all(artifact.path("ci")).unwrap();

    // The plan key cannot write: apply fails, says what to do, and leaves its journal.
    let (code, text) = run_apply(&plan_key);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("apply exited 1") && text.contains("re-run this job"),
        "{text}"
    );
    assert!(text.contains("admin:orgs:write"), "{text}");
    assert_eq!(
        identities(&emu),
        0,
        "nothing is written with the read-only key"
    );

    // The re-run: a fresh checkout gets the plan again and the journal of the attempt before
    // (as the workflow downloads them), and resumes.
    let journal = Workdir::new();
    for f in ["plan.json.journal", "apply.ndjson"] {
        std::fs::rename(w.path(f), journal.path(f)).unwrap();
    }
    std::fs::remove_file(w.path("plan.json")).unwrap();
    let mut rerun = apply_env(&emu.api_key);
    rerun.push(("JOURNAL_DIR", journal.dir.path().display().to_string()));
    let rerun: Vec<(&str, &str)> = rerun.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, apply_out) = script(&w, "apply.sh", &[], &rerun);
    assert_eq!(code, Some(0), "{apply_out}");
    assert!(
        apply_out.contains("Resuming from plan.json.journal"),
        "{apply_out}"
    );
    assert!(
        apply_out.contains("ok   plan: no changes"),
        "verify ran: {apply_out}"
    );
    assert_eq!(identities(&emu), 29);
    let log = read(w.path("apply.ndjson"));
    assert!(log.lines().count() >= 30, "{log}");
    let apply_summary = read(w.path("apply-summary.md"));
    assert!(apply_summary.contains("**Applied**"), "{apply_summary}");
    for (what, text) in [
        ("the apply log", log),
        ("the apply step's log", apply_out),
        ("the apply summary", apply_summary),
    ] {
        assert_no_secrets(&text, &secrets, what);
    }

    // The next pull request: nothing to change, and the comment says so.
    let (code, text) = run_plan(&w, &env, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(read(w.path("github-output")), "changes=false\n");
    let comment = read(w.path("comment.md"));
    assert!(comment.starts_with(MARKER), "{comment}");
    assert!(
        comment.contains("**No changes.** The tenant matches the manifest: merging this pull request applies nothing."),
        "{comment}"
    );
    assert!(!comment.contains("Merging applies exactly"), "{comment}");
}

fn identities(emu: &Emulator) -> i64 {
    emu.db()
        .query_row("SELECT COUNT(*) FROM identities", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_plan_that_fails_fails_the_step_and_says_so_in_the_comment() {
    let emu = Emulator::start(&[]);
    let w = checkout();
    let b = bucket();
    let (code, text) = script(
        &w,
        "fetch-exports.sh",
        &[b.dir.path().to_str().unwrap()],
        &[],
    );
    assert_eq!(code, Some(0), "{text}");

    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let wrong_key = super::common::random_key();
    // Any exit code but 0 and 2 fails the step, not only 1 (a crash, a kill).
    let crashing = Workdir::new();
    let crash = crashing.write("avnology-migrate", "#!/bin/sh\nexit 101\n");
    std::fs::set_permissions(&crash, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let bin = bin();
    for (url, key, avm, exited, what) in [
        (
            emu.url.as_str(),
            wrong_key.as_str(),
            &bin,
            "plan exited 1",
            "a key the tenant refuses",
        ),
        (
            closed.as_str(),
            emu.api_key.as_str(),
            &bin,
            "plan exited 1",
            "an unreachable API",
        ),
        (
            emu.url.as_str(),
            emu.api_key.as_str(),
            &crash,
            "plan exited 101",
            "a crash",
        ),
    ] {
        let env = plan_env(url, key, &w);
        let (code, text) = run_plan(
            &w,
            &env,
            &[
                ("AVNOLOGY_GIVE_UP_AFTER", "3s"),
                ("AVM", avm.to_str().unwrap()),
            ],
        );
        assert_eq!(code, Some(1), "{what}: {text}");
        assert!(text.contains(exited), "{what}: {text}");
        let output = std::fs::read_to_string(w.path("github-output")).unwrap_or_default();
        assert!(!output.contains("changes="), "{what}: {output}");
        assert!(!w.path("plan.json").exists(), "{what}");
        let comment = read(w.path("comment.md"));
        assert!(
            comment.starts_with(MARKER)
                && comment.contains("**The plan failed**")
                && comment.contains(HEAD),
            "{what}: {comment}"
        );
        assert_no_secrets(&format!("{comment}{text}"), &[key], what);
    }
}

#[test]
fn the_release_is_installed_only_when_its_checksum_matches() {
    let version = env!("CARGO_PKG_VERSION");
    let w = checkout();
    let releases = Workdir::new();
    let name = "avnology-migrate-x86_64-unknown-linux-gnu";
    // A stand-in binary that reports this version, packed like the release archive.
    let publish = |tag: &str| {
        let dir = releases.path(&format!("v{tag}"));
        let staging = Workdir::new();
        staging.write(
            &format!("{name}/avnology-migrate"),
            &format!("#!/bin/sh\necho \"avnology-migrate {version}\"\n"),
        );
        staging.write(&format!("{name}/README.md"), "readme\n");
        std::fs::create_dir_all(&dir).unwrap();
        let archive = dir.join(format!("{name}.tar.xz"));
        let status = std::process::Command::new("tar")
            .arg("-cJf")
            .arg(&archive)
            .arg("-C")
            .arg(staging.dir.path())
            .arg(name)
            .status()
            .unwrap();
        assert!(status.success());
        let digest = sha256_file(&archive);
        std::fs::write(
            dir.join(format!("{name}.tar.xz.sha256")),
            format!("{digest}  {name}.tar.xz\n"),
        )
        .unwrap();
        digest
    };
    let digest = publish(version);
    let base = format!("file://{}", releases.dir.path().display());
    let install = |v: &str, dest: &Path, pin: Option<&str>| {
        let github_path = dest.with_extension("github-path");
        let mut env = vec![
            ("AVNOLOGY_MIGRATE_VERSION", v.to_string()),
            ("AVNOLOGY_MIGRATE_RELEASES", base.clone()),
            ("GITHUB_PATH", github_path.display().to_string()),
        ];
        if let Some(pin) = pin {
            env.push(("AVNOLOGY_MIGRATE_SHA256", pin.to_string()));
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (code, text) = script(&w, "install.sh", &[dest.to_str().unwrap()], &env);
        (
            code,
            text,
            std::fs::read_to_string(github_path).unwrap_or_default(),
        )
    };
    let tmp = Workdir::new();

    let dest = tmp.path("ok");
    let (code, text, path) = install(version, &dest, Some(&digest.to_uppercase()));
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains(&digest), "{text}");
    assert_eq!(path, format!("{}\n", dest.join("bin").display()));
    let out = std::process::Command::new(dest.join("bin/avnology-migrate"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("avnology-migrate {version}")
    );

    // A pinned digest the archive does not have.
    let dest = tmp.path("pinned");
    let (code, text, path) = install(version, &dest, Some(&"0".repeat(64)));
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("AVNOLOGY_MIGRATE_SHA256 pins"), "{text}");
    assert!(!dest.join("bin/avnology-migrate").exists() && path.is_empty());

    // An archive that is not the one its .sha256 names.
    let sums = releases.path(&format!("v{version}/{name}.tar.xz.sha256"));
    std::fs::write(&sums, format!("{}  {name}.tar.xz\n", "a".repeat(64))).unwrap();
    let dest = tmp.path("tampered");
    let (code, text, path) = install(version, &dest, None);
    assert_ne!(code, Some(0), "{text}");
    assert!(
        text.contains("refusing to install it") && text.contains(&digest),
        "{text}"
    );
    assert!(!dest.join("bin/avnology-migrate").exists() && path.is_empty());

    // A release whose binary reports another version.
    publish("9.9.9");
    let dest = tmp.path("other");
    let (code, text, path) = install("9.9.9", &dest, None);
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("not avnology-migrate 9.9.9"), "{text}");
    assert!(!dest.join("bin/avnology-migrate").exists() && path.is_empty());

    // No release at all.
    let (code, text, _) = install("0.0.0-missing", &tmp.path("missing"), None);
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("cannot download"), "{text}");
}

/// Runs one of `ci/find-artifacts.js`'s look-ups in node against a fake GitHub API holding
/// `state`, and returns `{ok, outputs, error}`.
fn look_up(function: &str, state: Value) -> Value {
    let harness = r"
const [, module, fn, stateText] = process.argv;
const s = JSON.parse(stateText);
const outputs = {};
const core = { info() {}, setOutput(k, v) { outputs[k] = v; } };
const github = {
  paginate: async (method, params) => (await method(params)).data,
  rest: {
    repos: {
      listPullRequestsAssociatedWithCommit: async (p) =>
        ({ data: s.prs.filter((pr) => pr.commits.includes(p.commit_sha)) }),
    },
    actions: {
      getWorkflowRun: async (p) => ({ data: { id: p.run_id, workflow_id: s.workflow_id } }),
      listWorkflowRuns: async (p) => ({ data: s.runs.filter((r) =>
        r.workflow_id === p.workflow_id && r.event === p.event && r.head_sha === p.head_sha) }),
      listWorkflowRunArtifacts: async (p) => ({ data: s.artifacts.filter((a) =>
        a.run_id === p.run_id && (p.name === undefined || a.name === p.name)) }),
    },
  },
};
const context = { repo: { owner: 'acme', repo: 'identity' }, sha: s.sha, runId: s.run_id };
process.env.GITHUB_RUN_ATTEMPT = String(s.attempt || 1);
require(module)[fn]({ github, context, core }).then(
  () => console.log(JSON.stringify({ ok: true, outputs })),
  (e) => console.log(JSON.stringify({ ok: false, outputs, error: e.message })),
);
";
    let out = std::process::Command::new("node")
        .arg("-e")
        .arg(harness)
        .arg(repo("examples/gitops/ci/find-artifacts.js"))
        .arg(function)
        .arg(state.to_string())
        .output()
        .expect("node runs the workflow's artifact look-ups (.ci/run installs it)");
    assert!(out.status.success(), "{}", output_text(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", output_text(&out)))
}

#[test]
fn the_apply_job_finds_the_reviewed_plan_and_the_newest_journal() {
    let merge = "m".repeat(40);
    let head = "h".repeat(40);
    let run = |id: u64, head_sha: &str, created: &str, conclusion: &str| {
        json!({"id": id, "workflow_id": 7, "event": "pull_request", "head_sha": head_sha,
               "status": "completed", "conclusion": conclusion, "created_at": created,
               "run_attempt": 1, "html_url": format!("https://github.com/acme/identity/actions/runs/{id}")})
    };
    let artifact = |id: u64, run_id: u64, name: &str, created: &str, expired: bool| json!({"id": id, "run_id": run_id, "name": name, "created_at": created, "expired": expired});
    let plan = format!("avnology-plan-{head}");
    let state = |runs: Vec<Value>, artifacts: Vec<Value>| {
        json!({
            "sha": merge, "run_id": 900, "workflow_id": 7,
            "prs": [
                {"number": 10, "merged_at": "2026-11-30T10:00:00Z", "merge_commit_sha": "y".repeat(40),
                 "head": {"sha": "z".repeat(40)}, "commits": [merge]},
                {"number": 11, "merged_at": null, "merge_commit_sha": "x", "head": {"sha": "x"}, "commits": [merge]},
                {"number": 12, "merged_at": "2026-12-01T10:00:00Z", "merge_commit_sha": merge,
                 "head": {"sha": head}, "commits": [merge]},
            ],
            "runs": runs, "artifacts": artifacts,
        })
    };

    // The newest run for the head commit, and its newest unexpired plan artifact (ids are not
    // in upload order).
    let found = look_up(
        "reviewedPlan",
        state(
            vec![
                run(100, &head, "2026-12-01T08:00:00Z", "success"),
                run(101, &head, "2026-12-01T09:00:00Z", "success"),
                run(102, &"o".repeat(40), "2026-12-01T09:30:00Z", "success"),
            ],
            vec![
                artifact(5, 101, &plan, "2026-12-01T09:01:00Z", false),
                artifact(4, 101, &plan, "2026-12-01T09:05:00Z", false),
                artifact(9, 101, &plan, "2026-12-01T09:09:00Z", true),
                artifact(8, 100, &plan, "2026-12-01T08:01:00Z", false),
                artifact(
                    6,
                    102,
                    &format!("avnology-plan-{}", "o".repeat(40)),
                    "2026-12-01T09:31:00Z",
                    false,
                ),
            ],
        ),
    );
    assert_eq!(found["ok"], true, "{found}");
    assert_eq!(
        found["outputs"],
        json!({"pull-request": "12", "head-sha": head, "run-id": "101", "artifact-id": "4"})
    );

    // The newest plan for the head failed: an older success is not applied.
    let found = look_up(
        "reviewedPlan",
        state(
            vec![
                run(100, &head, "2026-12-01T08:00:00Z", "success"),
                run(101, &head, "2026-12-01T09:00:00Z", "failure"),
            ],
            vec![artifact(8, 100, &plan, "2026-12-01T08:01:00Z", false)],
        ),
    );
    assert_eq!(found["ok"], false, "{found}");
    assert!(
        found["error"].as_str().unwrap().contains("is failure"),
        "{found}"
    );
    assert_eq!(found["outputs"], json!({}));

    // The plan artifact expired.
    let found = look_up(
        "reviewedPlan",
        state(
            vec![run(101, &head, "2026-12-01T09:00:00Z", "success")],
            vec![artifact(4, 101, &plan, "2026-12-01T09:05:00Z", true)],
        ),
    );
    assert_eq!(found["ok"], false, "{found}");
    assert!(
        found["error"]
            .as_str()
            .unwrap()
            .contains("no unexpired artifact"),
        "{found}"
    );

    // A push that merged no pull request.
    let mut direct = state(
        vec![run(101, &head, "2026-12-01T09:00:00Z", "success")],
        vec![],
    );
    direct["sha"] = json!("d".repeat(40));
    let found = look_up("reviewedPlan", direct);
    assert_eq!(found["ok"], false, "{found}");
    assert!(
        found["error"]
            .as_str()
            .unwrap()
            .contains("not the merge commit of a merged pull request"),
        "{found}"
    );

    // A re-run: the newest earlier attempt's journal; none on a first attempt.
    let journals = |attempt: u64| {
        let mut s = state(
            vec![],
            vec![
                artifact(
                    31,
                    900,
                    "avnology-apply-attempt-1",
                    "2026-12-01T11:00:00Z",
                    false,
                ),
                artifact(
                    30,
                    900,
                    "avnology-apply-attempt-2",
                    "2026-12-01T12:00:00Z",
                    false,
                ),
                artifact(
                    33,
                    900,
                    "avnology-apply-attempt-3",
                    "2026-12-01T13:00:00Z",
                    false,
                ),
                artifact(
                    34,
                    901,
                    "avnology-apply-attempt-2",
                    "2026-12-01T12:30:00Z",
                    false,
                ),
                artifact(
                    35,
                    900,
                    "avnology-apply-attempt-x",
                    "2026-12-01T12:40:00Z",
                    false,
                ),
            ],
        );
        s["attempt"] = json!(attempt);
        s
    };
    let found = look_up("earlierJournal", journals(3));
    assert_eq!(found, json!({"ok": true, "outputs": {"artifact-id": "30"}}));
    let found = look_up("earlierJournal", journals(2));
    assert_eq!(found, json!({"ok": true, "outputs": {"artifact-id": "31"}}));
    let found = look_up("earlierJournal", journals(1));
    assert_eq!(found, json!({"ok": true, "outputs": {}}));
}

#[test]
fn the_workflow_pins_its_actions_and_scopes_its_secrets() {
    let path = repo("examples/gitops/.github/workflows/avnology-migrate.yml");
    let text = read(path);
    let wf: Value = yaml_serde::from_str(&text).unwrap();
    assert!(
        !text.contains("cargo install"),
        "the tool is a pinned release"
    );
    assert_eq!(
        wf["permissions"],
        json!({}),
        "no token permission by default"
    );
    assert!(
        !wf["env"].to_string().contains("secrets."),
        "no secret in the workflow's env: {}",
        wf["env"]
    );

    // Every action by full commit SHA, its tag in a comment.
    let mut uses = 0;
    for line in text.lines() {
        let Some((_, action)) = line.split_once("uses: ") else {
            continue;
        };
        uses += 1;
        let (reference, comment) = action.split_once(" # ").unwrap_or((action, ""));
        let sha = reference.split_once('@').map_or("", |(_, s)| s);
        assert!(
            sha.len() == 40
                && sha
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
            "not pinned by commit: {line}"
        );
        assert!(comment.starts_with('v'), "no tag comment: {line}");
    }
    assert!(uses >= 10, "{uses}");

    let jobs = wf["jobs"].as_object().unwrap();
    let mut writers = Vec::new();
    for (name, job) in jobs {
        assert!(
            !job["env"].to_string().contains("secrets."),
            "{name}: no secret in a job's env"
        );
        let permissions = job["permissions"].as_object().unwrap();
        let steps = job["steps"].as_array().unwrap();
        let uses_oidc = steps.iter().any(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("aws-actions/configure-aws-credentials@"))
        });
        assert_eq!(
            permissions.get("id-token") == Some(&json!("write")),
            uses_oidc,
            "{name}: id-token: write only where OIDC is used"
        );
        for step in steps {
            let env = step["env"].to_string();
            if let Some(u) = step["uses"].as_str() {
                if u.starts_with("actions/upload-artifact@") {
                    let days = step["with"]["retention-days"].as_u64().unwrap();
                    assert!((1..=7).contains(&days), "{name}: retention {days}");
                }
                if u.starts_with("actions/download-artifact@")
                    && step["with"].get("run-id").is_some()
                {
                    assert!(step["with"].get("artifact-ids").is_some(), "{name}: by id");
                }
            }
            if env.contains("AVNOLOGY_SECRET_KEY") {
                writers.push((name.clone(), env.clone()));
            }
            if step.get("uses").is_some() {
                assert!(
                    !step["with"].to_string().contains("secrets."),
                    "{name}: a secret handed to an action: {step}"
                );
            }
        }
        if permissions.get("pull-requests") == Some(&json!("write")) {
            assert!(
                !job.to_string().contains("secrets.")
                    && steps.iter().all(|s| s.get("run").is_none()),
                "{name}: the job that writes to pull requests has no secret and runs no script"
            );
        }
    }
    assert_eq!(
        writers
            .iter()
            .map(|(job, env)| (job.as_str(), env.contains("secrets.AVNOLOGY_PLAN_KEY")))
            .collect::<Vec<_>>(),
        [("plan", true), ("apply", false)],
        "the plan step has the plan key, the apply step the write key: {writers:?}"
    );
    assert!(writers[1].1.contains("secrets.AVNOLOGY_SECRET_KEY"));

    let apply = &jobs["apply"];
    assert_eq!(apply["environment"], "avnology-production");
    assert_eq!(apply["concurrency"]["cancel-in-progress"], false);
    assert_eq!(jobs["plan"]["permissions"].get("pull-requests"), None);
}
