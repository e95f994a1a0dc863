//! The check at the end of an apply that trusted its journal: a resumed run skips the
//! changes its journal records as done, so before it reports success it counts, per owned
//! source, the identities the tenant now holds and compares them with what the plan expects
//! once applied. A journal that claims more than happened (edited, copied from another run,
//! or written before a restore of the tenant) shows up as a difference, never as success.

use std::collections::BTreeMap;

use crate::live::{Client, filter};
use crate::plan::Plan;
use crate::plan::live_index::owner_source;

/// One source whose live count differs from the plan's expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The owner-marker source.
    pub source: String,
    /// Identities the plan expects once applied.
    pub expected: u64,
    /// Identities the tenant holds.
    pub found: u64,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "source `{}`: the plan expects {} identities after apply, the tenant holds {}",
            self.source, self.expected, self.found
        )
    }
}

/// Counts the live identities of each source `plan` expects and returns the differences.
pub async fn check(client: &Client, plan: &Plan) -> crate::live::Result<Vec<Difference>> {
    let expected = &plan.footer.owned_after;
    if expected.is_empty() {
        return Ok(Vec::new());
    }
    let org_id = match plan.header.target.organization.as_deref() {
        Some(name) => match client.find_organization_by_name(name).await? {
            Some(org) => Some(org.id),
            None => {
                return Ok(differences(expected, &BTreeMap::new()));
            }
        },
        None => None,
    };
    let listing = org_id
        .as_deref()
        .map(|id| filter::all_equal(&[("organization_id", id)]));
    let mut found: BTreeMap<String, u64> = BTreeMap::new();
    client
        .for_each_identity(listing.as_deref(), |identity| {
            if let Some(source) = owner_source(&identity)
                && expected.contains_key(source)
            {
                *found.entry(source.to_string()).or_default() += 1;
            }
        })
        .await?;
    Ok(differences(expected, &found))
}

fn differences(expected: &BTreeMap<String, u64>, found: &BTreeMap<String, u64>) -> Vec<Difference> {
    expected
        .iter()
        .filter_map(|(source, &want)| {
            let have = found.get(source).copied().unwrap_or(0);
            (have != want).then(|| Difference {
                source: source.clone(),
                expected: want,
                found: have,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_short_of_its_expected_count_is_a_difference() {
        let expected = BTreeMap::from([("a".to_string(), 29), ("b".to_string(), 3)]);
        let found = BTreeMap::from([("a".to_string(), 29), ("b".to_string(), 1)]);
        assert_eq!(
            differences(&expected, &found),
            vec![Difference {
                source: "b".into(),
                expected: 3,
                found: 1
            }]
        );
        assert!(differences(&expected, &expected).is_empty());
        assert_eq!(differences(&expected, &BTreeMap::new()).len(), 2);
    }
}
