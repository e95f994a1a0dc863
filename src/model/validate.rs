//! Checks shared by every source and by the emulator: the shapes Avnology accepts for the
//! fields it validates (email, E.164 phone, username).

/// Why a value was rejected, phrased for an error message.
pub type Problem = String;

/// A pragmatic email check: one `@`, a non-empty local part, a domain with a dot and no
/// spaces. Full RFC 5322 is not the point; catching `alice.example.com` and `bob@` is.
pub fn email(value: &str) -> Result<(), Problem> {
    let bad = || Err(format!("`{value}` is not a valid email address"));
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad();
    }
    let Some((local, domain)) = value.split_once('@') else {
        return bad();
    };
    if local.is_empty() || domain.contains('@') || local.len() > 64 || value.len() > 254 {
        return bad();
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2
        || labels.iter().any(|l| {
            l.is_empty()
                || l.starts_with('-')
                || l.ends_with('-')
                || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
    {
        return bad();
    }
    Ok(())
}

/// E.164: `+` then 2–15 digits, the first not zero.
pub fn phone(value: &str) -> Result<(), Problem> {
    let digits = value.strip_prefix('+').unwrap_or("");
    let ok = (2..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0');
    if ok {
        Ok(())
    } else {
        Err(format!("`{value}` is not an E.164 phone number"))
    }
}

/// Avnology usernames: 3–64 characters of `[A-Za-z0-9_-]`.
pub fn username(value: &str) -> Result<(), Problem> {
    let ok = (3..=64).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "username `{value}` must be 3–64 characters of letters, digits, `-` and `_`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in [
            "a@example.com",
            "first.last+tag@sub.example.co.uk",
            "x@xn--bcher-kva.de",
        ] {
            assert!(email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "alice.example.com",
            "bob@",
            "@example.com",
            "a b@example.com",
            "a@b",
            "a@@b.com",
            "a@-b.com",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones() {
        assert!(phone("+14155551234").is_ok());
        for bad in [
            "14155551234",
            "+0123",
            "+1",
            "+1415555abcd",
            "+1234567890123456",
        ] {
            assert!(phone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn usernames() {
        assert!(username("ada_l-1").is_ok());
        assert!(username("ab").is_err());
        assert!(username("has space").is_err());
    }
}
