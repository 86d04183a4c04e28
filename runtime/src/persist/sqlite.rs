//! The embedded store: SQLite (compiled in, no system library), hololinked's tables, durable commits.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use super::sql::{self, Dialect};
use super::{PersistError, PropertyStore, StoredValue, ThingKey, now_iso, sanitized_file_name};

/// Where the files are: one per Thing in a folder, or one for all.
enum Place {
    Dir(PathBuf),
    File(PathBuf),
}

pub(crate) struct SqliteStore {
    place: Place,
    /// Open connections by file.
    connections: HashMap<PathBuf, Connection>,
    /// Each Thing's file.
    files: HashMap<ThingKey, PathBuf>,
}

impl SqliteStore {
    pub(crate) fn in_dir(dir: PathBuf) -> Self {
        Self { place: Place::Dir(dir), connections: HashMap::new(), files: HashMap::new() }
    }

    pub(crate) fn file(path: PathBuf) -> Self {
        Self { place: Place::File(path), connections: HashMap::new(), files: HashMap::new() }
    }

    fn path_for(&self, thing: &ThingKey) -> PathBuf {
        match &self.place {
            Place::Dir(dir) => dir.join(sanitized_file_name(&format!("{}.{}", thing.class, thing.id), "db")),
            Place::File(path) => path.clone(),
        }
    }

    fn connection(&mut self, thing: &ThingKey) -> Result<(PathBuf, &mut Connection), PersistError> {
        let describe = self.describe();
        let Some(path) = self.files.get(thing) else {
            return Err(PersistError::Schema {
                store: describe,
                message: format!("the store was not opened for {thing} (internal error, please report)"),
            });
        };
        match self.connections.get_mut(path) {
            Some(c) => Ok((path.clone(), c)),
            None => Err(PersistError::Schema {
                store: describe,
                message: format!("the file of {thing} is not open (internal error, please report)"),
            }),
        }
    }
}

fn db_error(path: &Path, action: &'static str, e: rusqlite::Error) -> PersistError {
    PersistError::Database { store: describe_file(path), action, message: e.to_string() }
}

fn describe_file(path: &Path) -> String {
    format!("SQLite file `{}`", path.display())
}

/// Opens `path` for durable commits and brings its schema up to date.
fn open_file(path: &Path) -> Result<Connection, PersistError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| PersistError::Io {
            store: describe_file(path),
            action: "creating its folder",
            source,
        })?;
    }
    let mut conn = Connection::open(path).map_err(|e| db_error(path, "opening the file", e))?;
    // WAL: a commit appends to the log and syncs it once; FULL: that sync happens before the commit returns,
    // so a reply never announces a value a power cut could take back. hololinked's pysqlite opens WAL files
    // as they are. Wait for another process's transaction (a hololinked Thing on the same file) rather than
    // failing at once.
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(|e| db_error(path, "setting the busy timeout", e))?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(|e| db_error(path, "turning on WAL mode", e))?;
    conn.pragma_update(None, "synchronous", "FULL").map_err(|e| db_error(path, "turning on synchronous commits", e))?;
    migrate(&mut conn).map_err(|e| match e {
        Migration::Db(e) => db_error(path, "migrating the schema", e),
        Migration::Newer(v) => PersistError::Schema { store: describe_file(path), message: sql::newer(v) },
    })?;
    Ok(conn)
}

enum Migration {
    Db(rusqlite::Error),
    Newer(i64),
}

fn migrate(conn: &mut Connection) -> Result<(), Migration> {
    conn.execute_batch(sql::VERSION_TABLE).map_err(Migration::Db)?;
    let version: i64 = conn.query_row(sql::READ_VERSION, [], |r| r.get(0)).map_err(Migration::Db)?;
    let known = sql::MIGRATIONS.len() as i64;
    if version > known {
        return Err(Migration::Newer(version));
    }
    for (i, migration) in sql::MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction().map_err(Migration::Db)?;
        tx.execute_batch(&migration(Dialect::Sqlite)).map_err(Migration::Db)?;
        tx.execute("DELETE FROM thingwire_schema", []).map_err(Migration::Db)?;
        tx.execute("INSERT INTO thingwire_schema (version) VALUES (?1)", params![i as i64 + 1])
            .map_err(Migration::Db)?;
        tx.commit().map_err(Migration::Db)?;
    }
    Ok(())
}

impl PropertyStore for SqliteStore {
    fn describe(&self) -> String {
        match &self.place {
            Place::Dir(dir) => format!("SQLite files in `{}`", dir.display()),
            Place::File(path) => describe_file(path),
        }
    }

    fn open(&mut self, thing: &ThingKey) -> Result<(), PersistError> {
        let path = self.path_for(thing);
        if !self.connections.contains_key(&path) {
            let conn = open_file(&path)?;
            self.connections.insert(path.clone(), conn);
        }
        self.files.insert(thing.clone(), path);
        Ok(())
    }

    fn load(&mut self, thing: &ThingKey) -> Result<Vec<StoredValue>, PersistError> {
        let (path, conn) = self.connection(thing)?;
        let read = |conn: &mut Connection| -> rusqlite::Result<Vec<StoredValue>> {
            let mut stmt = conn.prepare_cached(
                "SELECT name, serialized_value, content_type FROM properties WHERE thing_id = ?1 AND thing_class = ?2",
            )?;
            let rows = stmt.query_map(params![thing.id, thing.class], |r| {
                Ok(StoredValue { name: r.get(0)?, value: r.get(1)?, content_type: r.get(2)? })
            })?;
            rows.collect()
        };
        read(conn).map_err(|e| db_error(&path, "reading the stored properties", e))
    }

    fn save(&mut self, thing: &ThingKey, values: &[StoredValue]) -> Result<(), PersistError> {
        let (path, conn) = self.connection(thing)?;
        let now = now_iso();
        let mut taken = None;
        let mut write = || -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            for v in values {
                let updated = tx
                    .prepare_cached(
                        "UPDATE properties SET serialized_value = ?1, updated_at = ?2, content_type = ?3 \
                         WHERE thing_id = ?4 AND thing_class = ?5 AND name = ?6",
                    )?
                    .execute(params![v.value, now, v.content_type, thing.id, thing.class, v.name])?;
                if updated > 0 {
                    continue;
                }
                let holder: Option<String> = tx
                    .prepare_cached("SELECT thing_id FROM properties WHERE name = ?1")?
                    .query_row(params![v.name], |r| r.get(0))
                    .optional()?;
                if holder.is_some() {
                    taken = Some(v.name.clone());
                    return Err(rusqlite::Error::QueryReturnedNoRows);
                }
                tx.prepare_cached(
                    "INSERT INTO properties (name, serialized_value, thing_id, thing_class, created_at, updated_at, \
                     content_type) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
                )?
                .execute(params![v.name, v.value, thing.id, thing.class, now, v.content_type])?;
            }
            tx.commit()
        };
        match write() {
            Ok(()) => Ok(()),
            Err(_) if taken.is_some() => Err(PersistError::Schema {
                store: describe_file(&path),
                message: sql::name_taken(taken.as_deref().unwrap_or_default()),
            }),
            Err(e) => Err(db_error(&path, "storing the values", e)),
        }
    }
}
