//! Applying service account changes. Creating one also mints its API key, owned by the
//! identity `[target] service_account_owner` names: the key goes to the `--secrets-out`
//! file at once and nowhere else. A key an earlier attempt minted but never wrote is
//! replayed with the same `Idempotency-Key`, or reported, never silently lost.

use super::clients::{ClientKind, live_calls, updated};
use super::context::ApplyContext;
use super::outcome::{Attempt, already_applied, applied, failed, request_failed};
use super::request::{create_service_account_request, update_mask, update_service_account_request};
use super::secrets::Minted;
use crate::diff::client::diff_service_account;
use crate::live::Client;
use crate::model::{ClientDecl, ServiceAccount};
use crate::plan::{Change, DesiredClient};
use crate::wire;

/// Finds the identity that owns new service accounts, by email.
pub(super) async fn resolve_owner(
    client: &Client,
    email: Option<&str>,
) -> anyhow::Result<Option<String>> {
    let Some(email) = email else { return Ok(None) };
    let filter = crate::live::filter::all_equal(&[("email", email)]);
    let page = client.list_identities(Some(&filter), 1, None).await?;
    match page.identities.into_iter().next() {
        Some(i) => Ok(Some(i.id)),
        None => Err(crate::error::with_hint(
            anyhow::anyhow!("service_account_owner `{email}` is not an identity in the tenant"),
            "set [target] service_account_owner to the email of an existing (or migrated) user",
        )),
    }
}

/// Service accounts, each with the API key its create mints.
pub(super) struct ServiceAccounts;

impl ClientKind for ServiceAccounts {
    live_calls!(
        "service account",
        "service accounts",
        wire::ServiceAccount,
        get_service_account,
        delete_service_account,
        diff_service_account
    );

    async fn create(
        ctx: &ApplyContext,
        change: &Change,
        d: &DesiredClient,
        look_first: bool,
    ) -> Attempt {
        let ClientDecl::ServiceAccount(sa) = &d.decl else {
            return failed(&"not a service account");
        };
        let Some(owner_id) = ctx.owner_id.as_deref() else {
            return failed(
                &"service accounts need an owner: set [target] service_account_owner to the email of an identity in the tenant",
            );
        };
        let account = match find_or_create(ctx, change, d, sa, owner_id, look_first).await {
            Ok(account) => account,
            Err(end) => return end,
        };
        mint_key(ctx, change, sa, &account).await
    }

    async fn update(ctx: &ApplyContext, change: &Change, d: &DesiredClient, id: &str) -> Attempt {
        let ClientDecl::ServiceAccount(sa) = &d.decl else {
            return failed(&"not a service account");
        };
        let req = update_service_account_request(d, sa, &update_mask(change));
        let answer = ctx
            .client
            .update_service_account(id, &req, change.etag.as_deref());
        updated::<Self>(ctx, d, id, answer.await).await
    }
}

/// The service account of `change`: the one an earlier attempt created (looked up when
/// `look_first`, or when the create is refused as a conflict), or a new one.
async fn find_or_create(
    ctx: &ApplyContext,
    change: &Change,
    d: &DesiredClient,
    sa: &ServiceAccount,
    owner_id: &str,
    look_first: bool,
) -> Result<wire::ServiceAccount, Attempt> {
    let client = &ctx.client;
    let org_id = ctx.organization();
    if look_first {
        match client
            .find_service_account_by_external_id(org_id, &change.key)
            .await
        {
            Ok(Some(found)) => return Ok(found),
            Ok(None) => {}
            Err(e) => return Err(request_failed(&e)),
        }
    }
    let req = create_service_account_request(d, sa, owner_id, org_id);
    match client
        .create_service_account(&req, Some(&ctx.idempotency_key(change)))
        .await
    {
        Ok(a) => Ok(a),
        Err(e) if e.is_conflict() => {
            match client
                .find_service_account_by_external_id(org_id, &change.key)
                .await
            {
                Ok(Some(a)) => Ok(a),
                Ok(None) => Err(failed(&e)),
                // Not knowing is not a failure: the next attempt looks it up first.
                Err(lookup) => Err(request_failed(&lookup)),
            }
        }
        Err(e) => Err(request_failed(&e)),
    }
}

/// Mints the API key of `account` unless an earlier attempt already did (a key's secret
/// cannot be read back, so a second key would only be noise). If it did but the key never
/// reached the file (the response was lost, or the process stopped before writing it), the
/// mint is sent again with the same `Idempotency-Key`, which replays the key for as long as
/// the API keeps the record.
async fn mint_key(
    ctx: &ApplyContext,
    change: &Change,
    sa: &ServiceAccount,
    account: &wire::ServiceAccount,
) -> Attempt {
    let client = &ctx.client;
    let existing_keys = match client.list_api_keys(&account.id).await {
        Ok(keys) => keys,
        Err(e) => return request_failed(&e),
    };
    if !existing_keys.is_empty()
        && ctx
            .secrets
            .as_deref()
            .is_none_or(|file| file.holds("service_account", &change.key))
    {
        return already_applied(&account.id);
    }
    let key_req = wire::CreateApiKeyRequest {
        name: "avnology-migrate".into(),
        scopes: sa.scopes.clone(),
        expire_time: None,
    };
    let key_idem = format!("{}-key", ctx.idempotency_key(change));
    let minted = match client
        .create_api_key(&account.id, &key_req, Some(&key_idem))
        .await
    {
        Ok(minted) => minted,
        Err(e) => return request_failed(&e),
    };
    let Some(file) = ctx.secrets.as_deref() else {
        return failed(&"an API key was minted but no --secrets-out file is open");
    };
    let written = file.write(&Minted::ApiKey {
        key: &change.key,
        service_account_id: &account.id,
        api_key: &minted.key,
    });
    if !existing_keys.is_empty() && !existing_keys.iter().any(|k| k.id == minted.record.id) {
        // Not a replay: the record has expired and a second key was minted (and written).
        return failed(&format!(
            "service account {} had a key from an earlier attempt whose secret never reached `{}`; a new key was written there: revoke the old one in Avnology",
            account.id,
            file.path().display()
        ));
    }
    match written {
        Ok(()) => applied(&account.id),
        Err(e) => failed(&format!(
            "service account {} was created but its API key could not be written to `{}`: {e}; revoke key {} in Avnology",
            account.id,
            file.path().display(),
            minted.record.id
        )),
    }
}
