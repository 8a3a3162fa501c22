//! The one TLS stack rkit speaks: rustls with ring. The AWS SDK's client and the sandbox's
//! egress name ring themselves; reqwest (under the S3 state and OCI registries) is built
//! without a crypto provider of its own and takes the process's default, which [`install`]
//! makes ring's. No second TLS library (no OpenSSL) is linked or loaded.
//!
//! reqwest trusts the system's roots (rustls-platform-verifier: the system's store,
//! `SSL_CERT_FILE` and `SSL_CERT_DIR` honoured) and refuses to build a client where there
//! are none (a container without CA certificates), even for plain HTTP. There, and only
//! there, [`fallback_roots`] gives Mozilla's (the roots the sandbox's egress trusts), so that
//! a state on a loopback S3 or a loopback registry is reached as ever and HTTPS is verified
//! against a known store rather than failing to start.
//!
//! Invariants: [`install`] runs before any reqwest client is built (each place that builds
//! one calls it first); installing twice is harmless. Roots are only ever added where the
//! system has none: a system store is never widened.

use rustls::pki_types::CertificateDer;
use std::sync::OnceLock;

/// Makes ring rustls's process-wide crypto provider, if none is yet.
pub fn install() {
    // An error only says one is installed already: ring, the only one built in.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The roots a reqwest client adds to the system's: none while the system has any, Mozilla's
/// on a machine with none (asked once per process).
pub fn fallback_roots() -> &'static [CertificateDer<'static>] {
    static SYSTEM_HAS_ROOTS: OnceLock<bool> = OnceLock::new();
    let has = *SYSTEM_HAS_ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        let mut store = rustls::RootCertStore::empty();
        store.add_parsable_certificates(found.certs).0 > 0
    });
    match has {
        true => &[],
        false => webpki_root_certs::TLS_SERVER_ROOT_CERTS,
    }
}
