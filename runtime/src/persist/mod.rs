//! Persisted properties: `#[property(persist)]` values kept across restarts, as hololinked's `db_persist`,
//! `db_init` and `db_commit` keep them.
//!
//! ```no_run
//! # use thingwire::{Server, Thing};
//! use thingwire::persist::Storage;
//! # async fn run(thing: impl Thing) -> Result<(), thingwire::ServerError> {
//! Server::builder("lab")
//!     .thing(thing)
//!     .storage(Storage::sqlite("target/lab-state")) // one SQLite file per Thing in this folder
//!     .tcp("0.0.0.0:5555")
//!     .serve()
//!     .await
//! # }
//! ```
//!
//! * **When the server starts**, each Thing's stored values are read and set through the property's write
//!   path (its bounds and type checks, its setter), for properties marked [`Persist::Always`] or
//!   [`Persist::Init`]; a value that cannot be decoded or that the property refuses is reported as a
//!   [`PersistWarning`] (logged, and kept in [`Server::persist_warnings`](crate::Server::persist_warnings))
//!   with the property's name, and the property keeps its default. A persisted property with no stored
//!   value yet is stored with its current value, as hololinked does.
//! * **After every write** of a property marked [`Persist::Always`] or [`Persist::Commit`] (and after every
//!   queued action, for such fields whose value the action changed), the value the property reads is
//!   stored, in one transaction, and committed durably *before* the client gets its reply. A value that
//!   could not be stored is answered with an error saying so (the value is set, but would not survive a
//!   restart).
//!
//! The stores are one [`PropertyStore`] trait with three implementations: SQLite (embedded, the default),
//! PostgreSQL (feature `postgres`) and JSON files. Their layout is hololinked 0.4.2's, so a Python
//! hololinked Thing and a thingwire Thing can share a database: the SQL stores use hololinked's `properties`
//! and `things` tables (thing id, class, name, serialized value, content type, timestamps), values are JSON
//! as hololinked's default serializer writes them; the JSON store writes hololinked's `JSONFileStorage`
//! files. Each store runs on its own thread, so a slow disk or database never holds up a Tokio worker.
//!
//! [`Persist::Always`]: crate::thing::Persist::Always
//! [`Persist::Init`]: crate::thing::Persist::Init
//! [`Persist::Commit`]: crate::thing::Persist::Commit

mod json;
#[cfg(feature = "postgres")]
mod postgres;
pub(crate) mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
pub(crate) mod worker;

use std::fmt;
use std::path::PathBuf;

pub use crate::thing::Persist;

/// The content type hololinked's default serializer stores values in, and the one thingwire writes.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// Who a stored value belongs to: hololinked keys its rows by the Thing's id and its class name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ThingKey {
    /// The Thing's id.
    pub id: String,
    /// The Thing's class: the Rust type's name (`Thermostat`), which must match the Python class's name for
    /// a hololinked Thing to read the same rows.
    pub class: String,
}

