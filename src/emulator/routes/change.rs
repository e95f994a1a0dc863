//! The changes every resource guarded by `If-Match` shares (identities, OAuth clients,
//! service accounts): the object as a change finds it, and the PATCH and DELETE that run a
//! resource's own change on it in one transaction and answer with the API's status.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use rusqlite::Connection;

use super::body;
use super::list::not_found;
use crate::emulator::AppState;
use crate::emulator::error::ApiError;
use crate::emulator::store::table::{self, Versioned};

/// The object `id` as it is, for a change inside the caller's transaction: 404 when there
/// is none, 409 when `if_match` (the `If-Match` header, if sent) names another version.
pub fn current<R: Versioned>(
    tx: &Connection,
    id: &str,
    if_match: Option<&str>,
) -> Result<R, ApiError> {
    let rec = table::get::<R>(tx, id)?.ok_or_else(not_found::<R>)?;
    body::check_if_match(if_match, &rec.etag(), R::NOUN)?;
    Ok(rec)
}

/// A PATCH: `change` edits the object `id` as it is (see [`current`]) and writes it, in one
/// transaction; the answer is 200 with the object after it and its `ETag`.
pub async fn patch<R, F>(
    state: &AppState,
    id: String,
    headers: &HeaderMap,
    change: F,
) -> Result<Response, ApiError>
where
    R: Versioned + Send + 'static,
    F: FnOnce(&Connection, &mut R) -> Result<(), ApiError> + Send + 'static,
{
    let if_match = body::if_match(headers);
    let rec = state
        .store()
        .write(move |tx| {
            let mut rec = current::<R>(tx, &id, if_match.as_deref())?;
            change(tx, &mut rec)?;
            Ok(rec)
        })
        .await?;
    let etag = rec.etag();
    Ok(body::json(StatusCode::OK, &rec.into_wire(), Some(&etag)))
}

/// A DELETE: `remove` deletes the object `id` as it is (see [`current`]), in one
/// transaction; the answer is 204.
pub async fn delete<R, F>(
    state: &AppState,
    id: String,
    headers: &HeaderMap,
    remove: F,
) -> Result<Response, ApiError>
where
    R: Versioned + Send + 'static,
    F: FnOnce(&Connection, R) -> Result<(), ApiError> + Send + 'static,
{
    let if_match = body::if_match(headers);
    state
        .store()
        .write(move |tx| remove(tx, current::<R>(tx, &id, if_match.as_deref())?))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
