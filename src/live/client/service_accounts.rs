//! Service accounts (`/v1/service-accounts`, partly assumed) and their API keys. The
//! accounts are the shared [`Resource`] calls; the keys are a small collection under one
//! account, not paged, whose create mints a key shown once: that answer is decoded without
//! quoting it and the key is remembered for masking.

use reqwest::{Method, Url};

use super::Client;
use super::address::id_segment;
use super::call::Call;
use super::resource::{Object, Page, Resource};
use crate::live::Result;
use crate::wire;

/// The service accounts collection.
struct ServiceAccounts;

impl Resource for ServiceAccounts {
    const PATH: &'static [&'static str] = &["v1", "service-accounts"];
    type Object = wire::ServiceAccount;
    type Page = wire::ListServiceAccountsResponse;
}

impl Object for wire::ServiceAccount {
    fn etag_mut(&mut self) -> &mut String {
        &mut self.etag
    }

    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (self.external_id.as_deref(), self.organization_id.as_deref())
    }
}

impl Page for wire::ListServiceAccountsResponse {
    type Item = wire::ServiceAccount;

    fn next_page_token(&mut self) -> &mut Option<String> {
        &mut self.next_page_token
    }

    fn into_items(self) -> Vec<wire::ServiceAccount> {
        self.service_accounts
    }
}

impl Client {
    /// One page of service accounts (`GET /v1/service-accounts`). `filter` is an AIP-160
    /// string over `external_id`, `name`, `owner_id`, `organization_id` (assumed).
    pub async fn list_service_accounts(
        &self,
        filter: Option<&str>,
        page_size: u32,
        page_token: Option<&str>,
    ) -> Result<wire::ListServiceAccountsResponse> {
        self.list::<ServiceAccounts>(filter, page_size, page_token)
            .await
    }

    /// Calls `f` for every service account matching `filter`, page by page
    /// (100 at a time), and returns how many there were.
    pub async fn for_each_service_account(
        &self,
        filter: Option<&str>,
        f: impl FnMut(wire::ServiceAccount),
    ) -> Result<u64> {
        self.for_each::<ServiceAccounts>(filter, |_| {}, f).await
    }

    /// One service account (`GET /v1/service-accounts/{id}`), with its `etag`.
    pub async fn get_service_account(&self, id: &str) -> Result<wire::ServiceAccount> {
        self.get::<ServiceAccounts>(id).await
    }

    /// The service account whose `external_id` is `external_id`, in `organization_id` if
    /// given; without one, an account outside any organization is preferred.
    pub async fn find_service_account_by_external_id(
        &self,
        organization_id: Option<&str>,
        external_id: &str,
    ) -> Result<Option<wire::ServiceAccount>> {
        self.find_by_external_id::<ServiceAccounts>(organization_id, external_id)
            .await
    }

    /// Creates a service account (`POST /v1/service-accounts`, 201). `owner_id` must name a
    /// live identity.
    pub async fn create_service_account(
        &self,
        req: &wire::CreateServiceAccountRequest,
        idempotency_key: Option<&str>,
    ) -> Result<wire::ServiceAccount> {
        self.create::<ServiceAccounts>(req, idempotency_key).await
    }

    /// Updates the fields named in `req.update_mask` (`PATCH /v1/service-accounts/{id}`,
    /// assumed): `name`, `description`, `metadata`, `metadata.<key>`.
    pub async fn update_service_account(
        &self,
        id: &str,
        req: &wire::UpdateServiceAccountRequest,
        if_match: Option<&str>,
    ) -> Result<wire::ServiceAccount> {
        self.update::<ServiceAccounts>(id, req, if_match).await
    }

    /// Deletes a service account (`DELETE /v1/service-accounts/{id}`, 204), revoking every
    /// key it has.
    pub async fn delete_service_account(&self, id: &str, if_match: Option<&str>) -> Result<()> {
        self.delete::<ServiceAccounts>(id, if_match).await
    }

    /// Mints an API key for a service account (`POST /v1/service-accounts/{id}/keys`, 201).
    /// The full key is in the result and nowhere else, ever; empty `scopes` means all. With
    /// an `idempotency_key`, a retry replays the same key instead of minting another.
    pub async fn create_api_key(
        &self,
        service_account_id: &str,
        req: &wire::CreateApiKeyRequest,
        idempotency_key: Option<&str>,
    ) -> Result<wire::CreatedApiKey> {
        let call = Call::new(Method::POST, self.keys_url(service_account_id, None)?)
            .json(req)?
            .idempotent(idempotency_key);
        let (created, _): (wire::CreatedApiKey, _) = self.fetch_secret_bearing(call).await?;
        self.remember_secret(&created.key);
        Ok(created)
    }

    /// The keys of a service account (`GET /v1/service-accounts/{id}/keys`): records with a
    /// prefix, never the keys.
    pub async fn list_api_keys(&self, service_account_id: &str) -> Result<Vec<wire::ApiKeyRecord>> {
        let url = self.keys_url(service_account_id, None)?;
        let (list, _): (wire::ListApiKeysResponse, _) =
            self.fetch(Call::new(Method::GET, url)).await?;
        Ok(list.keys)
    }

    /// Revokes one key at once (`DELETE /v1/service-accounts/{id}/keys/{key_id}`, 204).
    pub async fn delete_api_key(&self, service_account_id: &str, key_id: &str) -> Result<()> {
        let url = self.keys_url(service_account_id, Some(key_id))?;
        self.send(Call::new(Method::DELETE, url)).await.map(drop)
    }

    /// `/v1/service-accounts/{id}/keys`, or one key of it.
    fn keys_url(&self, service_account_id: &str, key_id: Option<&str>) -> Result<Url> {
        let account = id_segment(service_account_id)?;
        let key = key_id.map(id_segment).transpose()?;
        let path = ServiceAccounts::PATH.iter().copied();
        Ok(self.url(path.chain([account, "keys"]).chain(key)))
    }
}
