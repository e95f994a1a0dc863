//! Applying OAuth client and service account changes. A create mints a secret (confidential
//! clients) or an API key (service accounts): it goes to the `--secrets-out` file at once and
//! nowhere else.

use serde_json::{Map, Value};

use super::executor::{Attempt, OutcomeKind};
use super::guard;
use super::request::idempotency_key;
use super::secrets::{Minted, SecretsFile};
use crate::diff::client::{ClientDiff, diff_client, diff_service_account, mask_path};
use crate::live::{Client, Error};
use crate::model::ClientDecl;
use crate::model::OWNER_KEY;
use crate::plan::ownership::Ownership;
use crate::plan::{Action, Change, DesiredClient, DesiredSet};
use crate::wire;

fn uncertain(e: &Error) -> bool {
    e.is_retryable() || e.status().is_some_and(|s| s >= 500)
}

fn failed(e: &dyn std::fmt::Display) -> Attempt {
    Attempt::Final(OutcomeKind::Failed {
        error: e.to_string(),
    })
}

/// The live object an update or delete names, fetched first (its `external_id` and
/// metadata): `Some` ends the change — refused by [`guard::refusal`], already deleted, or
/// unreadable — and `None` lets it go on.
fn recheck_live(
    change: &Change,
    id: &str,
    fetched: crate::live::Result<(Option<String>, Map<String, Value>)>,
    ownership: &Ownership,
) -> Option<Attempt> {
    match fetched {
        Ok((external_id, metadata)) => {
            guard::refusal(change, id, external_id.as_deref(), &metadata, ownership)
                .map(|refused| failed(&refused))
        }
        Err(e) if e.is_not_found() && change.action == Action::Delete => {
            Some(Attempt::Final(OutcomeKind::AlreadyApplied {
                id: id.to_string(),
            }))
        }
        Err(e) if uncertain(&e) => Some(Attempt::Uncertain(e.to_string())),
        Err(e) => Some(failed(&e)),
    }
}

fn metadata(d: &DesiredClient) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(v) = d.fields.get(&format!("metadata.{OWNER_KEY}")) {
        m.insert(OWNER_KEY.into(), v.clone());
    }
    m
}

fn client_input(
    d: &DesiredClient,
    org_id: Option<&str>,
    paths: Option<&[&str]>,
) -> wire::OAuthClientInput {
    let ClientDecl::OAuth(c) = &d.decl else {
        return wire::OAuthClientInput::default();
    };
    let want = |p: &str| paths.is_none_or(|ps| ps.contains(&p));
    wire::OAuthClientInput {
        external_id: paths.is_none().then(|| c.external_id.to_string()),
        client_name: want("client_name").then(|| c.name.clone()),
        client_type: paths.is_none().then(|| c.client_type.as_str().to_string()),
        redirect_uris: want("redirect_uris").then(|| c.redirect_uris.clone()),
        post_logout_redirect_uris: want("post_logout_redirect_uris")
            .then(|| c.post_logout_redirect_uris.clone()),
        allowed_origins: want("allowed_origins").then(|| c.allowed_origins.clone()),
        grant_types: want("grant_types").then(|| c.grant_types.clone()),
        scopes: want("scopes").then(|| c.scopes.clone()),
        token_endpoint_auth_method: paths
            .is_none()
            .then(|| c.client_type.token_endpoint_auth_method().to_string()),
        metadata: paths
            .is_none_or(|ps| ps.iter().any(|p| p.starts_with("metadata")))
            .then(|| metadata(d)),
        organization_id: if paths.is_none() {
            org_id.map(str::to_string)
        } else {
            None
        },
    }
}

/// The top-level mask paths of a change's fields.
fn mask(change: &Change) -> Vec<&str> {
    let mut m: Vec<&str> = change.fields.iter().map(|f| mask_path(&f.path)).collect();
    m.dedup();
    m
}

