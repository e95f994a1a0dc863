//! End-to-end tests of [`read_users`] on the fixtures in `tests/fixtures/cognito/`, one per
//! quirk of `list-users` output (provider-formats 4.1), with assertions on the items and on
//! message texts.

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::manifest::Provider;
use crate::model::LinkedProvider;
use crate::sources::SkipReason;
use crate::sources::test_support::{self, PathReader, temp_file, user_source};

const COGNITO: PathReader<ReadStats> = PathReader {
    provider: "cognito",
    read_users,
};

#[test]
fn cli_v1_output_maps_every_attribute() {
    let (stats, out) = COGNITO.read(&COGNITO.fixture("list_users_v1.json"));
    assert!(out.invalid.is_empty(), "{:?}", out.invalid);
    assert_eq!(
        stats,
        ReadStats {
            pages: 1,
            records: 6,
            identities: 5,
            skipped: 1,
            federated: 1,
            ..ReadStats::default()
        }
    );

    let (carmen, location) = &out.identities[0];
    assert_eq!(location.line, Some(3));
    assert_eq!(
        carmen.external_id.as_str(),
        "7d3f1a2e-0000-4000-8000-000000000001"
    );
    assert_eq!(carmen.email.as_deref(), Some("carmen@example.com"));
    assert_eq!(carmen.email_verified, Some(true));
    assert_eq!(carmen.phone.as_deref(), Some("+15555550151"));
    assert_eq!(carmen.phone_verified, Some(false));
    assert_eq!(
        (
            carmen.first_name.as_deref(),
            carmen.last_name.as_deref(),
            carmen.display_name.as_deref()
        ),
        (Some("Carmen"), Some("Cognito"), Some("Carmen Cognito"))
    );
    assert_eq!(carmen.locale.as_deref(), Some("en-GB"));
    assert_eq!(
        carmen.avatar_url.as_deref(),
        Some("https://pics.example.com/c.png")
    );
    assert_eq!(
        carmen.traits.get("custom"),
        Some(&json!({"plan": "pro", "tier": "gold"}))
    );
    assert!(carmen.active && !carmen.mfa_enrolled);
    assert_eq!(
        (&carmen.password, &carmen.password_unsupported),
        (&None, &None)
    );

    let fed = out.identity("7d3f1a2e-0000-4000-8000-000000000002");
    assert_eq!(
        fed.linked_providers,
        [LinkedProvider {
            provider: "Google".into(),
            subject: "106123456789".into()
        }]
    );
    assert_eq!(fed.email_verified, Some(false));

    assert!(!out.identity("7d3f1a2e-0000-4000-8000-000000000003").active);
    assert_eq!(
        out.skipped[0].external_id.as_deref(),
        Some("7d3f1a2e-0000-4000-8000-000000000004")
    );
    assert_eq!(out.skipped[0].reason, SkipReason::NoEmail);
    assert!(
        out.identity("7d3f1a2e-0000-4000-8000-000000000005")
            .mfa_enrolled
    );
    assert_eq!(
        out.identity("7d3f1a2e-0000-4000-8000-000000000006")
            .email_verified,
        Some(false),
        "`email_verified` absent"
    );
}

#[test]
fn cli_v2_iso_dates_are_accepted() {
    let (stats, out) = COGNITO.read(&COGNITO.fixture("list_users_v2.json"));
    assert_eq!((stats.identities, stats.invalid), (2, 0));
    assert_eq!(out.identities.len(), 2);
}

#[test]
fn appended_pages_with_blank_lines_are_one_stream() {
    let (stats, out) = COGNITO.read(&COGNITO.fixture("pages.json"));
    assert_eq!((stats.pages, stats.records, stats.identities), (4, 4, 4));
    let lines: Vec<(Option<u64>, u64)> = out
        .identities
        .iter()
        .map(|(_, l)| (l.line, l.index))
        .collect();
    assert_eq!(
        lines,
        [(Some(3), 0), (Some(24), 1), (Some(49), 2), (Some(55), 3)]
    );
}

#[test]
fn case_variant_keys_and_attribute_names_read_the_same() {
    let (stats, out) = COGNITO.read(&COGNITO.fixture("case_variants.json"));
    assert_eq!(stats.identities, 2, "{:?}", out.invalid);
    let one = out.identity("case-sub-1");
    assert_eq!(one.email.as_deref(), Some("case@example.com"));
    assert_eq!(one.email_verified, Some(true));
    assert!(!one.active);
    assert_eq!(one.traits.get("custom"), Some(&json!({"Team": "blue"})));
    let two = out.identity("case-sub-2");
    assert!(two.mfa_enrolled, "`admin-get-user`'s `UserMFASettingList`");
}

