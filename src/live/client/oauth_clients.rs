//! OAuth clients (`/v1/oauth-clients`, an assumed resource). What differs from the shared
//! [`Resource`] calls is the create: a confidential client's secret comes back once, in the
//! create result, so that answer is decoded without quoting it and the secret is
//! remembered for masking.

use reqwest::Method;

use super::Client;
use super::call::Call;
use super::resource::{Object, Page, Resource, fill_etag};
use crate::live::Result;
use crate::wire;

/// The OAuth clients collection.
struct OAuthClients;

impl Resource for OAuthClients {
    const PATH: &'static [&'static str] = &["v1", "oauth-clients"];
    type Object = wire::OAuthClient;
    type Page = wire::ListOAuthClientsResponse;
}

impl Object for wire::OAuthClient {
    fn etag_mut(&mut self) -> &mut String {
        &mut self.etag
    }

    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (self.external_id.as_deref(), self.organization_id.as_deref())
    }
}

impl Page for wire::ListOAuthClientsResponse {
    type Item = wire::OAuthClient;

    fn next_page_token(&mut self) -> &mut Option<String> {
        &mut self.next_page_token
    }

    fn into_items(self) -> Vec<wire::OAuthClient> {
        self.oauth_clients
    }
}

impl Client {
    /// One page of OAuth clients (`GET /v1/oauth-clients`). `filter` is an AIP-160 string
    /// over `external_id`, `client_name`, `client_type`, `organization_id`.
    pub async fn list_oauth_clients(
        &self,
        filter: Option<&str>,
        page_size: u32,
        page_token: Option<&str>,
    ) -> Result<wire::ListOAuthClientsResponse> {
        self.list::<OAuthClients>(filter, page_size, page_token)
            .await
    }

    /// Calls `f` for every OAuth client matching `filter`, page by page (100 at a
    /// time), and returns how many there were.
    pub async fn for_each_oauth_client(
        &self,
        filter: Option<&str>,
        f: impl FnMut(wire::OAuthClient),
    ) -> Result<u64> {
        self.for_each::<OAuthClients>(filter, |_| {}, f).await
    }

    /// One OAuth client (`GET /v1/oauth-clients/{client_id}`), with its `etag`. Never
    /// carries the secret.
    pub async fn get_oauth_client(&self, client_id: &str) -> Result<wire::OAuthClient> {
        self.get::<OAuthClients>(client_id).await
    }

    /// The OAuth client whose `external_id` is `external_id`, in `organization_id` if given;
    /// without one, a client outside any organization is preferred, then the first match.
    pub async fn find_oauth_client_by_external_id(
        &self,
        organization_id: Option<&str>,
        external_id: &str,
    ) -> Result<Option<wire::OAuthClient>> {
        self.find_by_external_id::<OAuthClients>(organization_id, external_id)
            .await
    }

    /// Creates an OAuth client (`POST /v1/oauth-clients`, 201). A confidential client's
    /// `client_secret` is in the result and nowhere else, ever: the caller must store it.
    /// With an `idempotency_key`, a retry (here or by a re-run) replays the first answer,
    /// secret included, instead of creating a second client.
    pub async fn create_oauth_client(
        &self,
        req: &wire::CreateOAuthClientRequest,
        idempotency_key: Option<&str>,
    ) -> Result<wire::CreatedOAuthClient> {
        let call = Call::new(Method::POST, self.url(OAuthClients::PATH))
            .json(req)?
            .idempotent(idempotency_key);
        let (mut created, headers): (wire::CreatedOAuthClient, _) =
            self.fetch_secret_bearing(call).await?;
        if let Some(secret) = &created.client_secret {
            self.remember_secret(secret);
        }
        fill_etag(&mut created.client.etag, &headers);
        Ok(created)
    }

    /// Updates the fields named in `req.update_mask` (`PATCH /v1/oauth-clients/{client_id}`).
    /// With `if_match`, a 409 ([`crate::live::Error::is_conflict`],
    /// [`crate::live::Error::reason`] `etag_mismatch`) means the client changed since that
    /// ETag was read.
    pub async fn update_oauth_client(
        &self,
        client_id: &str,
        req: &wire::UpdateOAuthClientRequest,
        if_match: Option<&str>,
    ) -> Result<wire::OAuthClient> {
        self.update::<OAuthClients>(client_id, req, if_match).await
    }

    /// Deletes an OAuth client (`DELETE /v1/oauth-clients/{client_id}`, 204).
    pub async fn delete_oauth_client(&self, client_id: &str, if_match: Option<&str>) -> Result<()> {
        self.delete::<OAuthClients>(client_id, if_match).await
    }
}
