//! The small AIP-160 subset the emulator's list calls accept:
//!
//! ```text
//! filter := term ( "AND" term )*
//! term   := FIELD ( "=" | "!=" ) STRING
//! STRING := '"' ( any char but '"' and '\', or '\' followed by any char )* '"'
//! ```
//!
//! `AND` is upper case (as AIP-160 requires); field names are checked against the list a
//! resource allows. Anything else — `OR`, `NOT`, parentheses, unquoted values, `:` — is
//! refused with an error naming the problem, because silently ignoring part of a filter
//! would return the wrong objects.

use std::fmt;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
}

/// One `field op "value"` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The field name, one of the allowed ones.
    pub field: String,
    /// The operator.
    pub op: Op,
    /// The unescaped value.
    pub value: String,
}

/// A parsed filter: terms that must all hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    /// The conjuncts, in the order written.
    pub terms: Vec<Term>,
}

impl Filter {
    /// True when some term is about `field`.
    pub fn names(&self, field: &str) -> bool {
        self.terms.iter().any(|t| t.field == field)
    }
}

/// Why a filter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FilterError {
    /// What is wrong, for the 400 message.
    pub message: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid filter: {}", self.message)
    }
}

fn err(message: impl Into<String>) -> FilterError {
    FilterError {
        message: message.into(),
    }
}

/// Parses `input`, allowing only the fields in `allowed`. An empty or all-space filter is
/// the empty filter.
pub fn parse(input: &str, allowed: &[&str]) -> Result<Filter, FilterError> {
    let mut p = Parser {
        chars: input.char_indices().peekable(),
        input,
    };
    let mut terms = Vec::new();
    p.skip_space();
    if p.at_end() {
        return Ok(Filter { terms });
    }
    loop {
        terms.push(p.term(allowed)?);
        p.skip_space();
        if p.at_end() {
            break;
        }
        let word = p.word();
        if word != "AND" {
            return Err(err(if word.is_empty() {
                format!("unexpected `{}`; terms are joined with `AND`", p.rest())
            } else {
                format!("unsupported `{word}`; only `AND` joins terms")
            }));
        }
        p.skip_space();
        if p.at_end() {
            return Err(err("a term must follow `AND`"));
        }
    }
    Ok(Filter { terms })
}

struct Parser<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    input: &'a str,
}

impl Parser<'_> {
    fn at_end(&mut self) -> bool {
        self.chars.peek().is_none()
    }

    fn rest(&mut self) -> &str {
        match self.chars.peek() {
            Some((i, _)) => &self.input[*i..],
            None => "",
        }
    }

    fn skip_space(&mut self) {
        while self.chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
    }

    fn word(&mut self) -> String {
        let mut out = String::new();
        while let Some((_, c)) = self
            .chars
            .next_if(|(_, c)| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        {
            out.push(c);
        }
        out
    }

    fn term(&mut self, allowed: &[&str]) -> Result<Term, FilterError> {
        let field = self.word();
        if field.is_empty() {
            return Err(err(format!("expected a field name at `{}`", self.rest())));
        }
        if !allowed.contains(&field.as_str()) {
            return Err(err(format!(
                "`{field}` cannot be filtered on (allowed: {})",
                allowed.join(", ")
            )));
        }
        self.skip_space();
        let op = match self.chars.next() {
            Some((_, '=')) => Op::Eq,
            Some((_, '!')) if self.chars.next_if(|(_, c)| *c == '=').is_some() => Op::Ne,
            _ => {
                return Err(err(format!("expected `=` or `!=` after `{field}`")));
            }
        };
        self.skip_space();
        if self.chars.next_if(|(_, c)| *c == '"').is_none() {
            return Err(err(format!(
                "the value for `{field}` must be a double-quoted string"
            )));
        }
        let mut value = String::new();
        loop {
            match self.chars.next() {
                None => return Err(err(format!("unterminated string for `{field}`"))),
                Some((_, '"')) => break,
                Some((_, '\\')) => match self.chars.next() {
                    Some((_, c)) => value.push(c),
                    None => return Err(err(format!("unterminated string for `{field}`"))),
                },
                Some((_, c)) => value.push(c),
            }
        }
        Ok(Term { field, op, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[&str] = &["email", "external_id", "state"];

    fn t(field: &str, op: Op, value: &str) -> Term {
        Term {
            field: field.into(),
            op,
            value: value.into(),
        }
    }

    #[test]
    fn parses_terms_joined_with_and() {
        let f = parse(
            r#"state = "active" AND external_id!="auth0|a\"b\\c"  AND email = """#,
            FIELDS,
        )
        .unwrap();
        assert_eq!(
            f.terms,
            vec![
                t("state", Op::Eq, "active"),
                t("external_id", Op::Ne, r#"auth0|a"b\c"#),
                t("email", Op::Eq, ""),
            ]
        );
        assert!(f.names("state"));
        assert!(!f.names("username"));
        assert_eq!(parse("  ", FIELDS).unwrap(), Filter::default());
    }

    #[test]
    fn an_injected_value_stays_a_value() {
        let f = parse(r#"external_id = "x\" OR email = \"y""#, FIELDS).unwrap();
        assert_eq!(
            f.terms,
            vec![t("external_id", Op::Eq, r#"x" OR email = "y"#)]
        );
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            r#"phone = "x""#,
            r"email = x",
            r#"email == "x""#,
            r#"email = "x" OR state = "active""#,
            r#"email = "x" and state = "active""#,
            r#"email = "x" AND"#,
            r#"email = "x"#,
            r#"(email = "x")"#,
            r#"email : "x""#,
            r#"email = "x" state = "y""#,
            r#"NOT email = "x""#,
        ] {
            assert!(parse(bad, FIELDS).is_err(), "{bad}");
        }
    }
}
