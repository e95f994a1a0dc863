//! Each operation on a collection of the admin API, written once for every [`Resource`]:
//! one page of a listing, paging through all of it, get, find by external id, create,
//! update, delete and a state change (an AIP custom method such as `:deactivate`).
//!
//! A resource names its collection's path, its object and its page type; the object says
//! where its `etag`, `external_id` and `organization_id` are, the page where its items and
//! next token are. The public calls (`get_identity`, `create_oauth_client`, …) live in the
//! file of each resource and hand over to these.

use std::collections::HashSet;

use reqwest::Method;
use reqwest::header::{ETAG, HeaderMap};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::call::Call;
use super::{Client, MAX_PAGE_SIZE};
use crate::live::{Error, Result, filter};

/// A collection of the admin API, e.g. `/v1/identities`.
pub(super) trait Resource {
    /// The collection's path below the API root, one entry a segment.
    const PATH: &'static [&'static str];
    /// Query parameters a listing of this collection adds to the paging and the filter.
    const LIST_QUERY: &'static [(&'static str, &'static str)] = &[];
    /// One object of the collection.
    type Object: Object;
    /// One page of a listing.
    type Page: Page<Item = Self::Object>;
}

/// An object the API gets, lists and changes.
pub(super) trait Object: DeserializeOwned {
    /// The body's `etag`, filled from the `ETag` header when the body leaves it empty.
    fn etag_mut(&mut self) -> &mut String;
    /// `(external_id, organization_id)`, by which a migrated object is found again.
    fn owner(&self) -> (Option<&str>, Option<&str>);
}

/// One page of a listing, as the API sends it.
pub(super) trait Page: DeserializeOwned {
    /// What the page lists.
    type Item;
    /// The token of the next page; empty or absent on the last one.
    fn next_page_token(&mut self) -> &mut Option<String>;
    /// How many objects match in all, when the server says.
    fn total_size(&self) -> Option<u64> {
        None
    }
    /// The objects of this page, in order.
    fn into_items(self) -> Vec<Self::Item>;
}

impl Client {
    /// One page of `R` (`GET {PATH}`). `page_size` is at most [`MAX_PAGE_SIZE`]; `filter`
    /// is an AIP-160 string (see [`filter`]). An empty next token reads as none.
    pub(super) async fn list<R: Resource>(
        &self,
        filter: Option<&str>,
        page_size: u32,
        page_token: Option<&str>,
    ) -> Result<R::Page> {
        let mut url = self.list_url(R::PATH, filter, page_size, page_token);
        if !R::LIST_QUERY.is_empty() {
            url.query_pairs_mut().extend_pairs(R::LIST_QUERY);
        }
        let (mut page, _): (R::Page, _) = self.fetch(Call::new(Method::GET, url)).await?;
        // List entries carry no ETag header; a missing body etag stays empty.
        let token = page.next_page_token();
        *token = token.take().filter(|t| !t.is_empty());
        Ok(page)
    }

    /// Calls `f` for every object of `R` matching `filter`, page by page ([`MAX_PAGE_SIZE`]
    /// at a time), and returns how many there were; `on_total` hears the number of matches
    /// whenever a page says it (`total_size`), for progress. Memory holds one page at a time.
    pub(super) async fn for_each<R: Resource>(
        &self,
        filter: Option<&str>,
        on_total: impl Fn(u64),
        mut f: impl FnMut(R::Object),
    ) -> Result<u64> {
        let mut token: Option<String> = None;
        let mut seen = HashSet::new();
        let mut count = 0u64;
        loop {
            let mut page = self
                .list::<R>(filter, MAX_PAGE_SIZE, token.as_deref())
                .await?;
            if let Some(total) = page.total_size() {
                on_total(total);
            }
            let next = page.next_page_token().take();
            for item in page.into_items() {
                count += 1;
                f(item);
            }
            match next_page::<R>(&mut seen, next)? {
                None => return Ok(count),
                Some(next) => token = Some(next),
            }
        }
    }

    /// One object (`GET {PATH}/{id}`), with its `etag`.
    pub(super) async fn get<R: Resource>(&self, id: &str) -> Result<R::Object> {
        let url = self.object_url(R::PATH, id, "")?;
        self.object(Call::new(Method::GET, url)).await
    }

    /// The object whose `external_id` is `external_id`, in `organization_id` if given;
    /// without one, an object outside any organization is preferred, then the first match.
    pub(super) async fn find_by_external_id<R: Resource>(
        &self,
        organization_id: Option<&str>,
        external_id: &str,
    ) -> Result<Option<R::Object>> {
        let filter = external_id_filter(organization_id, external_id);
        let page = self.list::<R>(Some(&filter), MAX_PAGE_SIZE, None).await?;
        // Checked again here: a server that ignored part of the filter must not make us act
        // on the wrong object.
        Ok(pick_by_external_id(
            page.into_items(),
            organization_id,
            external_id,
            Object::owner,
        ))
    }

