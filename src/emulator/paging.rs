//! List paging: `page_size` (default 25, clamped to 100), `order_by`, and opaque
//! `page_token`s.
//!
//! Pages are keyset pages: in creation order (the table's rowid, `seq`) ascending or
//! descending, or, where a collection allows it, by another column with the rowid as the tie
//! breaker. A listing in creation order is stable while other clients insert: a new row
//! always lands after every token of an ascending listing, and before every token of a
//! descending one, so no page repeats or skips a row.
//!
//! A token is base64url (no padding) of `v2.<seq>.<binding>[.<key>]`: the last row's rowid,
//! the digest that binds the token to the collection, the filter and the order it was issued
//! for, and (for orders by another column) that row's sort key, itself base64url. A token
//! from another collection, another filter or another order is refused instead of returning
//! a silently wrong page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::store::Where;

/// Documented default page size.
pub const DEFAULT_PAGE_SIZE: u32 = 25;
/// Documented maximum page size; larger requests are clamped to it.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Parses `page_size`: absent or `0` means the default, above the maximum (however large)
/// is clamped, anything but decimal digits is a 400.
pub fn page_size(raw: Option<&str>) -> Result<u32, ApiError> {
    let Some(raw) = raw.filter(|s| !s.is_empty()) else {
        return Ok(DEFAULT_PAGE_SIZE);
    };
    if !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::field(
            "page_size",
            "page_size must be a non-negative integer",
        ));
    }
    let digits = raw.trim_start_matches('0');
    if digits.is_empty() {
        return Ok(DEFAULT_PAGE_SIZE);
    }
    // More digits than a u32 holds is far above the maximum too.
    Ok(digits
        .parse::<u32>()
        .map_or(MAX_PAGE_SIZE, |n| n.min(MAX_PAGE_SIZE)))
}

/// A field a collection can be ordered by: its `order_by` name and the SQL expression of
/// its sort key. Creation order is the rowid itself and has no separate key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortField {
    /// The `order_by` field name.
    pub name: &'static str,
    /// The SQL expression, or `None` for creation order (`seq`).
    pub column: Option<&'static str>,
}

/// Creation order, which every collection supports.
pub const CREATE_TIME: SortField = SortField {
    name: "create_time",
    column: None,
};

/// A parsed `order_by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    /// What to order by.
    pub field: SortField,
    /// Descending.
    pub desc: bool,
}

impl Order {
    /// The documented default, `create_time desc`.
    pub const DEFAULT: Order = Order {
        field: CREATE_TIME,
        desc: true,
    };

    /// The normalised spelling (`field asc|desc`), which tokens are bound to.
    pub fn canonical(&self) -> String {
        format!(
            "{} {}",
            self.field.name,
            if self.desc { "desc" } else { "asc" }
        )
    }
}

/// Parses `order_by`: absent or empty means [`Order::DEFAULT`]; otherwise one of `fields`,
/// optionally followed by `asc` (the default direction, as AIP-132 has it) or `desc`,
/// separated by spaces.
/// Anything else is a 400 rather than an order silently ignored.
pub fn order_by(raw: Option<&str>, fields: &[SortField]) -> Result<Order, ApiError> {
    let Some(raw) = raw.map(|r| r.trim_matches(' ')).filter(|s| !s.is_empty()) else {
        return Ok(Order::DEFAULT);
    };
    let bad = || {
        let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
        ApiError::field(
            "order_by",
            format!(
                "order_by must be one of {} (optionally followed by `asc` or `desc`)",
                names.join(", ")
            ),
        )
    };
    let mut words = raw.split(' ').filter(|w| !w.is_empty());
    let (Some(name), dir, None) = (words.next(), words.next(), words.next()) else {
        return Err(bad());
    };
    let field = *fields.iter().find(|f| f.name == name).ok_or_else(bad)?;
    let desc = match dir {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(bad()),
    };
    Ok(Order { field, desc })
}

/// Where a page starts: after the row with this rowid and (for orders by another column)
/// this sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The last row's rowid.
    pub seq: i64,
    /// The last row's sort key, for orders by another column than creation.
    pub key: Option<String>,
}

