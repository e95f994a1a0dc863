//! Where a call goes: the API base URL and its policy (HTTPS except to loopback, no
//! credentials, query or fragment), and the URLs of collections, objects and listings built
//! from percent-encoded path segments.

use std::net::IpAddr;

use reqwest::Url;

use super::Client;
use crate::live::{Error, Result};

impl Client {
    /// The base URL with `segments` appended, each percent-encoded as one path segment.
    pub(super) fn url<I>(&self, segments: I) -> Url
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut url = self.inner.base.clone();
        // Cannot fail: `parse_base_url` only admits http(s) URLs, which always have a path.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// The URL of one object of the collection at `collection`: `{collection}/{id}`, with
    /// `suffix` appended to the id segment (`:deactivate` for a custom method).
    pub(super) fn object_url(&self, collection: &[&str], id: &str, suffix: &str) -> Result<Url> {
        let member = format!("{}{suffix}", id_segment(id)?);
        Ok(self.url(collection.iter().copied().chain([member.as_str()])))
    }

    /// A list URL: `segments` plus `page_size`, `page_token`, `filter` and `order_by`
    /// query parameters. Listings ask for creation order, oldest first (`order_by =
    /// create_time`, a documented value; the default is newest first): with keyset paging
    /// it is stable while others create, and it reads a tenant in the order it was filled.
    pub(super) fn list_url(
        &self,
        segments: &[&str],
        filter: Option<&str>,
        page_size: u32,
        page_token: Option<&str>,
    ) -> Url {
        let mut url = self.url(segments);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("page_size", &page_size.to_string());
            q.append_pair("order_by", "create_time");
            if let Some(token) = page_token {
                q.append_pair("page_token", token);
            }
            if let Some(filter) = filter {
                q.append_pair("filter", filter);
            }
        }
        url
    }
}

/// An object id as a path segment. Empty and dot-segment ids are refused: the URL library
/// would drop them and the call would silently hit the collection instead.
pub(super) fn id_segment(id: &str) -> Result<&str> {
    if id.is_empty() || id == "." || id == ".." {
        return Err(Error::InvalidArgument {
            name: "object id",
            reason: "empty or a dot segment",
        });
    }
    Ok(id)
}

/// Validates the API base URL against the policy in [`Client::new`].
pub(super) fn parse_base_url(input: &str) -> Result<Url> {
    let input = input.trim();
    let mut url = Url::parse(input).map_err(|e| Error::InvalidUrl {
        url: input.chars().take(200).collect(),
        reason: e.to_string(),
    })?;
    let has_credentials = !url.username().is_empty() || url.password().is_some();
    if has_credentials {
        // Never echo a password someone put in the URL.
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    let shown = url.to_string();
    let invalid = |reason: &str| Error::InvalidUrl {
        url: shown.clone(),
        reason: reason.to_string(),
    };
    if has_credentials {
        return Err(invalid(
            "it must not contain credentials; the key comes from AVNOLOGY_SECRET_KEY",
        ));
    }
    if !matches!(url.scheme(), "https" | "http") {
        return Err(invalid(&format!(
            "unsupported scheme `{}`; use https://",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must not contain a query or a fragment"));
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(Error::InsecureUrl { url: shown });
    }
    Ok(url)
}

/// 127.0.0.0/8, `::1` or `localhost`.
pub(super) fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
