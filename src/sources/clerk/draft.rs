//! A Clerk user as read from any of Clerk's export shapes, before any decision is made: the
//! dashboard CSV, the `{"data": [...]}` JSON of Avnology's guide and the Backend API, and the
//! older support-ticket array with `|`-joined addresses all become a [`Draft`]. The shapes
//! differ in how they say which email is primary and which are verified, so a draft keeps every
//! address with what its source said about it, and [`Draft::primary_email`] decides once, the
//! same way for all of them.

use serde_json::{Map, Value};

use crate::model::{LinkedProvider, Secret};

/// An email address or phone number with what the export says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Contact {
    /// The address or number.
    pub value: String,
    /// Clerk's id of it (`idn_…`), which `primary_email_address_id` refers to.
    pub id: Option<String>,
    /// Verified, unverified, or the export does not say.
    pub verified: Option<bool>,
}

/// One user, as read.
#[derive(Debug, Default)]
pub(super) struct Draft {
    /// `id` (`user_…`).
    pub id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub image_url: Option<String>,
    /// Every email address, in export order, one entry per address.
    pub emails: Vec<Contact>,
    /// `primary_email_address_id`.
    pub primary_email_id: Option<String>,
    /// `primary_email_address` (CSV and some JSON shapes).
    pub primary_email: Option<String>,
    /// Every phone number, as `emails`.
    pub phones: Vec<Contact>,
    pub primary_phone_id: Option<String>,
    pub primary_phone: Option<String>,
    /// The export lists verified and unverified addresses (the CSV always does), so an address
    /// in neither list is unverified rather than unknown.
    pub verification_listed: bool,
    pub public_metadata: Option<Map<String, Value>>,
    pub private_metadata: Option<Map<String, Value>>,
    pub banned: bool,
    /// A TOTP secret, or a two-factor flag, was set.
    pub mfa: bool,
    pub linked: Vec<LinkedProvider>,
    /// `password_digest`. Secret: never in a message.
    pub password_digest: Option<Secret>,
    /// `password_hasher`, as written.
    pub password_hasher: Option<String>,
    /// Problems found while reading.
    pub problems: Vec<String>,
}

/// Which kind of contact, for lookups and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Email,
    Phone,
}

impl Draft {
    /// Adds an address, merging it with an earlier mention of the same address (emails compare
    /// case-insensitively). A merged address is verified if any mention says so.
    pub fn add(&mut self, kind: Kind, value: &str, id: Option<String>, verified: Option<bool>) {
        let value = value.trim();
        if value.is_empty() {
            return;
        }
        let list = match kind {
            Kind::Email => &mut self.emails,
            Kind::Phone => &mut self.phones,
        };
        if let Some(known) = list.iter_mut().find(|c| same(kind, &c.value, value)) {
            known.verified = match (known.verified, verified) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), _) | (_, Some(false)) => Some(false),
                (None, None) => None,
            };
            if known.id.is_none() {
                known.id = id;
            }
            return;
        }
        list.push(Contact {
            value: value.to_owned(),
            id,
            verified,
        });
    }

    /// The primary email and whether it is verified: the address `primary_email_address_id`
    /// names, else `primary_email_address`, else the first verified address, else the first.
    pub fn primary_email(&mut self) -> Option<(String, Option<bool>)> {
        self.primary(Kind::Email)
    }

    /// The primary phone number, chosen like [`Draft::primary_email`].
    pub fn primary_phone(&mut self) -> Option<(String, Option<bool>)> {
        self.primary(Kind::Phone)
    }

    fn primary(&mut self, kind: Kind) -> Option<(String, Option<bool>)> {
        let (list, primary_id, primary, id_key, list_key) = match kind {
            Kind::Email => (
                &self.emails,
                &self.primary_email_id,
                &self.primary_email,
                "primary_email_address_id",
                "email_addresses",
            ),
            Kind::Phone => (
                &self.phones,
                &self.primary_phone_id,
                &self.primary_phone,
                "primary_phone_number_id",
                "phone_numbers",
            ),
        };
        let unlisted = if self.verification_listed {
            Some(false)
        } else {
            None
        };
        if let Some(id) = primary_id {
            if let Some(c) = list.iter().find(|c| c.id.as_deref() == Some(id.as_str())) {
                return Some((c.value.clone(), c.verified.or(unlisted)));
            }
            // Picking another address could change how the user signs in.
            self.problems
                .push(format!("`{id_key}` names no entry of `{list_key}`"));
            return None;
        }
        if let Some(value) = primary {
            let verified = list
                .iter()
                .find(|c| same(kind, &c.value, value))
                .and_then(|c| c.verified);
            return Some((value.clone(), verified.or(unlisted)));
        }
        list.iter()
            .find(|c| c.verified == Some(true))
            .or_else(|| list.first())
            .map(|c| (c.value.clone(), c.verified.or(unlisted)))
    }
}

fn same(kind: Kind, a: &str, b: &str) -> bool {
    match kind {
        Kind::Email => a.eq_ignore_ascii_case(b),
        Kind::Phone => a == b,
    }
}

/// The values of a multi-valued cell. Clerk does not document the delimiter; exports have been
/// seen `|`-joined and comma-joined, and other importers also split on `;`.
pub(super) fn split_multi(cell: &str) -> impl Iterator<Item = &str> {
    cell.split(['|', ',', ';'])
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_value_cells_split_on_every_delimiter() {
        let values: Vec<&str> =
            split_multi(" a@example.com| b@example.com ,c@example.com;;d@x.org ").collect();
        assert_eq!(
            values,
            ["a@example.com", "b@example.com", "c@example.com", "d@x.org"]
        );
        assert_eq!(split_multi("").count(), 0);
    }

    #[test]
    fn primary_is_chosen_by_id_then_value_then_verified_then_first() {
        let mut d = Draft::default();
        d.add(
            Kind::Email,
            "first@example.com",
            Some("idn_1".into()),
            Some(false),
        );
        d.add(
            Kind::Email,
            "second@example.com",
            Some("idn_2".into()),
            Some(true),
        );
        assert_eq!(
            d.primary_email(),
            Some(("second@example.com".into(), Some(true)))
        );
        d.primary_email = Some("FIRST@example.com".into());
        assert_eq!(
            d.primary_email(),
            Some(("FIRST@example.com".into(), Some(false)))
        );
        d.primary_email_id = Some("idn_1".into());
        assert_eq!(
            d.primary_email(),
            Some(("first@example.com".into(), Some(false)))
        );
        d.primary_email_id = Some("idn_9".into());
        assert_eq!(d.primary_email(), None);
        assert_eq!(
            d.problems,
            ["`primary_email_address_id` names no entry of `email_addresses`"]
        );
    }

    #[test]
    fn repeated_addresses_merge_and_verification_wins() {
        let mut d = Draft::default();
        d.add(Kind::Email, "a@example.com", None, None);
        d.add(
            Kind::Email,
            "A@example.com",
            Some("idn_1".into()),
            Some(true),
        );
        assert_eq!(
            d.emails,
            [Contact {
                value: "a@example.com".into(),
                id: Some("idn_1".into()),
                verified: Some(true)
            }]
        );
        let mut listed = Draft {
            verification_listed: true,
            ..Draft::default()
        };
        listed.primary_email = Some("x@example.com".into());
        assert_eq!(
            listed.primary_email(),
            Some(("x@example.com".into(), Some(false)))
        );
    }
}
