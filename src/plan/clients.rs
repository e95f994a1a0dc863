//! The client half of a plan: OAuth clients and service accounts from `[[clients]]` and
//! `[[client_sources]]`, compared with the live tenant.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::ownership::{Owner, Ownership, marker_source};
use super::{Action, Change, ObjectKind, SkippedRecord, SourceDigest};
use crate::diff;
use crate::diff::client::{
    ClientDiff, desired_client_fields, desired_service_account_fields, diff_client,
    diff_service_account,
};
use crate::manifest::{MANIFEST_CLIENTS, Manifest};
use crate::model::{ClientDecl, ExternalId};
use crate::sources::SourceError;
use crate::sources::clients::{self, ClientItem};
use crate::wire;

/// A desired client kept for apply.
#[derive(Debug, Clone)]
pub struct DesiredClient {
    /// The declaration.
    pub decl: ClientDecl,
    /// Its source name.
    pub source: String,
    /// Its field projection.
    pub fields: BTreeMap<String, Value>,
    /// Digest of `fields`.
    pub digest: String,
}

/// What the client half contributes to a plan.
#[derive(Debug, Default)]
pub(crate) struct ClientPlan {
    /// OAuth client creates and updates.
    pub clients: Vec<Change>,
    /// Service account creates and updates.
    pub service_accounts: Vec<Change>,
    /// Deletes (prune or destroy).
    pub deletes: Vec<Change>,
    /// Desired records by kind and key.
    pub desired: HashMap<(ObjectKind, ExternalId), DesiredClient>,
    /// Skipped records.
    pub skipped: Vec<SkippedRecord>,
    /// Invalid records.
    pub invalid: Vec<SkippedRecord>,
    /// Warnings.
    pub warnings: Vec<String>,
    /// Source files read.
    pub sources: Vec<SourceDigest>,
    /// Records already as declared.
    pub no_op: u64,
    /// Records read.
    pub records: u64,
    /// Declared clients whose name or key a live client not theirs already uses.
    pub conflicts: Vec<super::Conflict>,
    /// Every declared client and service account, by kind and key (for `--only` checks).
    pub declared: std::collections::HashSet<(ObjectKind, ExternalId)>,
}

/// The live clients and service accounts a client plan is computed against.
pub(crate) struct LiveClients<'a> {
    /// OAuth clients by external_id.
    pub clients: &'a HashMap<ExternalId, wire::OAuthClient>,
    /// Service accounts by external_id.
    pub accounts: &'a HashMap<ExternalId, wire::ServiceAccount>,
    /// OAuth clients without an external_id.
    pub unkeyed_clients: &'a [wire::OAuthClient],
    /// Service accounts without an external_id.
    pub unkeyed_accounts: &'a [wire::ServiceAccount],
}

/// A live object that holds a declared client's name: id, external_id, name, marker source.
type Holder = (String, Option<ExternalId>, String, Option<String>);

impl LiveClients<'_> {
    /// A live object not this manifest's that already uses `name` (or, for an OAuth client,
    /// has `key` as its Avnology `client_id`). Two of the manifest's own clients may share a
    /// name; someone else's is not silently duplicated.
    fn holder(
        &self,
        kind: ObjectKind,
        key: &str,
        name: &str,
        ownership: &Ownership,
    ) -> Option<Holder> {
        let name = name.to_lowercase();
        let other = |external_id: &Option<String>, metadata: &serde_json::Map<String, Value>| {
            external_id.as_deref() != Some(key) && !ownership.owner(metadata).is_ours()
        };
        match kind {
            ObjectKind::OAuthClient => self
                .clients
                .values()
                .chain(self.unkeyed_clients)
                .find(|l| {
                    other(&l.external_id, &l.metadata)
                        && (l.client_name.to_lowercase() == name || l.client_id == key)
                })
                .map(|l| {
                    (
                        l.client_id.clone(),
                        l.external_id.clone().map(ExternalId::from),
                        l.client_name.clone(),
                        owner_source(&l.metadata),
                    )
                }),
            _ => self
                .accounts
                .values()
                .chain(self.unkeyed_accounts)
                .find(|l| other(&l.external_id, &l.metadata) && l.name.to_lowercase() == name)
                .map(|l| {
                    (
                        l.id.clone(),
                        l.external_id.clone().map(ExternalId::from),
                        l.name.clone(),
                        owner_source(&l.metadata),
                    )
                }),
        }
    }
}

fn owner_source(metadata: &serde_json::Map<String, Value>) -> Option<String> {
    marker_source(metadata).map(str::to_string)
}

