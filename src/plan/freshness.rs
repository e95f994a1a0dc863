//! Whether a saved plan may still be applied: it was made for this tenant URL, from this
//! manifest and these source files (their SHA-256 digests are in its header), and, when it
//! names an organization, against this tenant's organization. The checks return a typed
//! [`NotCurrent`]; the caller reads the live organization and the journal for
//! [`check_tenant`], and prints what is refused. Each refusal says that nothing was applied:
//! they all run before any request that could change the tenant.

use std::path::PathBuf;

use crate::manifest::{Manifest, TargetUrl};
use crate::plan::{Action, ObjectKind, Plan};

/// Why a saved plan may not be applied here, now.
#[derive(Debug, thiserror::Error)]
pub enum NotCurrent {
    /// The manifest names no target URL (the message says where one is read from).
    #[error("{0}")]
    NoTarget(String),
    /// The plan was made for another tenant URL.
    #[error(
        "the plan was made for the tenant at `{planned}`, but the target is now `{now}`; nothing was applied"
    )]
    OtherTarget {
        /// The URL the plan records.
        planned: String,
        /// The manifest's URL now.
        now: String,
    },
    /// The manifest's digest is not the one the plan records.
    #[error(
        "the plan is stale: the manifest `{}` changed since the plan was made; nothing was applied",
        path.display()
    )]
    ManifestChanged {
        /// The manifest.
        path: PathBuf,
    },
    /// A source file's digest is not the one the plan records.
    #[error(
        "the plan is stale: source file `{}` (source `{source_name}`) changed since the plan was made; nothing was applied",
        path.display()
    )]
    SourceChanged {
        /// The file, below the manifest's folder.
        path: PathBuf,
        /// Its source.
        source_name: String,
    },
    /// The tenant's organization of that name has another id than the plan records.
    #[error(
        "the plan was made for organization `{name}` with id {planned}, but this tenant's `{name}` is {live}: another tenant, or the organization was re-created; nothing was applied"
    )]
    OrganizationReplaced {
        /// The organization's name.
        name: String,
        /// The id the plan records.
        planned: String,
        /// The id in this tenant.
        live: String,
    },
    /// The tenant has no organization of the name the plan records an id for.
    #[error(
        "the plan was made for organization `{name}` with id {planned}, which this tenant does not have; nothing was applied"
    )]
    OrganizationMissing {
        /// The organization's name.
        name: String,
        /// The id the plan records.
        planned: String,
    },
    /// The plan names an existing organization without recording its id.
    #[error(
        "the plan does not record the id of organization `{name}` (an older avnology-migrate made it); nothing was applied"
    )]
    OrganizationUnrecorded {
        /// The organization's name.
        name: String,
    },
    /// The plan creates the organization, which exists but not by this plan's journal.
    #[error(
        "organization `{name}` exists in this tenant ({live}) but did not when the plan was made; nothing was applied"
    )]
    OrganizationAppeared {
        /// The organization's name.
        name: String,
        /// Its id in this tenant.
        live: String,
    },
}

impl NotCurrent {
    /// What to do about it.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::NoTarget(_) => None,
            Self::OtherTarget { .. } => Some(
                "apply a plan where it was made: check AVNOLOGY_API_URL and [target] url, or plan again for this tenant",
            ),
            Self::ManifestChanged { .. } | Self::SourceChanged { .. } => {
                Some("run `avnology-migrate plan --out PLAN` again and review the new plan")
            }
            Self::OrganizationReplaced { .. }
            | Self::OrganizationMissing { .. }
            | Self::OrganizationUnrecorded { .. }
            | Self::OrganizationAppeared { .. } => {
                Some("apply a plan to the tenant it was made against, or plan again for this one")
            }
        }
    }

    /// The refusal as an error with its `hint:` line.
    pub fn hinted(self) -> anyhow::Error {
        match self.hint() {
            Some(hint) => crate::error::with_hint(self, hint),
            None => anyhow::Error::new(self),
        }
    }
}

/// Refuses a manifest without a target URL.
pub fn check_target_set(manifest: &Manifest) -> Result<(), NotCurrent> {
    match &manifest.target.url {
        TargetUrl::Unset(message) => Err(NotCurrent::NoTarget(message.clone())),
        _ => Ok(()),
    }
}

/// Refuses a plan made for another tenant URL, or whose manifest or source files changed
/// since it was made. The source files are read again for their digests.
pub fn check_current(plan: &Plan, manifest: &Manifest) -> Result<(), NotCurrent> {
    check_target_set(manifest)?;
    let now = crate::plan::build::target_url(manifest);
    if now != plan.header.target.url {
        return Err(NotCurrent::OtherTarget {
            planned: plan.header.target.url.clone(),
            now,
        });
    }
    if manifest.sha256 != plan.header.manifest.sha256 {
        return Err(NotCurrent::ManifestChanged {
            path: manifest.path.clone(),
        });
    }
    for source in &plan.header.sources {
        for file in &source.files {
            let path = manifest.dir.join(&file.path);
            // An unreadable file has no digest, which no plan records.
            let digest = crate::plan::file::sha256_path(&path).unwrap_or_default();
            if digest != file.sha256 {
                return Err(NotCurrent::SourceChanged {
                    path,
                    source_name: source.name.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Refuses a tenant other than the one the plan was made against: the plan records its
/// organization's id, and an alias URL, another tenant or a re-created organization has
/// another. `live` is the id of the tenant's organization of the plan's name, if it has
/// one; `journaled` the id the plan's journal records this plan created it as. A plan that
/// creates the organization is bound by URL only until its journal records that create.
pub fn check_tenant(
    plan: &Plan,
    live: Option<&str>,
    journaled: Option<&str>,
) -> Result<(), NotCurrent> {
    let Some(name) = plan.header.target.organization.as_deref() else {
        return Ok(());
    };
    let name = name.to_string();
    match (plan.header.target.organization_id.as_deref(), live) {
        (Some(planned), Some(live)) if live == planned => Ok(()),
        (Some(planned), Some(live)) => Err(NotCurrent::OrganizationReplaced {
            name,
            planned: planned.to_string(),
            live: live.to_string(),
        }),
        (Some(planned), None) => Err(NotCurrent::OrganizationMissing {
            name,
            planned: planned.to_string(),
        }),
        (None, Some(_)) if plan.count(ObjectKind::Organization, Action::Create) == 0 => {
            Err(NotCurrent::OrganizationUnrecorded { name })
        }
        (None, Some(live)) if journaled == Some(live) => Ok(()),
        (None, Some(live)) => Err(NotCurrent::OrganizationAppeared {
            name,
            live: live.to_string(),
        }),
        (None, None) => Ok(()),
    }
}
