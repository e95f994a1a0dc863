//! `${env:NAME}` interpolation in manifest strings. An undefined variable is an error (a
//! silently empty signer key would make every Firebase login fail after cutover). `$${`
//! writes a literal `${`.

/// Replaces every `${env:NAME}` in `input` using `lookup`. Returns the name of the first
/// undefined variable, or a description of a malformed reference, as the error.
pub fn interpolate(input: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                return Err(format!("unterminated `${{` in `{input}`"));
            };
            let reference = &after[..end];
            let Some(name) = reference.strip_prefix("env:") else {
                return Err(format!(
                    "`${{{reference}}}` is not a supported reference (use `${{env:NAME}}`)"
                ));
            };
            if name.is_empty() {
                return Err("`${env:}` names no variable".to_string());
            }
            match lookup(name) {
                Some(value) => out.push_str(&value),
                None => return Err(format!("environment variable `{name}` is not set")),
            }
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Interpolates every string in a JSON value tree in place. On error, returns the message
/// and the original string that failed, so the caller can locate it in the file.
pub fn interpolate_value(
    value: &mut serde_json::Value,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), (String, String)> {
    match value {
        serde_json::Value::String(s) => {
            if s.contains('$') {
                let original = s.clone();
                *s = interpolate(s, lookup).map_err(|m| (m, original))?;
            }
            Ok(())
        }
        serde_json::Value::Array(items) => items
            .iter_mut()
            .try_for_each(|v| interpolate_value(v, lookup)),
        serde_json::Value::Object(map) => map
            .values_mut()
            .try_for_each(|v| interpolate_value(v, lookup)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("s3cr3t".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn replaces_references() {
        assert_eq!(interpolate("a ${env:KEY} b", &env).unwrap(), "a s3cr3t b");
        assert_eq!(interpolate("${env:EMPTY}", &env).unwrap(), "");
        assert_eq!(
            interpolate("cost $5 and $${env:KEY}", &env).unwrap(),
            "cost $5 and ${env:KEY}"
        );
    }

    #[test]
    fn undefined_and_malformed_are_errors() {
        assert!(
            interpolate("${env:NOPE}", &env)
                .unwrap_err()
                .contains("`NOPE` is not set")
        );
        assert!(
            interpolate("${env:KEY", &env)
                .unwrap_err()
                .contains("unterminated")
        );
        assert!(
            interpolate("${file:x}", &env)
                .unwrap_err()
                .contains("not a supported")
        );
    }
}
