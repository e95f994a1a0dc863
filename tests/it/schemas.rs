//! The checked-in JSON Schemas are generated from the Rust types; these tests fail when a
//! type changes and the schema file was not regenerated. `UPDATE_SCHEMAS=1 cargo test
//! schemas` rewrites them.

use super::common::repo;

fn check(path: &str, generated: String) {
    let file = repo(path);
    if std::env::var("UPDATE_SCHEMAS").is_ok_and(|v| v == "1") {
        std::fs::write(&file, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{path} is out of date with the Rust types; run `UPDATE_SCHEMAS=1 cargo test schemas`"
    );
}

#[test]
fn manifest_schema_is_current() {
    check(
        "schemas/migration.schema.json",
        avnology_migrate::manifest::raw::json_schema(),
    );
}

#[test]
fn plan_schema_is_current() {
    check(
        "schemas/plan.schema.json",
        avnology_migrate::plan::json_schema(),
    );
}

#[test]
fn manifest_schema_rejects_unknown_keys() {
    let schema: serde_json::Value =
        serde_json::from_str(&avnology_migrate::manifest::raw::json_schema()).unwrap();
    assert_eq!(
        schema["additionalProperties"],
        serde_json::json!(false),
        "{schema}"
    );
}

#[test]
fn validate_report_schema_is_current() {
    check(
        "schemas/validate-report.schema.json",
        avnology_migrate::commands::validate::json_schema(),
    );
}
