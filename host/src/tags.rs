//! The tag keys rkit puts on what it creates: the one home for them. Every object carries
//! the stack it belongs to and its name in the spec; together they identify it, so that an
//! object whose creation was not recorded can be found (and adopted or deleted) by listing.

/// The stack (the spec's `Stack`, by default its file's stem).
pub const STACK: &str = "rkit:stack";
/// The resource's name in the spec.
pub const NAME: &str = "rkit:name";
/// The prefix of every key rkit owns.
pub const PREFIX: &str = "rkit:";
/// The group a member belongs to.
pub const GROUP: &str = "rkit:group";
/// A member's logical ID in its group (its index for a group of a `Size`).
pub const LOGICAL_ID: &str = "rkit:logical-id";
/// The hash of the template a member was made from.
pub const CONFIG_HASH: &str = "rkit:config-hash";
/// The config hash of a seed member made by hand or by a bootstrap script: adopted and
/// relabelled, not replaced.
pub const BOOTSTRAP: &str = "bootstrap";
