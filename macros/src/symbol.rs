//! The names of our attributes and of their keys, in one table (after serde_derive's `symbol.rs`): the
//! parser matches on these constants and the "did you mean" suggestions offer them, so the two cannot drift.

use std::fmt::{self, Display};

use syn::{Ident, Path};

/// The name of one of our attributes or of one of their keys.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) struct Symbol(&'static str);

impl Symbol {
    /// The name as written.
    pub(crate) fn name(self) -> &'static str {
        self.0
    }
}

// The attributes.
pub(crate) const THING: Symbol = Symbol("thing");
pub(crate) const PROPERTY: Symbol = Symbol("property");
pub(crate) const ACTION: Symbol = Symbol("action");
pub(crate) const EVENT: Symbol = Symbol("event");
pub(crate) const PARAM: Symbol = Symbol("param");
pub(crate) const ID: Symbol = Symbol("id");
pub(crate) const STATE_MACHINE: Symbol = Symbol("state_machine");

// `#[thing(...)]`.
pub(crate) const CLIENT: Symbol = Symbol("client");
pub(crate) const CRATE: Symbol = Symbol("crate");
pub(crate) const STATES: Symbol = Symbol("states");

// Shared by several attributes.
pub(crate) const DESCRIPTION: Symbol = Symbol("description");
pub(crate) const RENAME: Symbol = Symbol("rename");
pub(crate) const TITLE: Symbol = Symbol("title");

// `#[property(...)]` and `#[param(...)]`.
pub(crate) const DEFAULT: Symbol = Symbol("default");
pub(crate) const OBSERVABLE: Symbol = Symbol("observable");
pub(crate) const PERSIST: Symbol = Symbol("persist");
// The values of `persist = "..."`.
pub(crate) const INIT: Symbol = Symbol("init");
pub(crate) const COMMIT: Symbol = Symbol("commit");
pub(crate) const READ_ONLY: Symbol = Symbol("read_only");
pub(crate) const SETTER: Symbol = Symbol("setter");
pub(crate) const UNIT: Symbol = Symbol("unit");
pub(crate) const POLL: Symbol = Symbol("poll");
pub(crate) const ABS_CHANGE: Symbol = Symbol("abs_change");
pub(crate) const REL_CHANGE: Symbol = Symbol("rel_change");

// Bounds.
pub(crate) const MINIMUM: Symbol = Symbol("minimum");
pub(crate) const MAXIMUM: Symbol = Symbol("maximum");
pub(crate) const EXCLUSIVE_MINIMUM: Symbol = Symbol("exclusive_minimum");
pub(crate) const EXCLUSIVE_MAXIMUM: Symbol = Symbol("exclusive_maximum");
pub(crate) const MULTIPLE_OF: Symbol = Symbol("multiple_of");
pub(crate) const MIN_ITEMS: Symbol = Symbol("min_items");
pub(crate) const MAX_ITEMS: Symbol = Symbol("max_items");
pub(crate) const MIN_LENGTH: Symbol = Symbol("min_length");
pub(crate) const MAX_LENGTH: Symbol = Symbol("max_length");

// `#[action(...)]`.
pub(crate) const CONCURRENT: Symbol = Symbol("concurrent");
pub(crate) const EXECUTION_TIMEOUT: Symbol = Symbol("execution_timeout");
pub(crate) const IDEMPOTENT: Symbol = Symbol("idempotent");
pub(crate) const INVOCATION_TIMEOUT: Symbol = Symbol("invocation_timeout");
pub(crate) const SAFE: Symbol = Symbol("safe");
pub(crate) const THREADED: Symbol = Symbol("threaded");

impl PartialEq<Symbol> for Ident {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl PartialEq<Symbol> for &Ident {
    fn eq(&self, word: &Symbol) -> bool {
        *self == word.0
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl PartialEq<Symbol> for &Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl Display for Symbol {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.0)
    }
}
