//! End-to-end tests of [`read_users`] on the fixtures in `tests/fixtures/clerk/`, one per quirk
//! of Clerk's export shapes (provider-formats 2.1, 2.2), with assertions on the items and on
//! message texts.

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::manifest::Provider;
use crate::model::{LinkedProvider, PasswordHash};
use crate::sources::SkipReason;
use crate::sources::test_support::{self, PathReader, assert_no_secret, linked, user_source};

const BCRYPT: &str = "$2b$10$6PVPHI9.tV.IVzkn/O8u3OA44V3EjI/i.Snsa.EaAeVUT74rwqV9K";
const TOTP: &str = "JBSWY3DPEHPK3PXP";

const CLERK: PathReader<ReadStats> = PathReader {
    provider: "clerk",
    read_users,
};

#[test]
fn dashboard_csv_maps_every_column() {
    let (stats, out) = CLERK.read(&CLERK.fixture("users.csv"));
    assert_eq!(
        stats,
        ReadStats {
            records: 11,
            identities: 7,
            skipped: 1,
            invalid: 3,
            bcrypt: 3,
            firebase_scrypt: 1,
            unsupported_hashers: 1,
        }
    );

    let (ada, location) = &out.identities[0];
    assert_eq!(location.line, Some(2));
    assert_eq!(ada.external_id.as_str(), "user_2ada");
    assert_eq!(ada.email.as_deref(), Some("ada@example.com"));
    assert_eq!(ada.email_verified, Some(true), "quoted comma-joined list");
    assert_eq!(ada.phone.as_deref(), Some("+15555550121"));
    assert_eq!(ada.phone_verified, Some(true));
    assert_eq!(
        (ada.first_name.as_deref(), ada.last_name.as_deref()),
        (Some("Ada"), Some("Example"))
    );
    assert_eq!(ada.username.as_deref(), Some("ada_example"));
    assert!(ada.active && !ada.mfa_enrolled);
    assert_eq!(
        ada.password,
        Some(PasswordHash::Bcrypt(crate::model::Secret::new(BCRYPT)))
    );

    let piper = out.identity("user_2pipe");
    assert_eq!(piper.email_verified, Some(true), "`|`-joined list");
    assert_eq!(piper.phone_verified, Some(false), "in the unverified list");

    let sam = out.identity("user_2semi");
    assert_eq!(
        sam.email_verified,
        Some(false),
        "`;`-joined unverified list"
    );
    assert_eq!(sam.password, None);
    assert_eq!(sam.password_unsupported, None, "no password at all");

    let phone_only = &out.skipped[0];
    assert_eq!(phone_only.external_id.as_deref(), Some("user_2phone"));
    assert_eq!(phone_only.reason, SkipReason::NoEmail);
    assert_eq!(
        phone_only.location.line,
        Some(6),
        "the blank line is counted"
    );

    assert!(out.identity("user_2totp").mfa_enrolled);

    let paula = out.identity("user_2pbkdf");
    assert_eq!(paula.password, None);
    assert_eq!(paula.password_unsupported.as_deref(), Some("pbkdf2_sha256"));

    let Some(PasswordHash::FirebaseScrypt { hash, salt, params }) =
        &out.identity("user_2fire").password
    else {
        panic!("expected a firebase-scrypt hash")
    };
    assert!(hash.expose().starts_with("lSrfV15cpx95/"));
    crate::sources::test_support::firebase_vector::assert_salt_and_params(salt, params);

    let first_verified = out.identity("user_2noprimary");
    assert_eq!(
        first_verified.email.as_deref(),
        Some("first.verified@example.com")
    );
    assert_eq!(first_verified.email_verified, Some(true));
}

