//! One logical request before retries ([`Call`]): its method, URL, body and the headers
//! every attempt carries; and reading a 2xx answer back as a [`wire`](crate::wire) type.

use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, IF_MATCH,
};
use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Client;
use crate::live::error;
use crate::live::{Error, Result};

const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// One logical request, before retries.
pub(super) struct Call<'a> {
    pub(super) method: Method,
    pub(super) url: Url,
    pub(super) body: Option<Vec<u8>>,
    /// Send the API key (false for the login flow, which a browser would call).
    pub(super) auth: bool,
    pub(super) idempotency_key: Option<&'a str>,
    pub(super) if_match: Option<&'a str>,
    /// A further value to mask in error messages (the login password).
    pub(super) secret: Option<&'a str>,
}

/// A 2xx response, fully read.
pub(super) struct Reply {
    pub(super) headers: HeaderMap,
    pub(super) body: Vec<u8>,
}

/// What a decoding error may quote of a response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Disclosure {
    /// serde's message, with every known secret masked.
    Masked,
    /// Only the position: the body carries a secret shown once (a client secret, an API
    /// key), which serde's message could quote and which is not known yet, so it cannot
    /// be masked.
    Withheld,
}

impl<'a> Call<'a> {
    /// A call with the API key and nothing else set.
    pub(super) fn new(method: Method, url: Url) -> Self {
        Call {
            method,
            url,
            body: None,
            auth: true,
            idempotency_key: None,
            if_match: None,
            secret: None,
        }
    }

    /// Attaches a JSON body. An encoding failure names the call but never the body.
    pub(super) fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Self> {
        let bytes = serde_json::to_vec(body).map_err(|_| Error::Decode {
            method: self.method.to_string(),
            path: self.url.path().to_string(),
            message: "could not encode the request body".into(),
        })?;
        self.body = Some(bytes);
        Ok(self)
    }

    /// Sends `Idempotency-Key`: a retry or a re-run replays the first answer instead of
    /// creating a second object.
    pub(super) fn idempotent(mut self, key: Option<&'a str>) -> Self {
        self.idempotency_key = key;
        self
    }

    /// Sends `If-Match`: the server answers 409 if the object changed since that ETag.
    pub(super) fn if_match(mut self, etag: Option<&'a str>) -> Self {
        self.if_match = etag;
        self
    }
}

impl Client {
    /// The headers of one call (the same on every attempt).
    pub(super) fn headers(&self, call: &Call<'_>) -> Result<HeaderMap> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if call.body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if call.auth {
            headers.insert(AUTHORIZATION, self.inner.authorization.clone());
        }
        for (name, label, value) in [
            (IDEMPOTENCY_KEY, "Idempotency-Key", call.idempotency_key),
            (IF_MATCH, "If-Match", call.if_match),
        ] {
            if let Some(value) = value {
                let value = HeaderValue::from_str(value).map_err(|_| Error::InvalidArgument {
                    name: label,
                    reason: "not a valid HTTP header value",
                })?;
                headers.insert(name, value);
            }
        }
        Ok(headers)
    }

    /// Sends a call and decodes its 2xx body as `T`, returning the headers too.
    pub(super) async fn fetch<T: DeserializeOwned>(
        &self,
        call: Call<'_>,
    ) -> Result<(T, HeaderMap)> {
        self.fetch_as(call, Disclosure::Masked).await
    }

    /// [`Client::fetch`] for a response that carries a secret shown once.
    pub(super) async fn fetch_secret_bearing<T: DeserializeOwned>(
        &self,
        call: Call<'_>,
    ) -> Result<(T, HeaderMap)> {
        self.fetch_as(call, Disclosure::Withheld).await
    }

    async fn fetch_as<T: DeserializeOwned>(
        &self,
        call: Call<'_>,
        disclosure: Disclosure,
    ) -> Result<(T, HeaderMap)> {
        let method = call.method.clone();
        let path = call.url.path().to_string();
        let reply = self.send(call).await?;
        let value = self.decode(&method, &path, &reply, disclosure)?;
        Ok((value, reply.headers))
    }

    /// Decodes a 2xx body; an error names the call and says as much of serde's message as
    /// `disclosure` allows.
    pub(super) fn decode<T: DeserializeOwned>(
        &self,
        method: &Method,
        path: &str,
        reply: &Reply,
        disclosure: Disclosure,
    ) -> Result<T> {
        serde_json::from_slice(&reply.body).map_err(|e| Error::Decode {
            method: method.to_string(),
            path: path.to_string(),
            message: match disclosure {
                Disclosure::Masked => {
                    self.with_secrets(None, |known| error::mask(&e.to_string(), known))
                }
                Disclosure::Withheld => format!(
                    "the response does not have the expected shape (line {}, column {}; the \
                     details are withheld because the response carries a secret)",
                    e.line(),
                    e.column()
                ),
            },
        })
    }
}
