//! Admin scopes: the permissions an API key carries, by resource.

/// Admin scopes (documented names).
pub mod scopes {
    /// List and get identities.
    pub const USERS_READ: &str = "admin:users:read";
    /// Create, update, delete, deactivate, reactivate identities.
    pub const USERS_WRITE: &str = "admin:users:write";
    /// List and get organizations.
    pub const ORGS_READ: &str = "admin:orgs:read";
    /// Create and update organizations.
    pub const ORGS_WRITE: &str = "admin:orgs:write";
    /// Every scope the emulator knows: these four, plus the OAuth-client and
    /// service-account scopes of [`super::client_scopes`] (added so the admin key and the
    /// sandbox key can manage clients too).
    pub const ALL: &[&str] = &[
        USERS_READ,
        USERS_WRITE,
        ORGS_READ,
        ORGS_WRITE,
        super::client_scopes::CLIENTS_READ,
        super::client_scopes::CLIENTS_WRITE,
        super::client_scopes::SERVICE_ACCOUNTS_READ,
        super::client_scopes::SERVICE_ACCOUNTS_WRITE,
    ];
}

/// Scopes for the client resources.
pub mod client_scopes {
    /// OAuth clients, read (assumed name).
    pub const CLIENTS_READ: &str = "admin:oauth-clients:read";
    /// OAuth clients, write (assumed name).
    pub const CLIENTS_WRITE: &str = "admin:oauth-clients:write";
    /// Service accounts and keys, read (documented).
    pub const SERVICE_ACCOUNTS_READ: &str = "admin:service-accounts:read";
    /// Service accounts and keys, write (documented).
    pub const SERVICE_ACCOUNTS_WRITE: &str = "admin:service-accounts:write";
}