/// A keyset page: the order, the cursor (`None` for the first page) and the page size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    /// The order.
    pub order: Order,
    /// Where the page starts.
    pub after: Option<Cursor>,
    /// Rows per page.
    pub limit: u32,
}

impl Keyset {
    /// The first page in creation order, ascending.
    pub fn ascending(limit: u32) -> Self {
        Self {
            order: Order {
                field: CREATE_TIME,
                desc: false,
            },
            after: None,
            limit,
        }
    }

    /// True for the first page (no `page_token`).
    pub fn is_first_page(&self) -> bool {
        self.after.is_none()
    }

    /// Adds the cursor condition to `w` and returns `ORDER BY … LIMIT …` (one row more than
    /// the page, which tells whether another page follows), and the sort key column to
    /// select after the table's own columns (when the order has one).
    pub fn apply(&self, w: &mut Where) -> (String, Option<&'static str>) {
        use rusqlite::types::Value;
        let (cmp, dir) = if self.order.desc {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        let limit = u64::from(self.limit) + 1;
        match self.order.field.column {
            None => {
                if let Some(c) = &self.after {
                    w.push(format!("seq {cmp} ?"), [Value::Integer(c.seq)]);
                }
                (format!("ORDER BY seq {dir} LIMIT {limit}"), None)
            }
            Some(col) => {
                if let Some(c) = &self.after {
                    w.push(
                        format!("({col}, seq) {cmp} (?, ?)"),
                        [
                            Value::Text(c.key.clone().unwrap_or_default()),
                            Value::Integer(c.seq),
                        ],
                    );
                }
                (
                    format!("ORDER BY {col} {dir}, seq {dir} LIMIT {limit}"),
                    Some(col),
                )
            }
        }
    }
}

/// Splits a keyset query's rows, each with its cursor (fetched with one row more than the
/// page), into the page and, when another page follows, the cursor of the page's last row.
pub fn split<T>(mut rows: Vec<(T, Cursor)>, limit: u32) -> (Vec<T>, Option<Cursor>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|(_, c)| c.clone())
    } else {
        None
    };
    (rows.into_iter().map(|(row, _)| row).collect(), more)
}

/// The digest a token is bound to: the collection, the normalised filter text and the
/// order.
fn binding(collection: &str, filter: &str, order: &Order) -> String {
    let mut h = Sha256::new();
    for part in [collection, filter.trim(), &order.canonical()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..6])
}

/// The token for the page after `cursor` of a listing of `collection` with this filter and
/// order.
pub fn encode_token(collection: &str, filter: &str, order: &Order, cursor: &Cursor) -> String {
    let mut text = format!("v2.{}.{}", cursor.seq, binding(collection, filter, order));
    if let Some(key) = &cursor.key {
        text.push('.');
        text.push_str(&URL_SAFE_NO_PAD.encode(key));
    }
    URL_SAFE_NO_PAD.encode(text)
}