/// Applies one OAuth client change.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn apply_oauth_client(
    client: &Client,
    plan_id: &str,
    change: &Change,
    desired: &DesiredSet,
    org_id: Option<&str>,
    secrets: Option<&SecretsFile>,
    ownership: &Ownership,
    look_first: bool,
) -> Attempt {
    let d = desired.clients.get(&(change.kind, change.key.clone()));
    if matches!(change.action, Action::Update | Action::Delete)
        && let Some(id) = change.live_id.as_deref()
    {
        let fetched = client
            .get_oauth_client(id)
            .await
            .map(|l| (l.external_id, l.metadata));
        if let Some(end) = recheck_live(change, id, fetched, ownership) {
            return end;
        }
    }
    match change.action {
        Action::Create => {
            let Some(d) = d else {
                return failed(&"the desired client is missing from the sources");
            };
            if look_first {
                match client
                    .find_oauth_client_by_external_id(org_id, &change.key)
                    .await
                {
                    Ok(Some(existing)) => {
                        let settled = settle_client(d, &existing);
                        if let (OutcomeKind::AlreadyApplied { .. }, Some(file)) =
                            (&settled, secrets)
                            && existing.client_type == "confidential"
                            && !file.holds("oauth_client", &change.key)
                        {
                            return recover_client_secret(
                                client, plan_id, change, d, org_id, file, &existing,
                            )
                            .await;
                        }
                        return Attempt::Final(settled);
                    }
                    Ok(None) => {}
                    Err(e) if uncertain(&e) => return Attempt::Uncertain(e.to_string()),
                    Err(e) => return failed(&e),
                }
            }
            let req = wire::CreateOAuthClientRequest {
                client: client_input(d, org_id, None),
            };
            match client
                .create_oauth_client(&req, Some(&idempotency_key(plan_id, change)))
                .await
            {
                Ok(created) => {
                    if let Some(secret) = &created.client_secret {
                        let Some(file) = secrets else {
                            return failed(
                                &"a client secret was minted but no --secrets-out file is open",
                            );
                        };
                        if let Err(e) = file.write(Minted::ClientSecret {
                            key: &change.key,
                            client_id: &created.client.client_id,
                            secret,
                        }) {
                            return failed(&format!(
                                "client {} was created but its secret could not be written to `{}`: {e}; rotate it in Avnology",
                                created.client.client_id,
                                file.path().display()
                            ));
                        }
                    }
                    Attempt::Final(OutcomeKind::Applied {
                        id: created.client.client_id,
                    })
                }
                Err(e) if e.is_conflict() => match client
                    .find_oauth_client_by_external_id(org_id, &change.key)
                    .await
                {
                    Ok(Some(existing)) => Attempt::Final(settle_client(d, &existing)),
                    Ok(None) => failed(&e),
                    // Not knowing is not a failure: the next attempt looks it up first.
                    Err(e) if uncertain(&e) => Attempt::Uncertain(e.to_string()),
                    Err(e) => failed(&e),
                },
                Err(e) if uncertain(&e) => Attempt::Uncertain(e.to_string()),
                Err(e) => failed(&e),
            }
        }
        Action::Update => {
            let (Some(d), Some(id)) = (d, change.live_id.as_deref()) else {
                return failed(&"the plan has no live id or desired record for this change");
            };
            let paths = mask(change);
            let req = wire::UpdateOAuthClientRequest {
                client: client_input(d, org_id, Some(&paths)),
                update_mask: paths.join(","),
            };
            match client
                .update_oauth_client(id, &req, change.etag.as_deref())
                .await
            {
                Ok(_) => Attempt::Final(OutcomeKind::Applied { id: id.to_string() }),
                Err(e) if e.is_conflict() => match client.get_oauth_client(id).await {
                    Ok(live) => Attempt::Final(match settle_client(d, &live) {
                        OutcomeKind::AlreadyApplied { id } => OutcomeKind::AlreadyApplied { id },
                        _ => OutcomeKind::Stale,
                    }),
                    Err(e) if uncertain(&e) => Attempt::Uncertain(e.to_string()),
                    Err(_) => Attempt::Final(OutcomeKind::Stale),
                },
                Err(e) if uncertain(&e) => Attempt::Uncertain(e.to_string()),
                Err(e) => failed(&e),
            }
        }
        Action::Delete => {
            let Some(id) = change.live_id.as_deref() else {
                return failed(&"the plan has no live id");
            };
            match client.delete_oauth_client(id, change.etag.as_deref()).await {
                Ok(()) => Attempt::Final(OutcomeKind::Applied { id: id.to_string() }),
                Err(e) if e.is_not_found() => {
                    Attempt::Final(OutcomeKind::AlreadyApplied { id: id.to_string() })
                }
                Err(e) if e.is_conflict() => Attempt::Final(OutcomeKind::Stale),
                Err(e) if uncertain(&e) => Attempt::Uncertain(e.to_string()),
                Err(e) => failed(&e),
            }
        }
        _ => failed(&"clients are only created, updated or deleted"),
    }
}

