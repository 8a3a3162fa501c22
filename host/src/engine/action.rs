//! What the engine does to a resource, in its two grains, at the engine's lowest layer (it
//! imports nothing of the engine): [`Action`], what a plan does to a resource as a whole, and
//! [`OpAction`], what one operation of an apply does (a replacement is two operations). Both
//! are shown with the same symbols: `+` create, `~` update, `-` delete (`-/+` a replacement
//! as planned).

use serde::{Deserialize, Serialize};

/// What happens to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Made anew.
    Create,
    /// Changed in place.
    Update,
    /// Deleted and made anew (a property that cannot change in place differs).
    Replace,
    /// Deleted.
    Delete,
    /// Left as it is.
    NoOp,
}

impl Action {
    /// The plan's symbol for it.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::NoOp => " ",
        }
    }
}

/// What an operation does to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpAction {
    /// Making it.
    Create,
    /// Changing it in place.
    Update,
    /// The create half of a replacement.
    Replace,
    /// Deleting it.
    Delete,
    /// The delete half of a replacement.
    DeleteForReplace,
    /// Reading it back (refresh, import).
    Read,
}

impl OpAction {
    /// The plan's symbol for it.
    pub fn symbol(self) -> &'static str {
        match self {
            OpAction::Create | OpAction::Replace => "+",
            OpAction::Update => "~",
            OpAction::Delete | OpAction::DeleteForReplace => "-",
            OpAction::Read => " ",
        }
    }

    /// "creating", "updating", … (for "Still creating…").
    pub fn doing(self) -> &'static str {
        match self {
            OpAction::Create | OpAction::Replace => "creating",
            OpAction::Update => "updating",
            OpAction::Delete | OpAction::DeleteForReplace => "deleting",
            OpAction::Read => "reading",
        }
    }
}
