//! Firebase's modified-scrypt material as exports carry it: base64 byte strings in either
//! alphabet. `firebase auth:export` converts the API's web-safe base64 (`-`, `_`) to standard
//! base64 with padding, but other tools (the Auth emulator, Admin SDK scripts, hand-converted
//! files) hand over web-safe or unpadded values. The model holds one spelling, standard base64
//! with padding, so the same bytes always give the same fingerprint and the API has one form
//! to read. Clerk's `scrypt_firebase` digests carry the same material and use this module too.

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};

/// Accepts padded and unpadded input alike.
const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);

/// Decodes standard or URL-safe base64, padded or not. `None` for anything else (including
/// a mix of the two alphabets) and for an empty value.
pub(crate) fn decode_base64(value: &str) -> Option<Vec<u8>> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT)
        .decode(value)
        .or_else(|_| GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT).decode(value))
        .ok()
        .filter(|bytes| !bytes.is_empty())
}

/// `value` re-encoded as standard base64 with padding, or `None` when it is not base64 (see
/// [`decode_base64`]).
pub(crate) fn standard_base64(value: &str) -> Option<String> {
    decode_base64(value).map(|bytes| STANDARD.encode(bytes))
}

/// Checks the project parameters' ranges the way Firebase's importer and Avnology do
/// (`rounds` 1–8, `mem_cost` 1–14).
pub(crate) fn params_in_range(rounds: u32, mem_cost: u32) -> bool {
    (1..=8).contains(&rounds) && (1..=14).contains(&mem_cost)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_alphabets_with_or_without_padding_normalise_to_standard() {
        let standard = "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==";
        let web_safe = standard.replace('/', "_").replace('+', "-");
        let unpadded = web_safe.trim_end_matches('=');
        for input in [standard, &web_safe, unpadded, &format!(" {standard}\n")] {
            assert_eq!(standard_base64(input).as_deref(), Some(standard), "{input}");
        }
        assert_eq!(
            standard_base64("42xEC+ixf3L2lw").as_deref(),
            Some("42xEC+ixf3L2lw==")
        );
        assert_eq!(standard_base64("Bw").as_deref(), Some("Bw=="));
        assert_eq!(STANDARD.encode([7u8]), "Bw==");
    }

    #[test]
    fn non_base64_is_refused() {
        for bad in ["", "  ", "not base64!", "ab+c_d==", "a"] {
            assert_eq!(standard_base64(bad), None, "{bad}");
        }
    }
}