/// A confidential client an earlier attempt created (its response lost, or the process
/// stopped before the secret reached the file) is found by its `external_id`, and its secret
/// is not in the file. The create is sent again with the same `Idempotency-Key`: the API
/// replays the first response, secret included, for as long as it keeps the record, and
/// the secret is written. If the API answers with another client (the record has expired
/// and the API let a second one be created), or refuses (the record has expired), the
/// change fails and says what to do: no secret is silently lost.
#[allow(clippy::too_many_arguments)]
async fn recover_client_secret(
    client: &Client,
    plan_id: &str,
    change: &Change,
    d: &DesiredClient,
    org_id: Option<&str>,
    file: &SecretsFile,
    existing: &wire::OAuthClient,
) -> Attempt {
    let req = wire::CreateOAuthClientRequest {
        client: client_input(d, org_id, None),
    };
    let lost = || {
        format!(
            "client {} was created by an earlier attempt, whose secret is not in `{}` and can no longer be replayed; rotate its secret in Avnology",
            existing.client_id,
            file.path().display()
        )
    };
    match client
        .create_oauth_client(&req, Some(&idempotency_key(plan_id, change)))
        .await
    {
        Ok(replayed) if replayed.client.client_id == existing.client_id => {
            let Some(secret) = &replayed.client_secret else {
                return failed(&lost());
            };
            match file.write(Minted::ClientSecret {
                key: &change.key,
                client_id: &existing.client_id,
                secret,
            }) {
                Ok(()) => Attempt::Final(OutcomeKind::Applied {
                    id: existing.client_id.clone(),
                }),
                Err(e) => failed(&format!(
                    "client {} was created but its secret could not be written to `{}`: {e}; rotate it in Avnology",
                    existing.client_id,
                    file.path().display()
                )),
            }
        }
        Ok(other) => failed(&format!(
            "{}; the API created a second client {} for the same external_id: delete it",
            lost(),
            other.client.client_id
        )),
        Err(e) if e.is_conflict() => failed(&lost()),
        Err(e) if uncertain(&e) => Attempt::Uncertain(e.to_string()),
        Err(e) => failed(&e),
    }
}

fn settle_client(d: &DesiredClient, existing: &wire::OAuthClient) -> OutcomeKind {
    match diff_client(&d.fields, Some(existing)) {
        ClientDiff::NoOp => OutcomeKind::AlreadyApplied {
            id: existing.client_id.clone(),
        },
        _ => OutcomeKind::Failed {
            error: format!(
                "an OAuth client with this external_id exists ({}) with different content; re-plan",
                existing.client_id
            ),
        },
    }
}

