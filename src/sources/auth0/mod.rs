//! Auth0 exports.
