//! What the SQL stores share: hololinked 0.4.2's tables, as its SQLAlchemy models create them, and the
//! versioned migrations that create them.
//!
//! The version lives in a table of our own, `thingwire_schema`, beside hololinked's (which SQLAlchemy's
//! `create_all` leaves alone): a database hololinked created has hololinked's tables and no version; one at
//! version `n` has had migrations `1..=n` applied. A later thingwire appends migrations here, never edits
//! one; a database at a version above [`MIGRATIONS`]'s length was written by a newer thingwire and is
//! refused rather than guessed at.

/// The SQL dialects the migrations are written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(all(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// The migrations, in order: migration `i + 1` is `MIGRATIONS[i]`. Each is run in one transaction with the
/// version update.
pub(crate) const MIGRATIONS: &[fn(Dialect) -> String] = &[hololinked_tables];

/// Migration 1: hololinked 0.4.2's `properties` and `things` tables (`hololinked/storage/models.py`,
/// `SerializedProperty` and `ThingInformation`), column for column as SQLAlchemy 2 creates them; `IF NOT
/// EXISTS`, since hololinked may have created them already.
fn hololinked_tables(dialect: Dialect) -> String {
    let (id, blob) = match dialect {
        Dialect::Sqlite => ("INTEGER", "BLOB"),
        Dialect::Postgres => ("SERIAL", "BYTEA"),
    };
    format!(
        "CREATE TABLE IF NOT EXISTS properties (
            id {id} NOT NULL,
            name VARCHAR NOT NULL,
            serialized_value {blob} NOT NULL,
            thing_id VARCHAR NOT NULL,
            thing_class VARCHAR NOT NULL,
            created_at VARCHAR NOT NULL,
            updated_at VARCHAR NOT NULL,
            content_type VARCHAR NOT NULL,
            PRIMARY KEY (id),
            UNIQUE (name)
        );
        CREATE TABLE IF NOT EXISTS things (
            id {id} NOT NULL,
            thing_id VARCHAR NOT NULL,
            thing_class VARCHAR NOT NULL,
            script VARCHAR NOT NULL,
            init_kwargs JSON,
            server_id VARCHAR NOT NULL,
            PRIMARY KEY (id),
            UNIQUE (thing_id)
        );"
    )
}

/// Creates the version table when missing.
pub(crate) const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS thingwire_schema (version INTEGER NOT NULL)";

/// The version, `0` for none.
pub(crate) const READ_VERSION: &str = "SELECT COALESCE(MAX(version), 0) FROM thingwire_schema";

/// The message for a database newer than this thingwire.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn newer(version: i64) -> String {
    format!(
        "the database is at schema version {version}, written by a newer thingwire (this one knows versions up to \
         {}); upgrade thingwire, or point the storage at another database",
        MIGRATIONS.len()
    )
}

/// The message when hololinked's `UNIQUE (name)` refuses a row another Thing holds.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn name_taken(name: &str) -> String {
    format!(
        "another Thing in this database already stores a property named `{name}` (hololinked's `properties` table \
         makes names unique in a database); give each Thing its own file with `Storage::sqlite(dir)`, or another \
         database"
    )
}