/// Applies one service account change. Creating one also mints its API key.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn apply_service_account(
    client: &Client,
    plan_id: &str,
    change: &Change,
    desired: &DesiredSet,
    org_id: Option<&str>,
    owner_id: Option<&str>,
    secrets: Option<&SecretsFile>,
    ownership: &Ownership,
    look_first: bool,
) -> Attempt {
    let d = desired.clients.get(&(change.kind, change.key.clone()));
    if matches!(change.action, Action::Update | Action::Delete)
        && let Some(id) = change.live_id.as_deref()
    {
        let fetched = client
            .get_service_account(id)
            .await
            .map(|l| (l.external_id, l.metadata));
        if let Some(end) = recheck_live(change, id, fetched, ownership) {
            return end;
        }
    }
    match change.action {
        Action::Create => {
            let Some(d) = d else {
                return failed(&"the desired service account is missing from the sources");
            };
            let ClientDecl::ServiceAccount(sa) = &d.decl else {
                return failed(&"not a service account");
            };
            let Some(owner_id) = owner_id else {
                return failed(
                    &"service accounts need an owner: set [target] service_account_owner to the email of an identity in the tenant",
                );
            };
            let mut existing = None;
            if look_first {
                match client
                    .find_service_account_by_external_id(org_id, &change.key)
                    .await
                {
                    Ok(found) => existing = found,
                    Err(e) if uncertain(&e) => return Attempt::Uncertain(e.to_string()),
                    Err(e) => return failed(&e),
                }
            }
            let account = if let Some(a) = existing {
                a
            } else {
                let req = wire::CreateServiceAccountRequest {
                    name: sa.name.clone(),
                    description: sa.description.clone(),
                    owner_id: owner_id.to_string(),
                    organization_id: org_id.map(str::to_string),
                    external_id: Some(sa.external_id.to_string()),
                    metadata: Some(metadata(d)),
                };
                match client
                    .create_service_account(&req, Some(&idempotency_key(plan_id, change)))
                    .await
                {
                    Ok(a) => a,
                    Err(e) if e.is_conflict() => {
                        match client
                            .find_service_account_by_external_id(org_id, &change.key)
                            .await
                        {
                            Ok(Some(a)) => a,
                            Err(e) if uncertain(&e) => return Attempt::Uncertain(e.to_string()),
                            _ => return failed(&e),
                        }
                    }
                    Err(e) if uncertain(&e) => return Attempt::Uncertain(e.to_string()),
                    Err(e) => return failed(&e),
                }
            };
            // Mint the key unless an earlier attempt already did (a key's secret cannot be
            // read back, so a second key would only be noise).
            // If it did but the key never reached the file (the response was lost, or the
            // process stopped before writing it), the mint is sent again with the same
            // `Idempotency-Key`, which replays the key for as long as the API keeps the
            // record.
            let existing_keys = match client.list_api_keys(&account.id).await {
                Ok(keys) => keys,
                Err(e) if uncertain(&e) => return Attempt::Uncertain(e.to_string()),
                Err(e) => return failed(&e),
            };
            if !existing_keys.is_empty()
                && secrets.is_none_or(|file| file.holds("service_account", &change.key))
            {
                return Attempt::Final(OutcomeKind::AlreadyApplied { id: account.id });
            }
            let key_req = wire::CreateApiKeyRequest {
                name: "avnology-migrate".into(),
                scopes: sa.scopes.clone(),
                expire_time: None,
            };
            let key_idem = format!("{}-key", idempotency_key(plan_id, change));
            match client
                .create_api_key(&account.id, &key_req, Some(&key_idem))
                .await
            {
                Ok(minted) => {
                    let Some(file) = secrets else {
                        return failed(&"an API key was minted but no --secrets-out file is open");
                    };
                    if !existing_keys.is_empty()
                        && !existing_keys.iter().any(|k| k.id == minted.record.id)
                    {
                        // Not a replay: the record has expired and a second key was minted.
                        let _ = file.write(Minted::ApiKey {
                            key: &change.key,
                            service_account_id: &account.id,
                            api_key: &minted.key,
                        });
                        return failed(&format!(
                            "service account {} had a key from an earlier attempt whose secret never reached `{}`; a new key was written there: revoke the old one in Avnology",
                            account.id,
                            file.path().display()
                        ));
                    }
                    match file.write(Minted::ApiKey {
                        key: &change.key,
                        service_account_id: &account.id,
                        api_key: &minted.key,
                    }) {
                        Ok(()) => Attempt::Final(OutcomeKind::Applied { id: account.id }),
                        Err(e) => failed(&format!(
                            "service account {} was created but its API key could not be written to `{}`: {e}; revoke key {} in Avnology",
                            account.id,
                            file.path().display(),
                            minted.record.id
                        )),
                    }
                }
                Err(e) if uncertain(&e) => Attempt::Uncertain(e.to_string()),
                Err(e) => failed(&e),
            }
        }
        Action::Update => {
            let (Some(d), Some(id)) = (d, change.live_id.as_deref()) else {
                return failed(&"the plan has no live id or desired record for this change");
            };
            let ClientDecl::ServiceAccount(sa) = &d.decl else {
                return failed(&"not a service account");
            };
            let paths = mask(change);
            let req = wire::UpdateServiceAccountRequest {
                name: paths.contains(&"name").then(|| sa.name.clone()),
                description: paths
                    .contains(&"description")
                    .then(|| sa.description.clone())
                    .flatten(),
                metadata: paths
                    .iter()
                    .any(|p| p.starts_with("metadata"))
                    .then(|| metadata(d)),
                update_mask: paths.join(","),
            };
            match client
                .update_service_account(id, &req, change.etag.as_deref())
                .await
            {
                Ok(_) => Attempt::Final(OutcomeKind::Applied { id: id.to_string() }),
                Err(e) if e.is_conflict() => match client.get_service_account(id).await {
                    Ok(live)
                        if diff_service_account(&d.fields, Some(&live)) == ClientDiff::NoOp =>
                    {
                        Attempt::Final(OutcomeKind::AlreadyApplied { id: id.to_string() })
                    }
                    Err(e) if uncertain(&e) => Attempt::Uncertain(e.to_string()),
                    _ => Attempt::Final(OutcomeKind::Stale),
                },
                Err(e) if uncertain(&e) => Attempt::Uncertain(e.to_string()),
                Err(e) => failed(&e),
            }
        }
        Action::Delete => {
            let Some(id) = change.live_id.as_deref() else {
                return failed(&"the plan has no live id");
            };
            match client
                .delete_service_account(id, change.etag.as_deref())
                .await
            {
                Ok(()) => Attempt::Final(OutcomeKind::Applied { id: id.to_string() }),
                Err(e) if e.is_not_found() => {
                    Attempt::Final(OutcomeKind::AlreadyApplied { id: id.to_string() })
                }
                Err(e) if e.is_conflict() => Attempt::Final(OutcomeKind::Stale),
                Err(e) if uncertain(&e) => Attempt::Uncertain(e.to_string()),
                Err(e) => failed(&e),
            }
        }
        _ => failed(&"service accounts are only created, updated or deleted"),
    }
}
