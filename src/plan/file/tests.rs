use super::*;
use crate::plan::{Action, ObjectKind};
use crate::render::sample::header;

/// A create as the sample shows it: with its fields, which its digest is of.
fn create(key: &str) -> Change {
    let email = serde_json::Value::String(format!("{}@example.com", key.replace('|', "-")));
    let desired = std::collections::BTreeMap::from([("email".to_string(), email.clone())]);
    Change {
        kind: ObjectKind::Identity,
        action: Action::Create,
        key: key.into(),
        source: Some("s".into()),
        live_id: None,
        etag: None,
        desired_digest: Some(crate::diff::desired_digest(&desired)),
        fields: vec![crate::diff::FieldChange {
            path: "email".into(),
            before: None,
            after: Some(email),
            sensitive: false,
        }],
        record: Some(0),
    }
}

fn written(dir: &Path, n: usize) -> PathBuf {
    let mut w = PlanWriter::create(Some(dir), &header()).unwrap();
    let mut sample = Vec::new();
    for i in 0..n {
        let c = create(&format!("auth0|{i}"));
        w.change(&Change {
            fields: vec![],
            ..c.clone()
        })
        .unwrap();
        sample.push(c);
    }
    let path = dir.join("plan.json");
    let footer = PlanFooter {
        groups: vec![crate::plan::GroupCount {
            kind: ObjectKind::Identity,
            action: Action::Create,
            count: n as u64,
        }],
        sample,
        ..PlanFooter::default()
    };
    w.finish(&footer).unwrap().persist(&path).unwrap();
    path
}

/// Seals `text` (a plan without its seal line) again, as someone editing it would.
fn resealed(text: &str) -> String {
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("{\"seal\""))
        .flat_map(|l| [l, "\n"])
        .collect();
    format!(
        "{body}{{\"seal\":{{\"plan_id\":\"{}\"}}}}\n",
        sha256_hex(body.as_bytes())
    )
}

#[test]
fn a_resealed_plan_that_shows_other_than_it_applies_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let path = written(d.path(), 3);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(PlanFile::open(&path).is_ok());

    // The sample shows another email than the record the create's digest binds.
    std::fs::write(
        &path,
        resealed(&text.replace("auth0-1@example.com", "ceo@example.com")),
    )
    .unwrap();
    let e = PlanFile::open(&path).unwrap_err().to_string();
    assert!(e.contains("shows identity `auth0|1` differently"), "{e}");

    // A change added to the lines but not to the counts or the sample.
    let extra = text
        .lines()
        .find(|l| l.contains("\"auth0|2\""))
        .unwrap()
        .replace("auth0|2", "auth0|3");
    let added = text.replacen("{\"footer\"", &format!("{extra}\n{{\"footer\""), 1);
    std::fs::write(&path, resealed(&added)).unwrap();
    let e = PlanFile::open(&path).unwrap_err().to_string();
    assert!(
        e.contains("counts 3 identities") && e.contains("holds 4"),
        "{e}"
    );
}

#[test]
fn a_plan_streams_back_in_order_and_its_seal_is_the_hash_of_what_precedes_it() {
    let d = tempfile::tempdir().unwrap();
    let path = written(d.path(), 3);
    let file = PlanFile::open(&path).unwrap();
    let keys: Vec<crate::model::ExternalId> =
        file.changes().unwrap().map(|c| c.unwrap().key).collect();
    assert_eq!(keys, ["auth0|0", "auth0|1", "auth0|2"]);
    let text = std::fs::read_to_string(&path).unwrap();
    let (before, seal) = text.trim_end().rsplit_once('\n').unwrap();
    assert_eq!(
        seal,
        format!(
            "{{\"seal\":{{\"plan_id\":\"{}\"}}}}",
            sha256_hex(format!("{before}\n").as_bytes())
        )
    );
    assert_eq!(
        file.plan.plan_id,
        sha256_hex(format!("{before}\n").as_bytes())
    );
}

#[test]
fn an_edited_cut_or_old_plan_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let path = written(d.path(), 3);
    let text = std::fs::read_to_string(&path).unwrap();

    std::fs::write(&path, text.replace("auth0|1", "auth0|9")).unwrap();
    let e = PlanFile::open(&path).unwrap_err().to_string();
    assert!(e.contains("do not match its plan_id"), "{e}");

    let cut: Vec<&str> = text.lines().collect();
    std::fs::write(&path, cut[..cut.len() - 1].join("\n")).unwrap();
    let e = PlanFile::open(&path).unwrap_err().to_string();
    assert!(e.contains("no seal"), "{e}");

    std::fs::write(&path, "{\n  \"format_version\": 1,\n  \"changes\": []\n}\n").unwrap();
    let e = PlanFile::open(&path).unwrap_err().to_string();
    assert!(
        e.contains("format_version 1 is not supported") && e.contains("plan --out"),
        "{e}"
    );

    std::fs::write(
        &path,
        text.replace("\"format_version\":2", "\"format_version\":3"),
    )
    .unwrap();
    let e = PlanFile::open(&path).unwrap_err().to_string();
    assert!(e.contains("format_version 3 is not supported"), "{e}");
}

#[test]
fn a_partial_plans_selection_is_sealed_and_a_plan_without_one_still_opens() {
    let d = tempfile::tempdir().unwrap();
    let mut w = PlanWriter::create(
        Some(d.path()),
        &PlanHeader {
            only: vec!["identity:auth0|1".into()],
            ..header()
        },
    )
    .unwrap();
    let c = create("auth0|1");
    w.change(&Change {
        fields: vec![],
        ..c.clone()
    })
    .unwrap();
    let footer = PlanFooter {
        groups: vec![crate::plan::GroupCount {
            kind: ObjectKind::Identity,
            action: Action::Create,
            count: 1,
        }],
        sample: vec![c],
        ..PlanFooter::default()
    };
    let path = d.path().join("partial.json");
    w.finish(&footer).unwrap().persist(&path).unwrap();
    let file = PlanFile::open(&path).unwrap();
    assert!(file.plan.is_partial());
    assert_eq!(file.plan.header.only, ["identity:auth0|1"]);

    // Widening the selection in place breaks the seal.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen(
            "\"only\":[\"identity:auth0|1\"]",
            "\"only\":[\"source:s\"]",
            1,
        ),
    )
    .unwrap();
    let e = PlanFile::open(&path).unwrap_err().to_string();
    assert!(e.contains("do not match its plan_id"), "{e}");

    // A plan written before selections existed has no `only` and is a full plan.
    let full = written(d.path(), 1);
    assert!(!std::fs::read_to_string(&full).unwrap().contains("\"only\""));
    assert!(!PlanFile::open(&full).unwrap().plan.is_partial());
}

#[test]
fn a_plan_changed_after_it_was_opened_stops_the_stream() {
    let d = tempfile::tempdir().unwrap();
    let path = written(d.path(), 3);
    let file = PlanFile::open(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("auth0|2", "auth0|7")).unwrap();
    let results: Vec<_> = file.changes().unwrap().collect();
    assert!(results.last().unwrap().is_err(), "{results:?}");
}