impl fmt::Display for ThingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` ({})", self.id, self.class)
    }
}

/// One stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredValue {
    /// The property's name.
    pub name: String,
    /// The serialized value (hololinked's `serialized_value`).
    pub value: Vec<u8>,
    /// How `value` is serialized (hololinked's `content_type`): thingwire writes `application/json` and reads
    /// JSON and msgpack.
    pub content_type: String,
}

/// Where a server keeps the values of its persisted properties. Implemented for SQLite, PostgreSQL and JSON
/// files; implement it for another store and pass it to [`Storage::custom`].
///
/// The server calls it from one thread of its own, one call at a time.
pub trait PropertyStore: Send + 'static {
    /// What and where the store is, for messages: "SQLite file `state/Stage.stage.db`".
    fn describe(&self) -> String;

    /// Prepares the store for `thing` (creates its file or tables, runs migrations). Called once per Thing
    /// before [`load`](Self::load).
    fn open(&mut self, thing: &ThingKey) -> Result<(), PersistError>;

    /// Every value stored for `thing`.
    fn load(&mut self, thing: &ThingKey) -> Result<Vec<StoredValue>, PersistError>;

    /// Stores `values` for `thing`, replacing earlier ones, all or none, durably: when it returns `Ok`, the
    /// values survive a crash of the process (and, for the built-in stores, of the machine).
    fn save(&mut self, thing: &ThingKey, values: &[StoredValue]) -> Result<(), PersistError>;
}

/// A store that cannot be read, written or set up, with what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersistError {
    /// The store's file or folder could not be used.
    #[error("{store}: {action} failed: {source}; check that the path exists and is writable")]
    Io {
        /// The store.
        store: String,
        /// What was being done.
        action: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The database refused a statement or could not be reached.
    #[error("{store}: {action} failed: {message}")]
    Database {
        /// The store.
        store: String,
        /// What was being done.
        action: &'static str,
        /// The database's message.
        message: String,
    },
    /// The store's contents are not what this version understands.
    #[error("{store}: {message}")]
    Schema {
        /// The store.
        store: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The store's thread is gone (the server is shutting down).
    #[error("the property store has stopped (the server is shutting down)")]
    Stopped,
}

/// What went wrong with one persisted property, reported when the server starts or when a value could not
/// be stored. The property keeps the value it had (its default, at start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistWarning {
    /// The Thing's id.
    pub thing_id: String,
    /// The property's name (empty when the warning is about the whole Thing's store).
    pub property: String,
    /// What kind of problem it is.
    pub kind: PersistWarningKind,
    /// What was wrong and what to do.
    pub message: String,
}

/// The kinds of [`PersistWarning`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PersistWarningKind {
    /// The stored value is not valid in its content type (not JSON, say): the default is used.
    Corrupt,
    /// The stored value decodes, but the property refuses it (another type, out of bounds): the default is
    /// used.
    Rejected,
    /// The stored value's content type is one thingwire cannot read (hololinked's pickle): the default is
    /// used.
    UnsupportedContentType,
    /// The store could not be opened, read or written.
    Store,
}

impl fmt::Display for PersistWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.property.is_empty() {
            write!(f, "`{}`: {}", self.thing_id, self.message)
        } else {
            write!(f, "property `{}` of `{}`: {}", self.property, self.thing_id, self.message)
        }
    }
}

/// Which store a server keeps its persisted properties in: pass one to
/// [`ServerBuilder::storage`](crate::ServerBuilder::storage).
pub struct Storage {
    pub(crate) store: Box<dyn PropertyStore>,
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Storage").field(&self.store.describe()).finish()
    }
}

impl Storage {
    /// One SQLite file per Thing in `dir` (created when missing), named `<Class>.<id>.db` as hololinked
    /// names its default database files, with hololinked's tables. Commits are durable: the database runs in
    /// WAL mode with `synchronous = FULL`, so a reply comes after the value reached the disk.
    #[cfg(feature = "sqlite")]
    pub fn sqlite(dir: impl Into<PathBuf>) -> Self {
        Self { store: Box::new(sqlite::SqliteStore::in_dir(dir.into())) }
    }

    /// One SQLite file for every Thing of the server — the file a hololinked Thing's `db_config_file`
    /// (`{"provider": "sqlite", "file": …}`) names, to share it. hololinked's `properties` table makes a
    /// property name unique in a file, so two Things sharing a file cannot both persist a property of the
    /// same name (the second one's store is refused with an error saying so); use [`Storage::sqlite`] then.
    #[cfg(feature = "sqlite")]
    pub fn sqlite_file(path: impl Into<PathBuf>) -> Self {
        Self { store: Box::new(sqlite::SqliteStore::file(path.into())) }
    }

    /// A PostgreSQL database, e.g. `postgresql://user:password@host:5432/lab` (the URL or key-value string
    /// the `postgres` crate takes). The tables are created when missing. Commits are synchronous (the
    /// server's `synchronous_commit`, `on` by default), so a reply comes after the server made the value
    /// durable.
    #[cfg(feature = "postgres")]
    pub fn postgres(url: impl Into<String>) -> Self {
        Self { store: Box::new(postgres::PostgresStore::new(url.into())) }
    }

    /// One JSON file per Thing in `dir` (created when missing), `<id>.json` holding `{"name": value, …}`: the
    /// file hololinked's `JSONFileStorage` reads and writes (`use_json_file=True`). Each save writes a new
    /// file, syncs it and renames it over the old one, so a crash leaves the old file or the new one, never
    /// half of one.
    pub fn json_dir(dir: impl Into<PathBuf>) -> Self {
        Self { store: Box::new(json::JsonStore::new(dir.into())) }
    }

    /// A store of one's own.
    pub fn custom(store: impl PropertyStore) -> Self {
        Self { store: Box::new(store) }
    }

    /// What and where the store is.
    pub fn describe(&self) -> String {
        self.store.describe()
    }
}

/// hololinked's file name for a Thing's storage: the characters file systems refuse become `_`, runs of `_`
/// collapse, and leading and trailing `_` go (hololinked's `get_sanitized_filename_from_random_string`).
pub(crate) fn sanitized_file_name(name: &str, extension: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let bad = matches!(c, '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*') || (c as u32) < 0x20;
        let c = if bad { '_' } else { c };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    format!("{}.{extension}", out.trim_matches('_'))
}

/// The time hololinked stamps rows with: `datetime.now().isoformat()`, local time without a zone.
pub(crate) fn now_iso() -> String {
    chrono::Local::now().naive_local().format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_hololinkeds() {
        assert_eq!(sanitized_file_name("Stage.stage-1", "db"), "Stage.stage-1.db");
        assert_eq!(sanitized_file_name("a/b::c", "json"), "a_b_c.json");
        assert_eq!(sanitized_file_name("_x<>y_", "db"), "x_y.db");
    }

    #[test]
    fn timestamps_look_like_pythons_isoformat() {
        let now = now_iso();
        assert_eq!(now.len(), "2024-01-02T03:04:05.123456".len(), "{now}");
        assert_eq!(&now[10..11], "T");
    }
}