#[test]
fn csv_problems_name_the_row_and_the_user() {
    let (_, out) = CLERK.read(&CLERK.fixture("users.csv"));
    let bad_hash = out.invalid("user_2badhash");
    assert_eq!(bad_hash.location.line, Some(10));
    assert!(
        bad_hash
            .message
            .starts_with("`password_digest` is not a bcrypt hash"),
        "{bad_hash}"
    );
    assert_eq!(
        out.invalid("user_2bademail").message,
        "`not-an-email` is not a valid email address"
    );
    let short = out.invalid("user_2short");
    assert_eq!(short.location.line, Some(12));
    assert_eq!(short.message, "row has 5 fields but the header has 14");
    assert!(
        short
            .to_string()
            .contains("users.csv:12 (record 10), external_id `user_2short`"),
        "{short}"
    );
}

#[test]
fn csv_columns_are_found_by_name_in_any_order_and_spelling() {
    let (stats, out) = CLERK.read(&CLERK.fixture("reordered.csv"));
    assert_eq!((stats.records, stats.identities, stats.bcrypt), (1, 1, 1));
    let olive = out.identity("user_2order");
    assert_eq!(olive.first_name.as_deref(), Some("Olive"));
    assert_eq!(olive.email_verified, Some(true));
    assert!(olive.password.is_some());
}

#[test]
fn a_missing_column_is_an_error_naming_file_and_column() {
    let (result, out) = CLERK.try_read(&CLERK.fixture("missing_column.csv"));
    assert!(out.identities.is_empty());
    let err = result.expect_err("not a Clerk export");
    let shown = err.to_string();
    assert!(
        shown.contains(
            "missing_column.csv:1 (record 1): the header has no `password_hasher` column"
        ),
        "{shown}"
    );
}

#[test]
fn guide_json_maps_objects_metadata_and_accounts() {
    let (stats, out) = CLERK.read(&CLERK.fixture("users.json"));
    assert_eq!(
        (
            stats.records,
            stats.identities,
            stats.skipped,
            stats.invalid
        ),
        (7, 3, 1, 3)
    );
    let jade = out.identity("user_2json1");
    assert_eq!(jade.email.as_deref(), Some("jade@example.com"));
    assert_eq!(jade.email_verified, Some(true));
    assert_eq!(jade.phone.as_deref(), Some("+15555550131"));
    assert_eq!(jade.phone_verified, Some(true));
    assert_eq!(
        jade.avatar_url.as_deref(),
        Some("https://img.example.com/jade.png")
    );
    assert_eq!(jade.traits.get("metadata"), Some(&json!({"plan": "pro"})));
    assert_eq!(
        serde_json::Value::Object(jade.admin_metadata.clone()),
        json!({"stripe_customer": "cus_123", "roles": ["admin"]})
    );
    assert_eq!(
        linked(jade),
        [("oauth_github", "4815162"), ("oauth_google", "1061234")]
    );
    assert!(jade.mfa_enrolled && jade.active);

    let vera = out.identity("user_2json2");
    assert!(!vera.active, "banned");
    assert_eq!(vera.email_verified, Some(true), "`verified: true` shape");
    assert_eq!(
        vera.avatar_url, None,
        "generated avatar (`has_image: false`)"
    );

    let nora = out.identity("user_2json3");
    assert_eq!(
        nora.email.as_deref(),
        Some("nora@example.com"),
        "no primary id: the first verified address"
    );

    assert_eq!(out.skipped[0].external_id.as_deref(), Some("user_2json4"));

    assert!(
        out.invalid("user_2reserved")
            .message
            .contains("`private_metadata.avnology_migrate` is reserved"),
        "{}",
        out.invalid("user_2reserved")
    );
    assert_eq!(
        out.invalid("user_2dangling").message,
        "`primary_email_address_id` names no entry of `email_addresses`"
    );
    let bad = &out.invalid("user_2badtypes").message;
    for expected in [
        "`banned` must be a boolean, not a string",
        "`public_metadata` must be a JSON object, not an array",
        "`email_addresses[1]` must be a string or an object, not a number",
        "`external_accounts[0]` has no `provider_user_id`",
    ] {
        assert!(bad.contains(expected), "{expected} in {bad}");
    }
}

