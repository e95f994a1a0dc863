//! The scale issue's checks at a size a test can afford: a plan of many creates keeps field
//! values only in its bounded review sample, a saved plan streams back through `show` and
//! `apply` exactly, and apply pairs every change with the right source record even when the
//! source repeats ids and emails (it reads the plan and the sources together in one pass).

use serde_json::{Value, json};

use super::common::{Emulator, Workdir, output_text};

const MANIFEST: &str = r#"
[target]
organization = "acme"

[[users]]
name = "bulk"
provider = "auth0"
path = "users.ndjson"

[policy]
on_invalid = "skip"
"#;

fn user(i: usize, email: &str, given: &str) -> String {
    json!({
        "user_id": format!("auth0|bulk{i:04}"),
        "email": email,
        "email_verified": true,
        "given_name": given,
        "family_name": "Fixture",
        "identities": [{"provider": "auth0", "user_id": format!("bulk{i:04}"), "connection": "Username-Password-Authentication", "isSocial": false}],
    })
    .to_string()
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_plan_of_many_creates_keeps_field_values_only_in_its_sample_and_applies_exactly() {
    let emu = Emulator::start(&[]);
    let w = Workdir::new();
    w.write("migration.toml", MANIFEST);
    let export: Vec<String> = (0..150)
        .map(|i| user(i, &format!("bulk{i}@example.com"), &format!("Given{i}")))
        .collect();
    w.write("users.ndjson", &(export.join("\n") + "\n"));

    let out = w
        .cmd(Some(&emu))
        .args(["plan", "-m", "migration.toml", "--out", "plan.json"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("… and 125 more identities to create"),
        "{text}"
    );

    let file = std::fs::read_to_string(w.path("plan.json")).unwrap();
    let plan = lines(&file);
    let changes: Vec<&Value> = plan.iter().filter_map(|l| l.get("change")).collect();
    assert_eq!(changes.len(), 151, "the organization and 150 identities");
    for (i, c) in changes.iter().skip(1).enumerate() {
        assert_eq!(c["action"], "create");
        assert_eq!(c["record"], i as u64, "{c}");
        assert!(
            c.get("fields").is_none(),
            "a create line carries no fields: {c}"
        );
    }
    // Emails and names appear only in the footer's sample, which holds the first 100.
    let footer = &plan[plan.len() - 2]["footer"];
    let sampled: Vec<&Value> = footer["sample"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "identity")
        .collect();
    assert_eq!(sampled.len(), 100);
    assert!(
        sampled[0]["fields"]
            .to_string()
            .contains("bulk0@example.com")
    );
    let body: String = file
        .lines()
        .filter(|l| !l.starts_with("{\"footer\""))
        .collect();
    assert!(
        !body.contains("@example.com") && !body.contains("Given"),
        "{body}"
    );
    for i in 100..150 {
        assert!(!file.contains(&format!("bulk{i}@example.com")));
    }

    let shown = w.cmd(None).args(["show", "plan.json"]).output().unwrap();
    assert!(output_text(&shown).contains("Plan: organization to create, 150 to create"));

    let out = w
        .cmd(Some(&emu))
        .args(["apply", "plan.json", "--log", "apply.ndjson"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let (status, body) = emu.call(
        "GET",
        "/v1/identities?page_size=100&filter=external_id%20%3D%20%22auth0%7Cbulk0149%22",
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(body["identities"][0]["email"], "bulk149@example.com");
    assert_eq!(body["identities"][0]["first_name"], "Given149");
    let log = std::fs::read_to_string(w.path("apply.ndjson")).unwrap();
    assert_eq!(log.lines().count(), 151);

    let out = w
        .cmd(Some(&emu))
        .args(["plan", "-m", "migration.toml", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
}

#[test]
fn apply_pairs_each_change_with_its_own_record_when_the_source_repeats_ids_and_emails() {
    let emu = Emulator::start(&[]);
    let w = Workdir::new();
    w.write("migration.toml", MANIFEST);
    // Record 1 repeats record 0's email (invalid, skipped); record 2 has record 1's id with
    // an email of its own, so it is the one planned for that id; record 3 repeats record 0's
    // id (invalid, skipped).
    let export = [
        user(0, "first@example.com", "First"),
        user(1, "first@example.com", "Wrong"),
        user(1, "second@example.com", "Second"),
        user(0, "third@example.com", "Wrong"),
        user(2, "fourth@example.com", "Fourth"),
    ];
    w.write("users.ndjson", &(export.join("\n") + "\n"));
    let out = w
        .cmd(Some(&emu))
        .args(["plan", "-m", "migration.toml", "--out", "plan.json"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("2 record(s) invalid"), "{text}");
    let out = w
        .cmd(Some(&emu))
        .args(["apply", "plan.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    for (id, email, name) in [
        ("auth0|bulk0000", "first@example.com", "First"),
        ("auth0|bulk0001", "second@example.com", "Second"),
        ("auth0|bulk0002", "fourth@example.com", "Fourth"),
    ] {
        let path = format!(
            "/v1/identities?filter=external_id%20%3D%20%22{}%22",
            id.replace('|', "%7C")
        );
        let (_, body) = emu.call("GET", &path, None);
        assert_eq!(body["identities"][0]["email"], email, "{body}");
        assert_eq!(body["identities"][0]["first_name"], name, "{body}");
    }
}