    /// Creates an object (`POST {PATH}`, 201). With an `idempotency_key`, a retry or a
    /// re-run replays the first answer instead of creating a second object.
    pub(super) async fn create<R: Resource>(
        &self,
        req: &impl Serialize,
        idempotency_key: Option<&str>,
    ) -> Result<R::Object> {
        let call = Call::new(Method::POST, self.url(R::PATH))
            .json(req)?
            .idempotent(idempotency_key);
        self.object(call).await
    }

    /// Updates the fields named in the request's `update_mask` (`PATCH {PATH}/{id}`). With
    /// `if_match`, a 409 ([`Error::is_conflict`]) means someone changed the object since
    /// that ETag was read.
    pub(super) async fn update<R: Resource>(
        &self,
        id: &str,
        req: &impl Serialize,
        if_match: Option<&str>,
    ) -> Result<R::Object> {
        let url = self.object_url(R::PATH, id, "")?;
        let call = Call::new(Method::PATCH, url).json(req)?.if_match(if_match);
        self.object(call).await
    }

    /// A state change through a custom method (`POST {PATH}/{id}:{verb}`).
    pub(super) async fn change_state<R: Resource>(
        &self,
        id: &str,
        verb: &str,
        if_match: Option<&str>,
    ) -> Result<R::Object> {
        let url = self.object_url(R::PATH, id, &format!(":{verb}"))?;
        // The documented optional body is `{"reason": …}`; the tool gives no reason.
        let call = Call::new(Method::POST, url)
            .json(&crate::wire::StateChangeRequest::default())?
            .if_match(if_match);
        self.object(call).await
    }

    /// Deletes an object (`DELETE {PATH}/{id}`, 204).
    pub(super) async fn delete<R: Resource>(&self, id: &str, if_match: Option<&str>) -> Result<()> {
        let url = self.object_url(R::PATH, id, "")?;
        self.send(Call::new(Method::DELETE, url).if_match(if_match))
            .await
            .map(drop)
    }

    /// Sends a call whose answer is one object, filling its `etag` from the header if
    /// needed.
    async fn object<T: Object>(&self, call: Call<'_>) -> Result<T> {
        let (mut object, headers): (T, _) = self.fetch(call).await?;
        fill_etag(object.etag_mut(), &headers);
        Ok(object)
    }
}

/// `external_id = "…"`, and `organization_id = "…"` when one is given.
fn external_id_filter(organization_id: Option<&str>, external_id: &str) -> String {
    match organization_id {
        Some(org) => filter::all_equal(&[("external_id", external_id), ("organization_id", org)]),
        None => filter::all_equal(&[("external_id", external_id)]),
    }
}

/// The object among `items` with this `external_id` (and organization, if given); without
/// an organization, one outside any organization wins over the first match. `key` reads an
/// object's `(external_id, organization_id)`.
pub(super) fn pick_by_external_id<T>(
    items: Vec<T>,
    organization_id: Option<&str>,
    external_id: &str,
    key: impl Fn(&T) -> (Option<&str>, Option<&str>),
) -> Option<T> {
    let mut matches: Vec<T> = items
        .into_iter()
        .filter(|item| {
            let (ext, org) = key(item);
            ext == Some(external_id) && organization_id.is_none_or(|want| org == Some(want))
        })
        .collect();
    if organization_id.is_none()
        && let Some(pos) = matches.iter().position(|item| key(item).1.is_none())
    {
        return Some(matches.swap_remove(pos));
    }
    matches.into_iter().next()
}

/// Fills an empty body `etag` from the `ETag` header.
pub(super) fn fill_etag(etag: &mut String, headers: &HeaderMap) {
    if etag.is_empty()
        && let Some(tag) = headers.get(ETAG).and_then(|v| v.to_str().ok())
    {
        *etag = tag.to_string();
    }
}

/// The next page token, or `None` at the end; a token handed back twice would make the
/// listing loop forever, so it is an error.
fn next_page<R: Resource>(
    seen: &mut HashSet<String>,
    next: Option<String>,
) -> Result<Option<String>> {
    match next.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(token) if seen.insert(token.clone()) => Ok(Some(token)),
        Some(_) => Err(Error::Decode {
            method: "GET".into(),
            path: format!("/{}", R::PATH.join("/")),
            message: "the server repeated a page token; stopping the listing".into(),
        }),
    }
}
