//! Identities (`/v1/identities`, documented): the users a migration creates, keeps in step
//! and deactivates. A listing asks for the linked providers, and an identity has two state
//! changes, `:deactivate` and `:reactivate`; the rest is the shared [`Resource`] calls.

use super::Client;
use super::resource::{Object, Page, Resource};
use crate::live::Result;
use crate::wire;

/// The identities collection.
struct Identities;

impl Resource for Identities {
    const PATH: &'static [&'static str] = &["v1", "identities"];
    /// A listing leaves the linked providers out unless asked (documented), and a plan
    /// compares them. A tenant that still leaves them out answers `linked_providers: None`,
    /// and the plan then does not compare them.
    const LIST_QUERY: &'static [(&'static str, &'static str)] =
        &[("include_linked_providers", "true")];
    type Object = wire::Identity;
    type Page = wire::ListIdentitiesResponse;
}

impl Object for wire::Identity {
    fn etag_mut(&mut self) -> &mut String {
        &mut self.etag
    }

    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (self.external_id.as_deref(), self.organization_id.as_deref())
    }
}

impl Page for wire::ListIdentitiesResponse {
    type Item = wire::Identity;

    fn next_page_token(&mut self) -> &mut Option<String> {
        &mut self.next_page_token
    }

    fn total_size(&self) -> Option<u64> {
        self.total_size
    }

    fn into_items(self) -> Vec<wire::Identity> {
        self.identities
    }
}

impl Client {
    /// One page of identities (`GET /v1/identities`), with their linked providers.
    /// `page_size` is at most [`crate::live::MAX_PAGE_SIZE`]; `filter` is an AIP-160 string
    /// (see [`crate::live::filter`]).
    pub async fn list_identities(
        &self,
        filter: Option<&str>,
        page_size: u32,
        page_token: Option<&str>,
    ) -> Result<wire::ListIdentitiesResponse> {
        self.list::<Identities>(filter, page_size, page_token).await
    }

    /// Calls `f` for every identity matching `filter`, page by page (100 at a time), and
    /// returns how many there were. Memory holds one page at a time.
    pub async fn for_each_identity(
        &self,
        filter: Option<&str>,
        f: impl FnMut(wire::Identity),
    ) -> Result<u64> {
        self.for_each::<Identities>(filter, |_| {}, f).await
    }

    /// [`Client::for_each_identity`], also handing `on_total` the number of matches when the
    /// server says it (`total_size`), for progress.
    pub async fn for_each_identity_counted(
        &self,
        filter: Option<&str>,
        on_total: impl Fn(u64),
        f: impl FnMut(wire::Identity),
    ) -> Result<u64> {
        self.for_each::<Identities>(filter, on_total, f).await
    }

    /// One identity (`GET /v1/identities/{id}`), with its `etag` (from the body, or else the
    /// `ETag` header).
    pub async fn get_identity(&self, id: &str) -> Result<wire::Identity> {
        self.get::<Identities>(id).await
    }

    /// The identity whose `external_id` is `external_id`, in `organization_id` if given.
    ///
    /// Without an organization, an identity outside any organization is preferred, then the
    /// first match. Soft-deleted identities are not found: the listing leaves identities in
    /// `scheduled_deletion` out unless the filter names `state`, and this filter does not
    /// (`external_id` is unique only among identities that are not soft-deleted, so a
    /// soft-deleted one is a different identity, which `plan` finds through its own
    /// `state = "scheduled_deletion"` listing).
    pub async fn find_identity_by_external_id(
        &self,
        organization_id: Option<&str>,
        external_id: &str,
    ) -> Result<Option<wire::Identity>> {
        self.find_by_external_id::<Identities>(organization_id, external_id)
            .await
    }

    /// Creates an identity (`POST /v1/identities`, 201). With an `idempotency_key`, a retry or
    /// a re-run replays the first answer instead of creating a second identity.
    pub async fn create_identity(
        &self,
        req: &wire::CreateIdentityRequest,
        idempotency_key: Option<&str>,
    ) -> Result<wire::Identity> {
        self.create::<Identities>(req, idempotency_key).await
    }

    /// Updates the fields named in `req.update_mask` (`PATCH /v1/identities/{id}`). With
    /// `if_match`, a 409 ([`crate::live::Error::is_conflict`]) means someone changed the
    /// identity since that ETag was read.
    pub async fn update_identity(
        &self,
        id: &str,
        req: &wire::UpdateIdentityRequest,
        if_match: Option<&str>,
    ) -> Result<wire::Identity> {
        self.update::<Identities>(id, req, if_match).await
    }

    /// Deactivates an identity (`POST /v1/identities/{id}:deactivate`): it can no longer log
    /// in; data and sessions are kept.
    pub async fn deactivate_identity(
        &self,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<wire::Identity> {
        self.change_state::<Identities>(id, "deactivate", if_match)
            .await
    }

    /// Reactivates an identity (`POST /v1/identities/{id}:reactivate`).
    pub async fn reactivate_identity(
        &self,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<wire::Identity> {
        self.change_state::<Identities>(id, "reactivate", if_match)
            .await
    }

    /// Soft-deletes an identity (`DELETE /v1/identities/{id}`, 204): its state becomes
    /// `scheduled_deletion`.
    pub async fn delete_identity(&self, id: &str, if_match: Option<&str>) -> Result<()> {
        self.delete::<Identities>(id, if_match).await
    }
}
