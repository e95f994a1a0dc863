//! The reads every resource shares: the query of a list route (`page_size`, `filter`,
//! `order_by` and `page_token`, parsed the same way for identities, organizations, OAuth
//! clients and service accounts), a page of a collection, and one object by id.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::body::{self, Params, QueryParams};
use crate::emulator::AppState;
use crate::emulator::error::ApiError;
use crate::emulator::filter::{self, Filter};
use crate::emulator::paging::{self, Cursor, Keyset, SortField};
use crate::emulator::store::table::{self, Stored, Versioned};

/// What a collection's listing accepts.
#[derive(Debug, Clone, Copy)]
pub struct Collection {
    /// Its name, which page tokens are bound to.
    pub name: &'static str,
    /// Fields its filter may name.
    pub filter_fields: &'static [&'static str],
    /// Fields it can be ordered by.
    pub sort_fields: &'static [SortField],
}

/// A parsed list query.
#[derive(Debug)]
pub struct ListRequest {
    /// The parsed filter.
    pub filter: Filter,
    /// Order, cursor and page size.
    pub keyset: Keyset,
    /// The collection, the filter as written and the order, which page tokens are bound
    /// to.
    collection: &'static str,
    filter_text: String,
    /// The other query parameters, for routes that take more (`include_linked_providers`).
    pub query: Params,
}

impl ListRequest {
    /// Parses the query of a list route of `collection`.
    pub fn parse(query: QueryParams, collection: &Collection) -> Result<Self, ApiError> {
        let q = body::query_map(query)?;
        let limit = paging::page_size(q.get("page_size").map(String::as_str))?;
        let filter_text = q.get("filter").cloned().unwrap_or_default();
        let filter = filter::parse(&filter_text, collection.filter_fields)
            .map_err(|e| ApiError::field("filter", e.to_string()))?;
        let order = paging::order_by(
            q.get("order_by").map(String::as_str),
            collection.sort_fields,
        )?;
        let after = paging::decode_token(
            q.get("page_token").map(String::as_str),
            collection.name,
            &filter_text,
            &order,
        )?;
        Ok(Self {
            filter,
            keyset: Keyset {
                order,
                after,
                limit,
            },
            collection: collection.name,
            filter_text,
            query: q,
        })
    }

    /// The token of the page after `more`, the last row of this page when another page
    /// follows, bound to this collection, filter and order.
    pub fn next_token(&self, more: Option<Cursor>) -> Option<String> {
        more.map(|c| {
            paging::encode_token(self.collection, &self.filter_text, &self.keyset.order, &c)
        })
    }
}

/// One page of a collection whose rows are `R`, for the query of its list route: the rows,
/// and the token of the next page when another follows.
pub async fn page<R: Stored + Send + 'static>(
    state: &AppState,
    query: QueryParams,
    collection: &Collection,
) -> Result<(Vec<R>, Option<String>), ApiError> {
    let req = ListRequest::parse(query, collection)?;
    let (filter, keyset) = (req.filter.clone(), req.keyset.clone());
    let (items, more) = state
        .store()
        .read(move |c| table::list::<R>(c, &filter, &keyset))
        .await?;
    Ok((items, req.next_token(more)))
}

/// The object `id` of a collection whose rows are `R`, or the error `not_found`.
pub async fn fetch<R: Stored + Send + 'static>(
    state: &AppState,
    id: String,
    not_found: fn() -> ApiError,
) -> Result<R, ApiError> {
    state
        .store()
        .read(move |c| table::get::<R>(c, &id))
        .await?
        .ok_or_else(not_found)
}

/// The 404 of a resource guarded by `If-Match`, naming it.
pub fn not_found<R: Versioned>() -> ApiError {
    ApiError::NotFound { what: R::NOUN }
}

/// The `GET` of one object of a collection guarded by `If-Match` (identities, OAuth
/// clients, service accounts), whose rows are `R`: 200 with its `ETag`.
pub async fn get<R: Versioned + Send + 'static>(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let rec = fetch::<R>(&state, id, not_found::<R>).await?;
    let etag = rec.etag();
    Ok(body::json(StatusCode::OK, &rec.into_wire(), Some(&etag)))
}
