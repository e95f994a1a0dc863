//! The organization phase of a plan: the target organization is created first when the
//! tenant does not have it (never by a destroy plan).

use serde_json::Value;

use super::super::{Action, Change, ObjectKind};
use super::{PlanError, Planner};
use crate::diff::FieldChange;
use crate::model::ExternalId;
use crate::wire;

impl Planner<'_> {
    /// Plans the creation of the manifest's organization when `live` is `None`.
    pub(super) fn organization(
        &mut self,
        live: Option<&wire::Organization>,
    ) -> Result<(), PlanError> {
        let (Some(org), None, false) = (
            &self.manifest.target.organization,
            live,
            self.options.destroy,
        ) else {
            return Ok(());
        };
        self.emit(Change {
            kind: ObjectKind::Organization,
            action: Action::Create,
            key: ExternalId::from(org.clone()),
            source: None,
            live_id: None,
            etag: None,
            desired_digest: None,
            fields: vec![FieldChange {
                path: "name".into(),
                before: None,
                after: Some(Value::String(org.clone())),
                sensitive: false,
            }],
            record: None,
        })
    }
}
