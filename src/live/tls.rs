//! The one place HTTP clients are built, so every client of the tool, its tests and its
//! benchmarks get the same TLS: rustls with the *ring* crypto provider.
//!
//! reqwest's default provider, aws-lc-rs, compiles all of AWS-LC from C: on a fresh 2-core
//! machine that was the longest single step of the build (BENCHMARKS.md, "A fresh clone's two
//! README commands"). ring builds in seconds and gives rustls the same protocol versions and
//! cipher suites the API needs. reqwest is built with `rustls-no-provider`, so a client built
//! any other way would panic at start-up instead of silently choosing another provider.

/// A `reqwest` client builder with the process-wide rustls provider installed.
pub fn client_builder() -> reqwest::ClientBuilder {
    // Installing fails only when a provider is already installed (by an earlier call): either
    // way the process has one, which is all reqwest needs.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_twice_with_the_ring_provider() {
        client_builder().build().unwrap();
        client_builder().build().unwrap();
        let provider = rustls::crypto::CryptoProvider::get_default().unwrap();
        assert!(
            provider
                .cipher_suites
                .iter()
                .any(|s| s.version() == &rustls::version::TLS13),
            "TLS 1.3 suites are available"
        );
    }
}