#[test]
fn a_non_string_attribute_value_names_the_attribute_and_the_user() {
    let (stats, out) = COGNITO.read(&COGNITO.fixture("non_string_attribute.json"));
    assert_eq!(stats.invalid, 1);
    let err = out.invalid("sub-bad-attr");
    assert_eq!(err.location.line, Some(3));
    let shown = err.to_string();
    assert!(
        shown.contains("non_string_attribute.json:3 (record 1), external_id `sub-bad-attr`"),
        "{shown}"
    );
    assert!(
        err.message.contains(
            "attribute `email_verified` has a boolean as its `Value`; Cognito attribute values are strings"
        ),
        "{shown}"
    );
    assert!(
        err.message.contains("attribute `custom:age` has a number"),
        "{shown}"
    );
}

#[test]
fn invalid_records_name_the_user_and_the_problem() {
    let (stats, out) = COGNITO.read(&COGNITO.fixture("invalid_records.json"));
    assert_eq!((stats.records, stats.invalid), (8, 8));
    let no_sub = out
        .invalid
        .iter()
        .find(|e| e.message.contains("no-sub-user"))
        .expect("the user without sub");
    assert_eq!(no_sub.external_id, None);
    assert_eq!(no_sub.message, "user `no-sub-user` has no `sub` attribute");
    assert_eq!(
        out.invalid("sub-bad-date").message,
        "`UserCreateDate` must be epoch seconds (AWS CLI v1) or an ISO 8601 date (AWS CLI v2)"
    );
    assert!(
        out.invalid("sub-bool-date")
            .message
            .contains("UserCreateDate")
    );
    assert!(
        out.invalid("sub-bad-identities")
            .message
            .starts_with("attribute `identities` is not valid JSON"),
        "{}",
        out.invalid("sub-bad-identities")
    );
    assert_eq!(
        out.invalid("sub-bad-verified").message,
        "attribute `email_verified` must be \"true\" or \"false\""
    );
    assert_eq!(
        out.invalid("sub-bad-email").message,
        "`nope` is not a valid email address"
    );
    assert_eq!(
        out.invalid("sub-dup").message,
        "attribute `email` is listed twice with different values"
    );
    let not_a_user = out.invalid.last().expect("the string element");
    assert_eq!(
        not_a_user.message,
        "record is not a JSON object (found a string)"
    );
    assert_eq!(not_a_user.location.index, 7);
}

#[test]
fn a_page_cut_off_in_the_middle_is_an_error_naming_the_record() {
    let (result, out) = COGNITO.try_read(&COGNITO.fixture("truncated_page.json"));
    assert_eq!(out.identities.len(), 2);
    let err = result.expect_err("truncated");
    assert_eq!(err.location.line, Some(50));
    assert_eq!(err.location.index, 2);
    assert_eq!(
        err.external_id.as_deref(),
        Some("7d3f1a2e-0000-4000-8000-000000000103"),
        "the Username reached"
    );
    assert!(
        err.message.starts_with("record is truncated"),
        "{}",
        err.message
    );
    assert!(
        err.to_string()
            .contains("truncated_page.json:50 (record 3)")
    );
}

#[test]
fn a_file_that_is_not_list_users_output_is_an_error() {
    let (_dir, path) = temp_file(
        "admin_get_user.json",
        r#"{"Username": "x", "UserAttributes": []}"#,
    );
    let (result, _) = COGNITO.try_read(&path);
    let err = result.expect_err("no Users array");
    assert!(err.message.contains("has no `Users` array"), "{err}");
}

#[test]
fn dispatch_maps_the_stats() {
    let source = user_source(Provider::Cognito, COGNITO.fixture("list_users_v1.json"));
    assert_eq!(test_support::dispatched(&source), (6, 0, 0));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        COGNITO.read_garbage("garbage", bytes);
    }

    #[test]
    fn json_shaped_garbage_never_panics(text in "(\\{\"Users\": \\[(\\{\"(Username|Enabled|UserCreateDate|MFAOptions)\": (\"[a-z0-9:.-]{0,12}\"|[0-9.]{1,6}|true|\\[\\]), \"Attributes\": \\[(\\{\"Name\": \"(sub|email|email_verified|identities|custom:x)\", \"Value\": (\"[a-z0-9@.\\[\\]{}\"]{0,16}\"|[0-9]{1,3}|false)\\}, ?){0,4}\\]\\}, ?){0,3}\\]\\}\n?){0,3}[\\]}]{0,2}") {
        COGNITO.read_garbage("users.json", text);
    }
}