/// Where the requested page starts (`None` for the first page: no token, or an empty one).
pub fn decode_token(
    token: Option<&str>,
    collection: &str,
    filter: &str,
    order: &Order,
) -> Result<Option<Cursor>, ApiError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let bad = || ApiError::field("page_token", "page_token is not a token this server issued");
    let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let mut parts = text.split('.');
    let (Some("v2"), Some(seq), Some(digest), key, None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(bad());
    };
    let seq: i64 = seq.parse().map_err(|_| bad())?;
    if seq < 0 {
        return Err(bad());
    }
    if digest != binding(collection, filter, order) {
        return Err(ApiError::field(
            "page_token",
            "page_token was issued for another collection, filter or order_by",
        ));
    }
    let key = match key {
        Some(k) => Some(
            String::from_utf8(URL_SAFE_NO_PAD.decode(k).map_err(|_| bad())?).map_err(|_| bad())?,
        ),
        None => None,
    };
    if key.is_some() != order.field.column.is_some() {
        return Err(bad());
    }
    Ok(Some(Cursor { seq, key }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMAIL: SortField = SortField {
        name: "email",
        column: Some("email_lower"),
    };

    #[test]
    fn page_sizes() {
        assert_eq!(page_size(None).unwrap(), 25);
        assert_eq!(page_size(Some("0")).unwrap(), 25);
        assert_eq!(page_size(Some("7")).unwrap(), 7);
        assert_eq!(page_size(Some("100")).unwrap(), 100);
        assert_eq!(page_size(Some("1000000000000")).unwrap(), 100);
        assert_eq!(
            page_size(Some("19173265583198100293931925342519296")).unwrap(),
            100
        );
        assert_eq!(page_size(Some("007")).unwrap(), 7);
        assert_eq!(page_size(Some("000")).unwrap(), 25);
        for bad in ["-1", "abc", "1.5", "10x", " 5", "+5"] {
            assert!(page_size(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn orders_parse_the_documented_spellings() {
        let fields = [CREATE_TIME, EMAIL];
        assert_eq!(order_by(None, &fields).unwrap(), Order::DEFAULT);
        assert_eq!(order_by(Some(" "), &fields).unwrap(), Order::DEFAULT);
        assert_eq!(
            order_by(Some("create_time desc"), &fields).unwrap(),
            Order::DEFAULT
        );
        let asc = order_by(Some("create_time"), &fields).unwrap();
        assert!(!asc.desc);
        assert_eq!(order_by(Some("create_time  asc"), &fields).unwrap(), asc);
        let email = order_by(Some("email desc"), &fields).unwrap();
        assert_eq!((email.field, email.desc), (EMAIL, true));
        for bad in [
            "update_time",
            "email up",
            "create_time desc x",
            "CREATE_TIME",
            "-create_time",
        ] {
            assert!(order_by(Some(bad), &fields).is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_round_trip_and_bind_to_collection_filter_and_order() {
        let filter = r#"state = "active""#;
        let order = Order::DEFAULT;
        let cursor = Cursor { seq: 42, key: None };
        let t = encode_token("identities", filter, &order, &cursor);
        assert_eq!(
            decode_token(Some(&t), "identities", filter, &order).unwrap(),
            Some(cursor)
        );
        // Another filter, another collection, another order: refused.
        assert!(decode_token(Some(&t), "identities", r#"state = "inactive""#, &order).is_err());
        assert!(decode_token(Some(&t), "service_accounts", filter, &order).is_err());
        let asc = Order {
            field: CREATE_TIME,
            desc: false,
        };
        assert!(decode_token(Some(&t), "identities", filter, &asc).is_err());

        let by_email = Order {
            field: EMAIL,
            desc: false,
        };
        let keyed = Cursor {
            seq: 7,
            key: Some("a.b@example.com".into()),
        };
        let t = encode_token("identities", "", &by_email, &keyed);
        assert_eq!(
            decode_token(Some(&t), "identities", "", &by_email).unwrap(),
            Some(keyed)
        );

        assert_eq!(decode_token(None, "identities", "", &order).unwrap(), None);
        assert_eq!(
            decode_token(Some(""), "identities", "", &order).unwrap(),
            None
        );
        for bad in ["garbage", "djEuLTEuMDAwMDAwMDA", "!!", "djIuMS4"] {
            assert!(
                decode_token(Some(bad), "identities", "", &order).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn keysets_page_in_either_direction() {
        let mut w = Where::default();
        let k = Keyset {
            order: Order::DEFAULT,
            after: Some(Cursor { seq: 9, key: None }),
            limit: 10,
        };
        let (tail, col) = k.apply(&mut w);
        assert_eq!(tail, "ORDER BY seq DESC LIMIT 11");
        assert_eq!(col, None);
        assert_eq!(w.sql(), "WHERE seq < ?");

        let mut w = Where::default();
        let k = Keyset {
            order: Order {
                field: EMAIL,
                desc: false,
            },
            after: Some(Cursor {
                seq: 9,
                key: Some("a".into()),
            }),
            limit: 10,
        };
        let (tail, col) = k.apply(&mut w);
        assert_eq!(tail, "ORDER BY email_lower ASC, seq ASC LIMIT 11");
        assert_eq!(col, Some("email_lower"));
        assert_eq!(w.sql(), "WHERE (email_lower, seq) > (?, ?)");
    }
}
