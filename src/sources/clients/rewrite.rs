//! `[[client_sources.rewrite]]`: updating a client's URLs in place while it moves (Avnology's
//! migration overview: "recreate the client applications and update their redirect URLs in
//! place"), typically from the old provider's domain to the new login domain.

use crate::manifest::Rewrite;
use crate::model::OAuthClient;

/// Applies rewrites (prefix replacement, in order, to redirect_uris, post_logout_redirect_uris
/// and allowed_origins).
///
/// Each rule is applied in turn to the result of the rules before it (as a sed script would),
/// so a later rule can refine what an earlier one produced. A rule whose `from` is empty is
/// ignored: it would prefix every URL, which is never what a migration means. The lists keep
/// their order; entries that end up equal are left for the caller to reduce.
pub fn rewrite(client: &mut OAuthClient, rules: &[Rewrite]) {
    for list in [
        &mut client.redirect_uris,
        &mut client.post_logout_redirect_uris,
        &mut client.allowed_origins,
    ] {
        for url in list.iter_mut() {
            for rule in rules {
                if rule.from.is_empty() {
                    continue;
                }
                if let Some(rest) = url.strip_prefix(rule.from.as_str()) {
                    *url = format!("{}{rest}", rule.to);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClientType, ExternalId};
    use crate::sources::clients::owned;

    fn client() -> OAuthClient {
        OAuthClient {
            external_id: ExternalId::new("c1"),
            name: "Web".into(),
            client_type: ClientType::Confidential,
            redirect_uris: owned(&[
                "https://acme.us.auth0.com/callback",
                "http://localhost:3000/callback",
                "https://acme.us.auth0.com/silent",
            ]),
            post_logout_redirect_uris: owned(&["https://acme.us.auth0.com/"]),
            allowed_origins: owned(&["https://acme.us.auth0.com", "https://app.acme.com"]),
            grant_types: owned(&["authorization_code"]),
            scopes: owned(&["openid"]),
        }
    }

    fn rule(from: &str, to: &str) -> Rewrite {
        Rewrite {
            from: from.into(),
            to: to.into(),
        }
    }

    #[test]
    fn prefixes_are_replaced_in_place_keeping_order() {
        let mut c = client();
        rewrite(
            &mut c,
            &[rule("https://acme.us.auth0.com", "https://auth.acme.com")],
        );
        assert_eq!(
            c.redirect_uris,
            [
                "https://auth.acme.com/callback",
                "http://localhost:3000/callback",
                "https://auth.acme.com/silent",
            ]
        );
        assert_eq!(c.post_logout_redirect_uris, ["https://auth.acme.com/"]);
        assert_eq!(
            c.allowed_origins,
            ["https://auth.acme.com", "https://app.acme.com"]
        );
        // Nothing else is touched.
        assert_eq!(c.name, "Web");
        assert_eq!(c.grant_types, ["authorization_code"]);
    }

    #[test]
    fn rules_apply_in_order_each_to_the_previous_result() {
        let mut c = client();
        rewrite(
            &mut c,
            &[
                rule("https://acme.us.auth0.com", "https://auth.acme.com"),
                rule(
                    "https://auth.acme.com/silent",
                    "https://auth.acme.com/v2/silent",
                ),
                rule("http://localhost:3000", "http://localhost:4000"),
            ],
        );
        assert_eq!(
            c.redirect_uris,
            [
                "https://auth.acme.com/callback",
                "http://localhost:4000/callback",
                "https://auth.acme.com/v2/silent",
            ]
        );
    }

    #[test]
    fn empty_from_and_non_matching_rules_change_nothing() {
        let mut c = client();
        let before = c.clone();
        rewrite(
            &mut c,
            &[rule("", "https://x"), rule("https://nowhere", "https://y")],
        );
        assert_eq!(c, before);
    }
}
