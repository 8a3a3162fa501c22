//! The one TLS stack rkit speaks: rustls with ring. The AWS SDK's client and the sandbox's
//! egress name ring themselves; reqwest (under the S3 state and OCI registries) is built
//! without a crypto provider of its own and takes the process's default, which [`install`]
//! makes ring's. No second TLS library (no OpenSSL) is linked or loaded.
//!
//! Invariant: [`install`] runs before any reqwest client is built (each place that builds
//! one calls it first); installing twice is harmless.

/// Makes ring rustls's process-wide crypto provider, if none is yet.
pub fn install() {
    // An error only says one is installed already: ring, the only one built in.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
