//! Garbage input never panics, and every line of a users file is one item.

use proptest::prelude::*;

use super::*;

/// A record built from known keys (in random spellings) and random values, or plain garbage.
fn line_strategy() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "user_id",
        "Id",
        "EMAIL",
        "email_verified",
        "phone_number",
        "blocked",
        "identities",
        "app_metadata",
        "user_metadata",
        "multifactor",
        "Given Name",
        "picture",
        "username",
    ]);
    let value = prop_oneof![
        Just(json!(null)),
        any::<bool>().prop_map(|b| json!(b)),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,12}".prop_map(|s| json!(s)),
        Just(json!("a@example.com")),
        Just(json!([{"provider": "github", "user_id": 1, "isSocial": true}, 3, "x"])),
        Just(json!({"avnology_migrate": 1, "k": [1]})),
    ];
    let object = prop::collection::vec((key, value), 0..8).prop_map(|pairs| {
        let body: Vec<String> = pairs
            .into_iter()
            .map(|(k, v)| format!("{}:{v}", json!(k)))
            .collect();
        format!("{{{}}}", body.join(","))
    });
    prop_oneof![object, any::<String>(), "[{}\\[\\]\":,a-z0-9 \\\\]{0,40}"]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn garbage_lines_never_panic_and_each_yields_one_item(lines in prop::collection::vec(line_strategy(), 0..12)) {
        let files = Files::new();
        let mut text = String::new();
        for line in &lines {
            text.push_str(&line.replace(['\n', '\r'], " "));
            text.push('\n');
        }
        let users = files.write("users.ndjson", &text);
        let mut items = 0u64;
        match read_users(&users, None, &mut |_| items += 1) {
            Ok(stats) => {
                prop_assert_eq!(stats.records, items);
                prop_assert_eq!(stats.identities + stats.skipped + stats.invalid, stats.records);
            }
            // A first line starting with `[` makes the file a JSON array, which may be broken.
            Err(err) => prop_assert!(text.trim_start_matches(['\u{feff}', ' ', '\t', '\n', '\r']).starts_with('['), "{}", err),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let files = Files::new();
        let users = files.write("users.ndjson", &bytes);
        let passwords = files.write("passwords.ndjson", &bytes);
        let _ = read_users(&users, Some(&passwords), &mut |_| {});
    }
}
