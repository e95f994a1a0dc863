//! The shape every OAuth client and service account change shares: the desired
//! declaration looked up by the change's key, the live object fetched and checked before an
//! update or delete ([`guard::checked`]), then a create, an update or a delete. What differs
//! per kind (the calls, and what a create mints) is a [`ClientKind`], implemented in
//! [`super::oauth_clients`] and [`super::service_accounts`].

use super::context::ApplyContext;
use super::guard::{self, Marked};
use super::outcome::{Attempt, applied, deleted, failed, request_failed, settle_conflict};
use crate::live::{self, Client};
use crate::plan::{Action, Change, DesiredClient};

/// A kind of client object apply creates, updates and deletes.
pub(super) trait ClientKind {
    /// The kind in messages, e.g. "service account".
    const NOUN: &'static str;
    /// Its plural.
    const PLURAL: &'static str;
    /// The live object.
    type Live: Marked;

    /// Reads the live object `id`.
    async fn get(client: &Client, id: &str) -> live::Result<Self::Live>;

    /// Deletes the live object `id` if it still has `etag`.
    async fn delete(client: &Client, id: &str, etag: Option<&str>) -> live::Result<()>;

    /// Creates the object of `change` as declared by `d` (and mints what it mints);
    /// `look_first` when an earlier attempt may have created it.
    async fn create(
        ctx: &ApplyContext,
        change: &Change,
        d: &DesiredClient,
        look_first: bool,
    ) -> Attempt;

    /// Updates the fields of `change` on the live object `id` (see [`updated`]).
    async fn update(ctx: &ApplyContext, change: &Change, d: &DesiredClient, id: &str) -> Attempt;

    /// Whether the live object already is as `d` declares.
    fn is_desired(d: &DesiredClient, live: &Self::Live) -> bool;
}

/// The `answer` to the PATCH of the live object `id` sent with the planned `If-Match`. A
/// conflict is settled on the object read again: done if it is as `d` declares, else stale.
pub(super) async fn updated<K: ClientKind>(
    ctx: &ApplyContext,
    d: &DesiredClient,
    id: &str,
    answer: live::Result<K::Live>,
) -> Attempt {
    match answer {
        Ok(_) => applied(id),
        Err(e) if e.is_conflict() => settle_conflict(id, K::get(&ctx.client, id).await, |live| {
            K::is_desired(d, live)
        }),
        Err(e) => request_failed(&e),
    }
}

/// A [`ClientKind`]'s names, the calls it reads and deletes its live objects with, and the
/// diff that compares one with its declaration: `live_calls!("noun", "plural", Live, get_x,
/// delete_x, diff_x)` inside its `impl`.
macro_rules! live_calls {
    ($noun:literal, $plural:literal, $live:ty, $get:ident, $delete:ident, $diff:path) => {
        const NOUN: &'static str = $noun;
        const PLURAL: &'static str = $plural;
        type Live = $live;

        async fn get(client: &crate::live::Client, id: &str) -> crate::live::Result<$live> {
            client.$get(id).await
        }

        async fn delete(
            client: &crate::live::Client,
            id: &str,
            etag: Option<&str>,
        ) -> crate::live::Result<()> {
            client.$delete(id, etag).await
        }

        fn is_desired(d: &crate::plan::DesiredClient, live: &$live) -> bool {
            $diff(&d.fields, Some(live)) == crate::diff::client::ClientDiff::NoOp
        }
    };
}
pub(super) use live_calls;

/// Applies one change of a client kind `K`; `look_first` when it may have been done
/// already.
pub(super) async fn apply_client<K: ClientKind>(
    ctx: &ApplyContext,
    change: &Change,
    look_first: bool,
) -> Attempt {
    let d = ctx.desired.clients.get(&(change.kind, change.key.clone()));
    if matches!(change.action, Action::Update | Action::Delete)
        && let Some(id) = change.live_id.as_deref()
        && let Err(end) = guard::checked(change, id, K::get(&ctx.client, id).await, &ctx.ownership)
    {
        return end;
    }
    match change.action {
        Action::Create => {
            let Some(d) = d else {
                return failed(&format!(
                    "the desired {} is missing from the sources",
                    K::NOUN
                ));
            };
            K::create(ctx, change, d, look_first).await
        }
        Action::Update => {
            let (Some(d), Some(id)) = (d, change.live_id.as_deref()) else {
                return failed(&"the plan has no live id or desired record for this change");
            };
            K::update(ctx, change, d, id).await
        }
        Action::Delete => {
            let Some(id) = change.live_id.as_deref() else {
                return failed(&"the plan has no live id");
            };
            deleted(id, K::delete(&ctx.client, id, change.etag.as_deref()).await)
        }
        _ => failed(&format!(
            "{} are only created, updated or deleted",
            K::PLURAL
        )),
    }
}