/// Plans the clients of `manifest` against the live clients.
pub(crate) fn plan_clients(
    manifest: &Manifest,
    live: &LiveClients<'_>,
    destroy: bool,
    digest_path: &dyn Fn(&std::path::Path) -> Result<super::FileDigest, super::PlanError>,
) -> Result<ClientPlan, super::PlanError> {
    let (live_clients, live_accounts) = (live.clients, live.accounts);
    let mut out = ClientPlan::default();
    let mut seen: HashMap<(ObjectKind, ExternalId), String> = HashMap::new();
    let ownership = Ownership::of(manifest);

    let mut accept = |out: &mut ClientPlan, decl: ClientDecl, source: &str, location: String| {
        let kind = match decl {
            ClientDecl::OAuth(_) => ObjectKind::OAuthClient,
            ClientDecl::ServiceAccount(_) => ObjectKind::ServiceAccount,
        };
        let key = decl.external_id().clone();
        if let Some(first) = seen.get(&(kind, key.clone())) {
            out.invalid.push(SkippedRecord {
                source: source.to_string(),
                location,
                external_id: Some(key.clone()),
                reason: format!("duplicate {} key, first declared at {first}", kind.noun()),
            });
            return;
        }
        seen.insert((kind, key.clone()), location.clone());
        if destroy {
            return;
        }
        let live_metadata = match kind {
            ObjectKind::OAuthClient => live_clients.get(&key).map(|l| &l.metadata),
            _ => live_accounts.get(&key).map(|l| &l.metadata),
        };
        if live_metadata.is_none() {
            let name = match &decl {
                ClientDecl::OAuth(c) => c.name.as_str(),
                ClientDecl::ServiceAccount(s) => s.name.as_str(),
            };
            if let Some((live_id, live_external_id, live_name, live_owner)) =
                live.holder(kind, &key, name, &ownership)
            {
                out.conflicts.push(super::Conflict {
                    kind,
                    key: key.clone(),
                    source: source.to_string(),
                    location,
                    desired: Some(name.to_string()),
                    live_id,
                    live_external_id,
                    live: Some(live_name),
                    live_owner,
                    reason: format!(
                        "a live {} not declared under this key already has this name (or this key as its client_id); rename one of them",
                        kind.noun()
                    ),
                });
                return;
            }
        }
        if let Some(Owner::Foreign(other)) = live_metadata.map(|m| ownership.owner(m)) {
            out.warnings.push(format!(
                "{} `{key}` belongs to source `{other}`, which this manifest does not name; left untouched (if `{other}` was renamed, add adopt_sources = [\"{other}\"] to [policy] to take it over)",
                kind.noun()
            ));
            return;
        }
        let (fields, d) = match &decl {
            ClientDecl::OAuth(c) => {
                let f = desired_client_fields(c, source);
                let d = diff_client(&f, live_clients.get(&key));
                (f, d)
            }
            ClientDecl::ServiceAccount(s) => {
                let f = desired_service_account_fields(s, source);
                let d = diff_service_account(&f, live_accounts.get(&key));
                (f, d)
            }
        };
        let (live_id, etag) = match kind {
            ObjectKind::OAuthClient => live_clients
                .get(&key)
                .map(|l| (l.client_id.clone(), l.etag.clone())),
            _ => live_accounts
                .get(&key)
                .map(|l| (l.id.clone(), l.etag.clone())),
        }
        .unzip();
        let (action, changes) = match d {
            ClientDiff::NoOp => {
                out.no_op += 1;
                return;
            }
            ClientDiff::Unowned => {
                out.warnings.push(format!(
                    "{} `{key}` exists in the tenant but was not created by avnology-migrate; it is left untouched",
                    kind.noun()
                ));
                return;
            }
            ClientDiff::TypeChanged { live, desired } => {
                out.warnings.push(format!(
                    "oauth_client `{key}` is `{live}` in the tenant but declared `{desired}`; Avnology cannot change a client's type in place (delete it in Avnology, then apply again)"
                ));
                return;
            }
            ClientDiff::Create(c) => (Action::Create, c),
            ClientDiff::Update(c) => (Action::Update, c),
        };
        let digest = diff::desired_digest(&fields);
        let change = Change {
            kind,
            action,
            key: key.clone(),
            source: Some(source.to_string()),
            live_id,
            etag,
            desired_digest: Some(digest.clone()),
            fields: changes,
            record: None,
        };
        match kind {
            ObjectKind::OAuthClient => out.clients.push(change),
            _ => out.service_accounts.push(change),
        }
        out.desired.insert(
            (kind, key),
            DesiredClient {
                decl,
                source: source.to_string(),
                fields,
                digest,
            },
        );
    };

    // [[clients]] in the manifest.
    for (i, c) in manifest.clients.iter().enumerate() {
        out.records += 1;
        let decl = ClientDecl::OAuth(c.clone());
        let location = format!("{} ([[clients]] entry {})", manifest.path.display(), i + 1);
        if let Err(message) = clients::validate(&decl) {
            out.invalid.push(SkippedRecord {
                source: MANIFEST_CLIENTS.into(),
                location,
                external_id: Some(c.external_id.clone()),
                reason: message,
            });
            continue;
        }
        accept(&mut out, decl, MANIFEST_CLIENTS, location);
    }

    // [[client_sources]].
    for source in &manifest.client_sources {
        out.sources.push(SourceDigest {
            name: source.name.clone(),
            provider: source.provider.as_str().to_string(),
            files: vec![{
                let digest = digest_path(&source.path)?;
                match &source.sha256 {
                    Some(pin) if *pin != digest.sha256 => {
                        return Err(super::PlanError::PinMismatch {
                            path: source.path.display().to_string(),
                            source_name: source.name.clone(),
                            manifest: manifest.path.display().to_string(),
                            pinned: pin.clone(),
                            actual: digest.sha256,
                        });
                    }
                    _ => digest,
                }
            }],
        });
        let mut items = Vec::new();
        let stats = clients::read_client_source(source, &mut |item| items.push(item))
            .map_err(super::PlanError::Source)?;
        out.records += stats.records;
        for item in items {
            match item {
                ClientItem::Client(decl, location) => {
                    accept(&mut out, *decl, &source.name, location.to_string());
                }
                ClientItem::Skipped(s) => out.skipped.push(SkippedRecord {
                    source: source.name.clone(),
                    location: s.location.to_string(),
                    external_id: s.external_id.map(ExternalId::from),
                    reason: s.reason.describe().to_string(),
                }),
                ClientItem::Invalid(e) => out.invalid.push(invalid_record(&source.name, &e)),
                ClientItem::Warning(w) => {
                    out.warnings.push(format!("source `{}`: {w}", source.name));
                }
            }
        }
    }

    // Deletes: this manifest's clients no source declares (prune), or every one of them
    // (destroy); never another source's.
    let prune = manifest.policy.prune;
    let declared = |kind: ObjectKind, key: &ExternalId| seen.contains_key(&(kind, key.clone()));
    let mut deletes: Vec<Change> = Vec::new();
    // The live maps are keyed by each object's external_id.
    for (key, l) in live_clients {
        if ownership.owner(&l.metadata).is_ours()
            && (destroy || (prune && !declared(ObjectKind::OAuthClient, key)))
        {
            deletes.push(delete(
                ObjectKind::OAuthClient,
                key.clone(),
                owner_source(&l.metadata),
                &l.client_id,
                &l.etag,
            ));
        }
    }
    for (key, l) in live_accounts {
        if ownership.owner(&l.metadata).is_ours()
            && (destroy || (prune && !declared(ObjectKind::ServiceAccount, key)))
        {
            deletes.push(delete(
                ObjectKind::ServiceAccount,
                key.clone(),
                owner_source(&l.metadata),
                &l.id,
                &l.etag,
            ));
        }
    }
    deletes.sort_by(|a, b| (a.kind.noun(), &a.key).cmp(&(b.kind.noun(), &b.key)));
    out.deletes = deletes;
    out.declared = seen.into_keys().collect();
    Ok(out)
}

fn delete(
    kind: ObjectKind,
    key: ExternalId,
    source: Option<String>,
    id: &str,
    etag: &str,
) -> Change {
    Change {
        kind,
        action: Action::Delete,
        key,
        source,
        live_id: Some(id.to_string()),
        etag: Some(etag.to_string()),
        desired_digest: None,
        fields: Vec::new(),
        record: None,
    }
}

fn invalid_record(source: &str, e: &SourceError) -> SkippedRecord {
    SkippedRecord {
        source: source.to_string(),
        location: e.location.to_string(),
        external_id: e.external_id.clone().map(ExternalId::from),
        reason: e.message.clone(),
    }
}

/// Live clients and service accounts not owned by this manifest (counted in the summary,
/// never touched).
pub(crate) fn unowned(
    live_clients: &HashMap<ExternalId, wire::OAuthClient>,
    live_accounts: &HashMap<ExternalId, wire::ServiceAccount>,
    ownership: &Ownership,
) -> u64 {
    (live_clients
        .values()
        .filter(|l| !ownership.owner(&l.metadata).is_ours())
        .count()
        + live_accounts
            .values()
            .filter(|l| !ownership.owner(&l.metadata).is_ours())
            .count()) as u64
}