#[test]
fn case_variant_keys_read_the_same() {
    let (stats, out) = CLERK.read(&CLERK.fixture("case_variants.json"));
    assert_eq!((stats.identities, stats.bcrypt), (1, 1));
    let casey = out.identity("user_2case");
    assert_eq!(
        (casey.first_name.as_deref(), casey.last_name.as_deref()),
        (Some("Casey"), Some("Variant"))
    );
    assert_eq!(casey.email.as_deref(), Some("casey@example.com"));
    assert_eq!(casey.email_verified, Some(true));
    assert!(!casey.active);
    assert_eq!(casey.admin_metadata.get("tier"), Some(&json!(2)));
}

#[test]
fn legacy_array_with_joined_addresses() {
    let (stats, out) = CLERK.read(&CLERK.fixture("legacy_array.json"));
    assert_eq!(
        (
            stats.records,
            stats.identities,
            stats.bcrypt,
            stats.unsupported_hashers
        ),
        (3, 3, 1, 1)
    );
    let jessica = out.identity("user_2legacy1");
    assert_eq!(
        jessica.email.as_deref(),
        Some("jessica@example.com"),
        "primary not marked: the first"
    );
    assert_eq!(jessica.email_verified, None, "the export does not say");
    assert_eq!(jessica.traits.get("metadata"), Some(&json!({"house": "a"})));
    assert_eq!(jessica.admin_metadata.get("admin"), Some(&json!(true)));

    let leto = out.identity("user_2legacy2");
    assert_eq!(leto.phone.as_deref(), Some("+15555550142"));
    assert!(leto.mfa_enrolled, "totp_secret");
    assert_eq!(leto.password_unsupported.as_deref(), Some("argon2id"));

    let mona = out.identity("user_2legacy3");
    assert_eq!(mona.email.as_deref(), Some("mona.alt@example.com"));
    assert_eq!(mona.email_verified, Some(true));
    assert!(mona.mfa_enrolled);
}

#[test]
fn secrets_never_appear_in_items_or_messages() {
    let mut shown = String::new();
    for name in [
        "users.csv",
        "users.json",
        "legacy_array.json",
        "case_variants.json",
    ] {
        let (_, out) = CLERK.read(&CLERK.fixture(name));
        shown.push_str(&out.all_text());
    }
    assert_no_secret(
        &shown,
        &[
            &BCRYPT[7..30],
            TOTP,
            "lSrfV15cpx95",
            "42xEC+ix",
            "c2FsdHNhbHQ",
        ],
    );
}

#[test]
fn dispatch_maps_the_stats() {
    let source = user_source(Provider::Clerk, CLERK.fixture("users.csv"));
    assert_eq!(test_support::dispatched(&source), (11, 4, 0));
}

#[test]
fn linked_providers_are_sorted() {
    let (_, out) = CLERK.read(&CLERK.fixture("users.json"));
    let jade = out.identity("user_2json1");
    let mut sorted = jade.linked_providers.clone();
    sorted.sort();
    assert_eq!(jade.linked_providers, sorted);
    assert!(jade.linked_providers.contains(&LinkedProvider {
        provider: "oauth_google".into(),
        subject: "1061234".into()
    }));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        CLERK.read_garbage("garbage", bytes);
    }

    #[test]
    fn csv_shaped_garbage_never_panics(rows in proptest::collection::vec("[a-z0-9@.,|;\"$ ]{0,60}", 0..8)) {
        let text = format!(
            "id,first_name,last_name,username,primary_email_address,primary_phone_number,verified_email_addresses,unverified_email_addresses,verified_phone_numbers,unverified_phone_numbers,totp_secret,password_digest,password_hasher\n{}",
            rows.join("\n")
        );
        CLERK.read_garbage("users.csv", text);
    }

    #[test]
    fn json_shaped_garbage_never_panics(text in "\\{\"data\": \\[(\\{(\"(id|email_addresses|primary_email_address_id|private_metadata|external_accounts|password_digest|password_hasher|banned)\": (\"[a-z0-9@.$|_]{0,16}\"|[0-9]{1,3}|true|null|\\[\\]|\\{\\}|\\[\\{\"id\": \"x\"\\}\\]), ?){0,6}\\}, ?){0,3}[\\]}]{0,2}") {
        CLERK.read_garbage("users.json", text);
    }
}
