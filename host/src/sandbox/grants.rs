//! What a provider is allowed to do. Deny by default: an empty [`Grants`] allows no HTTP, no
//! files, no environment, no sockets, no credentials, no API action and no Cloud Control
//! resource type, and bounds memory,
//! CPU and wall-clock time of every call (describe and configure included).

use super::grant_dir::GrantDir;
use super::http::{ApiActions, AwsSigner, HttpAllow, ResourceTypes};
use std::sync::Arc;
use std::time::Duration;

/// The capabilities granted to one provider.
#[derive(Debug, Clone)]
pub struct Grants {
    /// Outgoing HTTP destinations; anything else is denied.
    pub http: Vec<HttpAllow>,
    /// A host directory mapped into the sandbox as `/` (read-write), opened without
    /// following links.
    pub filesystem: Option<GrantDir>,
    /// Memory per instance, in bytes: its linear memory and the host objects it makes.
    pub memory_bytes: usize,
    /// CPU a call may use, in WebAssembly and in the host calls it makes (time spent waiting,
    /// for HTTP say, does not count).
    pub cpu: Duration,
    /// Wall-clock bound on one call, host calls included.
    pub timeout: Duration,
    /// Credentials the host signs the provider's requests with, for their endpoints only.
    pub signer: Option<Arc<AwsSigner>>,
    /// The API actions signed requests may call.
    pub api_actions: ApiActions,
    /// The Cloud Control resource types signed requests may name.
    pub resource_types: ResourceTypes,
}

impl Grants {
    /// These grants' limits (memory, CPU, timeout) and nothing else: for `describe` and
    /// `describe-types`.
    pub fn limits_only(&self) -> Self {
        Self {
            memory_bytes: self.memory_bytes,
            cpu: self.cpu,
            timeout: self.timeout,
            ..Self::default()
        }
    }
}

impl Default for Grants {
    fn default() -> Self {
        Self {
            http: Vec::new(),
            filesystem: None,
            memory_bytes: DEFAULT_MEMORY,
            cpu: DEFAULT_CPU,
            timeout: DEFAULT_TIMEOUT,
            signer: None,
            api_actions: ApiActions::default(),
            resource_types: ResourceTypes::default(),
        }
    }
}

/// The default memory per instance.
pub const DEFAULT_MEMORY: usize = 256 << 20;
/// The default CPU per call.
pub const DEFAULT_CPU: Duration = Duration::from_secs(10);
/// The default wall-clock bound per call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
