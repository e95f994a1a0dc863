//! List paging: `page_size` (default 25, clamped to 100) and opaque `page_token`s.
//!
//! Pages are keyset pages over the table's rowid, ascending, so a listing is stable while
//! other clients insert: a new row always lands after every token already handed out. A
//! token is base64url of `v1.<last rowid>.<filter digest>`; the digest binds it to the filter
//! it was issued for, so reusing a token with a different filter is refused instead of
//! returning a silently wrong page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// Documented default page size.
pub const DEFAULT_PAGE_SIZE: u32 = 25;
/// Documented maximum page size; larger requests are clamped to it.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Parses `page_size`: absent or `0` means the default, above the maximum is clamped,
/// anything negative or not a number is a 400.
pub fn page_size(raw: Option<&str>) -> Result<u32, ApiError> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(DEFAULT_PAGE_SIZE);
    };
    let bad = || ApiError::field("page_size", "page_size must be a non-negative integer");
    let n: i64 = raw.parse().map_err(|_| bad())?;
    match n {
        n if n < 0 => Err(bad()),
        0 => Ok(DEFAULT_PAGE_SIZE),
        n => Ok(u32::try_from(n).unwrap_or(u32::MAX).min(MAX_PAGE_SIZE)),
    }
}

/// The digest a token is bound to: the normalised filter text.
fn filter_digest(filter: &str) -> String {
    let digest = Sha256::digest(filter.trim().as_bytes());
    hex::encode(&digest[..4])
}

/// The token for the page after the row `last_rowid`.
pub fn encode_token(last_rowid: i64, filter: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1.{last_rowid}.{}", filter_digest(filter)))
}

/// The rowid after which the requested page starts (0 for the first page).
pub fn decode_token(token: Option<&str>, filter: &str) -> Result<i64, ApiError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    let bad = || ApiError::field("page_token", "page_token is not a token this server issued");
    let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let mut parts = text.split('.');
    let (Some("v1"), Some(rowid), Some(digest), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let rowid: i64 = rowid.parse().map_err(|_| bad())?;
    if rowid < 0 {
        return Err(bad());
    }
    if digest != filter_digest(filter) {
        return Err(ApiError::field(
            "page_token",
            "page_token was issued for a different filter",
        ));
    }
    Ok(rowid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes() {
        assert_eq!(page_size(None).unwrap(), 25);
        assert_eq!(page_size(Some("0")).unwrap(), 25);
        assert_eq!(page_size(Some("7")).unwrap(), 7);
        assert_eq!(page_size(Some("100")).unwrap(), 100);
        assert_eq!(page_size(Some("1000000000000")).unwrap(), 100);
        for bad in ["-1", "abc", "1.5", "10x"] {
            assert!(page_size(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_round_trip_and_bind_to_the_filter() {
        let t = encode_token(42, r#"state = "active""#);
        assert_eq!(decode_token(Some(&t), r#"state = "active""#).unwrap(), 42);
        assert!(decode_token(Some(&t), r#"state = "inactive""#).is_err());
        assert_eq!(decode_token(None, "").unwrap(), 0);
        assert_eq!(decode_token(Some(""), "").unwrap(), 0);
        for bad in ["garbage", "djEuLTEuMDAwMDAwMDA", "!!"] {
            assert!(decode_token(Some(bad), "").is_err(), "{bad}");
        }
    }
}
