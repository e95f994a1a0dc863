//! Applying OAuth client changes. Creating a confidential client mints its secret: it goes
//! to the `--secrets-out` file at once and nowhere else, and a secret an earlier attempt
//! was given but never wrote is recovered by replaying the create, or reported, never
//! silently lost.

use super::clients::{ClientKind, live_calls, updated};
use super::context::ApplyContext;
use super::outcome::{Attempt, OutcomeKind, applied, failed, request_failed};
use super::request::{client_input, update_mask};
use super::secrets::{Minted, SecretsFile};
use crate::diff::client::{ClientDiff, diff_client};
use crate::plan::{Change, DesiredClient};
use crate::wire;

/// OAuth clients.
pub(super) struct OAuthClients;

impl ClientKind for OAuthClients {
    live_calls!(
        "client",
        "clients",
        wire::OAuthClient,
        get_oauth_client,
        delete_oauth_client,
        diff_client
    );

    async fn create(
        ctx: &ApplyContext,
        change: &Change,
        d: &DesiredClient,
        look_first: bool,
    ) -> Attempt {
        let client = &ctx.client;
        let org_id = ctx.organization();
        if look_first {
            match client
                .find_oauth_client_by_external_id(org_id, &change.key)
                .await
            {
                Ok(Some(existing)) => {
                    let settled = settle_client(d, &existing);
                    if let (OutcomeKind::AlreadyApplied { .. }, Some(file)) =
                        (&settled, ctx.secrets.as_deref())
                        && existing.client_type == "confidential"
                        && !file.holds("oauth_client", &change.key)
                    {
                        return recover_client_secret(ctx, change, d, file, &existing).await;
                    }
                    return Attempt::Final(settled);
                }
                Ok(None) => {}
                Err(e) => return request_failed(&e),
            }
        }
        let req = wire::CreateOAuthClientRequest {
            client: client_input(d, org_id, None),
        };
        match client
            .create_oauth_client(&req, Some(&ctx.idempotency_key(change)))
            .await
        {
            Ok(created) => match &created.client_secret {
                Some(secret) => {
                    let Some(file) = ctx.secrets.as_deref() else {
                        return failed(
                            &"a client secret was minted but no --secrets-out file is open",
                        );
                    };
                    write_secret(file, change, &created.client.client_id, secret)
                }
                None => applied(&created.client.client_id),
            },
            Err(e) if e.is_conflict() => match client
                .find_oauth_client_by_external_id(org_id, &change.key)
                .await
            {
                Ok(Some(existing)) => Attempt::Final(settle_client(d, &existing)),
                Ok(None) => failed(&e),
                // Not knowing is not a failure: the next attempt looks it up first.
                Err(e) => request_failed(&e),
            },
            Err(e) => request_failed(&e),
        }
    }

    async fn update(ctx: &ApplyContext, change: &Change, d: &DesiredClient, id: &str) -> Attempt {
        let paths = update_mask(change);
        let req = wire::UpdateOAuthClientRequest {
            client: client_input(d, ctx.organization(), Some(&paths)),
            update_mask: paths.join(","),
        };
        let answer = ctx
            .client
            .update_oauth_client(id, &req, change.etag.as_deref());
        updated::<Self>(ctx, d, id, answer.await).await
    }
}

/// Writes the secret of the client `client_id` created for `change`: the change is done
/// once the secret is in the file.
fn write_secret(file: &SecretsFile, change: &Change, client_id: &str, secret: &str) -> Attempt {
    match file.write(&Minted::ClientSecret {
        key: &change.key,
        client_id,
        secret,
    }) {
        Ok(()) => applied(client_id),
        Err(e) => failed(&format!(
            "client {client_id} was created but its secret could not be written to `{}`: {e}; rotate it in Avnology",
            file.path().display()
        )),
    }
}

/// A confidential client an earlier attempt created (its response lost, or the process
/// stopped before the secret reached the file) is found by its `external_id`, and its secret
/// is not in the file. The create is sent again with the same `Idempotency-Key`: the API
/// replays the first response, secret included, for as long as it keeps the record, and
/// the secret is written. If the API answers with another client (the record has expired
/// and the API let a second one be created), or refuses (the record has expired), the
/// change fails and says what to do: no secret is silently lost.
async fn recover_client_secret(
    ctx: &ApplyContext,
    change: &Change,
    d: &DesiredClient,
    file: &SecretsFile,
    existing: &wire::OAuthClient,
) -> Attempt {
    let req = wire::CreateOAuthClientRequest {
        client: client_input(d, ctx.organization(), None),
    };
    let lost = || {
        format!(
            "client {} was created by an earlier attempt, whose secret is not in `{}` and can no longer be replayed; rotate its secret in Avnology",
            existing.client_id,
            file.path().display()
        )
    };
    match ctx
        .client
        .create_oauth_client(&req, Some(&ctx.idempotency_key(change)))
        .await
    {
        Ok(replayed) if replayed.client.client_id == existing.client_id => {
            let Some(secret) = &replayed.client_secret else {
                return failed(&lost());
            };
            write_secret(file, change, &existing.client_id, secret)
        }
        Ok(other) => failed(&format!(
            "{}; the API created a second client {} for the same external_id: delete it",
            lost(),
            other.client.client_id
        )),
        Err(e) if e.is_conflict() => failed(&lost()),
        Err(e) => request_failed(&e),
    }
}

/// Whether an OAuth client found by the change's `external_id` is the desired one: then
/// the create is done, otherwise it fails and asks for a new plan.
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
