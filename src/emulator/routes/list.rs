//! The query of every list route: `page_size`, `filter`, `order_by` and `page_token`,
//! parsed the same way for identities, organizations, OAuth clients and service accounts.

use std::collections::HashMap;

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;

use super::body;
use crate::emulator::error::ApiError;
use crate::emulator::filter::{self, Filter};
use crate::emulator::paging;

/// A parsed list query.
#[derive(Debug)]
pub struct ListRequest {
    /// Rows per page.
    pub page_size: u32,
    /// The parsed filter.
    pub filter: Filter,
    /// The filter as written, which page tokens are bound to.
    filter_text: String,
    /// The rowid the page starts after.
    pub after: i64,
}

impl ListRequest {
    /// Parses the query of a list route whose filter may name `fields`.
    pub fn parse(
        query: Result<Query<HashMap<String, String>>, QueryRejection>,
        fields: &[&str],
    ) -> Result<Self, ApiError> {
        let q = body::query_map(query)?;
        let page_size = paging::page_size(q.get("page_size").map(String::as_str))?;
        let filter_text = q.get("filter").cloned().unwrap_or_default();
        let filter = filter::parse(&filter_text, fields)
            .map_err(|e| ApiError::field("filter", e.to_string()))?;
        check_order_by(q.get("order_by"))?;
        let after = paging::decode_token(q.get("page_token").map(String::as_str), &filter_text)?;
        Ok(Self {
            page_size,
            filter,
            filter_text,
            after,
        })
    }

    /// The token of the page after the last row `more_after`, bound to this filter.
    pub fn next_token(&self, more_after: Option<i64>) -> Option<String> {
        more_after.map(|seq| paging::encode_token(seq, &self.filter_text))
    }
}

/// Listings are in creation order (the stable keyset order); any other requested order is
/// refused rather than silently ignored.
fn check_order_by(order_by: Option<&String>) -> Result<(), ApiError> {
    match order_by.map(|o| o.trim()) {
        None | Some("" | "create_time" | "create_time asc") => Ok(()),
        Some(_) => Err(ApiError::field(
            "order_by",
            "the emulator lists in creation order only (order_by=create_time)",
        )),
    }
}
