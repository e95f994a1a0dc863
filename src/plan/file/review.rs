//! The check that a plan shows for review what it applies.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::super::{Action, Change, LISTED_PER_GROUP, ObjectKind, PlanFooter, PlanLine};

/// What a plan shows for review (counts and the sample of each group's first changes, with
/// the fields of creates) checked against the change lines `apply` executes, so an edited
/// and re-sealed plan cannot show one thing and do another. The sample is, by construction,
/// the first [`LISTED_PER_GROUP`] changes of each kind and action in file order; a create's
/// fields in the sample must hash to the desired digest its change line carries, which
/// `apply` checks against the record it re-reads from the source.
#[derive(Default)]
pub(super) struct ReviewCheck {
    counts: HashMap<(ObjectKind, Action), u64>,
    first: HashMap<(ObjectKind, Action), Vec<Change>>,
}

impl ReviewCheck {
    pub(super) fn add(&mut self, line: &[u8]) -> Result<(), String> {
        #[derive(serde::Deserialize)]
        struct Probe {
            change: KindAction,
        }
        #[derive(serde::Deserialize)]
        struct KindAction {
            kind: ObjectKind,
            action: Action,
        }
        let probe: Probe = serde_json::from_slice(line).map_err(|e| e.to_string())?;
        let group = (probe.change.kind, probe.change.action);
        let count = self.counts.entry(group).or_default();
        *count += 1;
        if *count <= LISTED_PER_GROUP as u64 {
            match serde_json::from_slice::<PlanLine>(line) {
                Ok(PlanLine::Change(c)) => self.first.entry(group).or_default().push(c),
                Ok(_) => return Err("not a change".into()),
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    }

    pub(super) fn check(mut self, footer: &PlanFooter) -> Result<(), String> {
        for g in &footer.groups {
            let have = self.counts.remove(&(g.kind, g.action)).unwrap_or(0);
            if have != g.count {
                return Err(format!(
                    "it counts {} {} to be {} but holds {have}",
                    g.count,
                    g.kind.plural(),
                    g.action.verb()
                ));
            }
        }
        if let Some(((kind, action), n)) = self.counts.iter().next() {
            return Err(format!(
                "it holds {n} {} to be {} that it does not count",
                kind.plural(),
                action.verb()
            ));
        }
        let mut position: HashMap<(ObjectKind, Action), usize> = HashMap::new();
        for shown in &footer.sample {
            let group = (shown.kind, shown.action);
            let i = position.entry(group).or_default();
            let line = self
                .first
                .get(&group)
                .and_then(|changes| changes.get(*i))
                .ok_or_else(|| {
                    format!(
                        "its sample shows {} `{}` that is not among its changes",
                        shown.kind.noun(),
                        shown.key
                    )
                })?;
            *i += 1;
            let same = if shown.kind == ObjectKind::Identity && shown.action == Action::Create {
                // The line carries no fields; the sample's must be the record the digest is of.
                let fields: BTreeMap<String, Value> = shown
                    .fields
                    .iter()
                    .filter_map(|f| Some((f.path.clone(), f.after.clone()?)))
                    .collect();
                let bound = shown.fields.is_empty()
                    || shown.desired_digest.as_deref()
                        == Some(crate::diff::desired_digest(&fields).as_str());
                bound
                    && Change {
                        fields: Vec::new(),
                        ..shown.clone()
                    } == *line
            } else {
                shown == line
            };
            if !same {
                return Err(format!(
                    "its sample shows {} `{}` differently from the change it applies",
                    shown.kind.noun(),
                    shown.key
                ));
            }
        }
        for (group, changes) in &self.first {
            if position.get(group).copied().unwrap_or(0) != changes.len() {
                return Err(format!(
                    "its sample leaves out some of the first {} to be {}",
                    group.0.plural(),
                    group.1.verb()
                ));
            }
        }
        Ok(())
    }
}
