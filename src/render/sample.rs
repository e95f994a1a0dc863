//! A small fixed plan for renderer tests.

use std::collections::BTreeMap;

use serde_json::json;

use crate::diff::FieldChange;
use crate::plan::{
    Action, Change, FileDigest, GroupCount, LISTED_PER_GROUP, ObjectKind, PasswordReport, Plan,
    PlanFooter, PlanHeader, PlanTarget, SkippedRecord, Summary,
};

fn change(action: Action, key: &str, fields: Vec<FieldChange>) -> Change {
    Change {
        kind: ObjectKind::Identity,
        action,
        key: key.into(),
        source: Some("auth0-prod".into()),
        live_id: (action != Action::Create).then(|| "usr_1".into()),
        etag: (action != Action::Create).then(|| "W/\"1\"".into()),
        desired_digest: Some("d".into()),
        fields,
        record: None,
    }
}

/// Counts `changes` by kind and action and keeps the first of each group, as a built plan
/// does.
fn sampled(changes: Vec<Change>) -> (Vec<GroupCount>, Vec<Change>) {
    let mut groups: Vec<GroupCount> = Vec::new();
    let mut sample = Vec::new();
    for c in changes {
        match groups
            .iter_mut()
            .find(|g| g.kind == c.kind && g.action == c.action)
        {
            Some(g) => g.count += 1,
            None => groups.push(GroupCount {
                kind: c.kind,
                action: c.action,
                count: 1,
            }),
        }
        if sample
            .iter()
            .filter(|s: &&Change| s.kind == c.kind && s.action == c.action)
            .count()
            < LISTED_PER_GROUP
        {
            sample.push(c);
        }
    }
    (groups, sample)
}

fn field(
    path: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> FieldChange {
    FieldChange {
        path: path.into(),
        before,
        after,
        sensitive: path == "password",
    }
}

/// The header of a plan against the sandbox, organization `acme`.
pub fn header() -> PlanHeader {
    PlanHeader {
        format_version: 2,
        tool_version: "0.1.0".into(),
        created_at: "2026-11-27T00:00:00Z".into(),
        destroy: false,
        target: PlanTarget {
            url: "sandbox:.avnology-sandbox".into(),
            organization: Some("acme".into()),
            organization_id: None,
        },
        manifest: FileDigest {
            path: "migration.toml".into(),
            sha256: "m".into(),
        },
        sources: vec![],
        only: vec![],
    }
}

/// A plan with one change of every kind, a skip and a password report.
pub fn plan() -> Plan {
    let (groups, sample) = sampled(vec![
        change(
            Action::Create,
            "auth0|new",
            vec![
                field("email", None, Some(json!("ada@example.com"))),
                field("first_name", None, Some(json!("Ada"))),
                field("password", None, Some(json!("bcrypt"))),
            ],
        ),
        change(
            Action::Update,
            "auth0|renamed",
            vec![field("first_name", Some(json!("Bob")), Some(json!("Rob")))],
        ),
        change(
            Action::Deactivate,
            "auth0|blocked",
            vec![field(
                "state",
                Some(json!("active")),
                Some(json!("inactive")),
            )],
        ),
        change(Action::Delete, "auth0|gone", vec![]),
    ]);
    Plan {
        plan_id: "0123456789abcdef".into(),
        header: header(),
        footer: PlanFooter {
            groups,
            sample,
            tallies: vec![],
            owned_after: BTreeMap::default(),
            conflicts: vec![],
            skipped: vec![SkippedRecord {
                source: "auth0-prod".into(),
                location: "users.ndjson:7 (record 7)".into(),
                external_id: Some("sms|1".into()),
                reason: "no email address".into(),
            }],
            invalid: vec![],
            passwords: vec![PasswordReport {
                source: "auth0-prod".into(),
                bcrypt: 1,
                reset_no_hash: 1,
                passwordless: 2,
                mfa_not_carried: 1,
                ..Default::default()
            }],
            warnings: vec![],
            summary: Summary {
                create: 1,
                update: 1,
                deactivate: 1,
                delete: 1,
                no_op: 5,
                skipped: 1,
                unowned: 2,
                source_records: 10,
                ..Default::default()
            },
        },
    }
}

/// A plan of `n` creates.
pub fn big_plan(n: usize) -> Plan {
    let mut p = plan();
    let (groups, sample) = sampled(
        (0..n)
            .map(|i| {
                change(
                    Action::Create,
                    &format!("auth0|user-{i:06}"),
                    vec![
                        field("email", None, Some(json!(format!("user{i}@example.com")))),
                        field("first_name", None, Some(json!("Someone"))),
                        field("password", None, Some(json!("bcrypt"))),
                    ],
                )
            })
            .collect(),
    );
    p.footer.groups = groups;
    p.footer.sample = sample;
    p.footer.summary = Summary {
        create: n as u64,
        source_records: n as u64,
        ..Default::default()
    };
    p
}

/// What a hostile export could put in every displayed string: a newline followed by a
/// closing fence and HTML, backticks, table pipes, ANSI escapes (7-bit and C1), and a bidi
/// override.
pub const HOSTILE: &str = "x\n```\n</details>\n<h1>pwned</h1>`|\u{1b}[31m\u{9b}0m\u{202e}";

/// The sample plan with [`HOSTILE`] in every id, name, path, value, reason and warning.
pub fn hostile_plan() -> Plan {
    let mut p = plan();
    let h = |prefix: &str| format!("{prefix}{HOSTILE}");
    for c in &mut p.footer.sample {
        c.key = crate::model::ExternalId::from(h("auth0|"));
        c.source = Some(h("src"));
        c.fields.push(field(
            &h("traits."),
            Some(json!(h("before"))),
            Some(json!(h("after"))),
        ));
    }
    p.header.target.url = h("https://");
    p.header.target.organization = Some(h("org"));
    p.header.manifest.path = h("m");
    p.footer.skipped[0] = SkippedRecord {
        source: h("src"),
        location: h("users.ndjson:7 "),
        external_id: Some(h("sms|").into()),
        reason: format!("email `{}` is not a valid email address", h("a@b.c")),
    };
    p.footer.invalid.push(SkippedRecord {
        external_id: None,
        ..p.footer.skipped[0].clone()
    });
    p.footer.summary.invalid = 1;
    p.footer.passwords[0].source = h("src");
    p.footer.passwords[0].reset_unsupported = 1;
    p.footer.passwords[0].unsupported_users = vec![h("auth0|")];
    p.footer.warnings = vec![format!("identity `{}` exists", h("auth0|"))];
    p
}
