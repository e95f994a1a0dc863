//! Organizations (`/v1/organizations`, documented): the tool finds the manifest's
//! organization by name and creates it when it is missing; it never changes or deletes one.

use reqwest::Method;

use super::call::Call;
use super::{Client, MAX_PAGE_SIZE};
use crate::live::{Result, filter};
use crate::wire;

/// The organizations collection.
const ORGANIZATIONS: &[&str] = &["v1", "organizations"];

impl Client {
    /// The organization named exactly `name` (`GET /v1/organizations?filter=name = "…"`).
    /// One page is enough (names are unique), so the lookup asks for no order.
    pub async fn find_organization_by_name(
        &self,
        name: &str,
    ) -> Result<Option<wire::Organization>> {
        let mut url = self.url(ORGANIZATIONS);
        url.query_pairs_mut()
            .append_pair("page_size", &MAX_PAGE_SIZE.to_string())
            .append_pair("filter", &filter::all_equal(&[("name", name)]));
        let (page, _): (wire::ListOrganizationsResponse, _) =
            self.fetch(Call::new(Method::GET, url)).await?;
        Ok(page.organizations.into_iter().find(|o| o.name == name))
    }

    /// Creates an organization (`POST /v1/organizations`, 201).
    pub async fn create_organization(
        &self,
        req: &wire::CreateOrganizationRequest,
        idempotency_key: Option<&str>,
    ) -> Result<wire::Organization> {
        let call = Call::new(Method::POST, self.url(ORGANIZATIONS))
            .json(req)?
            .idempotent(idempotency_key);
        Ok(self.fetch(call).await?.0)
    }
}
