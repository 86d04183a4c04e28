//! PostgreSQL by URL, hololinked's tables, synchronous commits. The blocking `postgres` client runs on the
//! store's own thread (it drives its own small Tokio runtime there, never the server's).

use postgres::{Client, NoTls};

use super::sql::{self, Dialect};
use super::{PersistError, PropertyStore, StoredValue, ThingKey, now_iso};

pub(crate) struct PostgresStore {
    url: String,
    client: Option<Client>,
}

impl PostgresStore {
    pub(crate) fn new(url: String) -> Self {
        Self { url, client: None }
    }

    /// The URL without its password, for messages.
    fn redacted(&self) -> String {
        match self.url.split_once("://") {
            Some((scheme, rest)) => match rest.rsplit_once('@') {
                Some((credentials, host)) => match credentials.split_once(':') {
                    Some((user, _password)) => format!("{scheme}://{user}:…@{host}"),
                    None => self.url.clone(),
                },
                None => self.url.clone(),
            },
            None => "a key-value connection string".into(),
        }
    }

    fn error(&self, action: &'static str, e: postgres::Error) -> PersistError {
        PersistError::Database { store: self.describe(), action, message: e.to_string() }
    }

    fn client(&mut self) -> Result<&mut Client, PersistError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            let client = Client::connect(&self.url, NoTls).map_err(|e| PersistError::Database {
                store: self.describe(),
                action: "connecting",
                message: format!("{e}; check the URL, that the server runs and that it accepts this user"),
            })?;
            self.client = Some(client);
            self.migrate()?;
        }
        match self.client.as_mut() {
            Some(c) => Ok(c),
            None => Err(PersistError::Stopped),
        }
    }

    fn migrate(&mut self) -> Result<(), PersistError> {
        let store = self.describe();
        let Some(client) = self.client.as_mut() else { return Err(PersistError::Stopped) };
        let db = |action, e: postgres::Error| PersistError::Database {
            store: store.clone(),
            action,
            message: e.to_string(),
        };
        let mut tx = client.transaction().map_err(|e| db("migrating the schema", e))?;
        // One server migrates at a time; the others wait here, then find the work done.
        tx.batch_execute("SELECT pg_advisory_xact_lock(7165377232)").map_err(|e| db("locking the schema", e))?;
        tx.batch_execute(sql::VERSION_TABLE).map_err(|e| db("creating the version table", e))?;
        let version: i64 = tx
            .query_one("SELECT COALESCE(MAX(version), 0)::BIGINT FROM thingwire_schema", &[])
            .map_err(|e| db("reading the schema version", e))?
            .get(0);
        if version > sql::MIGRATIONS.len() as i64 {
            return Err(PersistError::Schema { store, message: sql::newer(version) });
        }
        for (i, migration) in sql::MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.batch_execute(&migration(Dialect::Postgres)).map_err(|e| db("migrating the schema", e))?;
            tx.execute("DELETE FROM thingwire_schema", &[]).map_err(|e| db("migrating the schema", e))?;
            tx.execute("INSERT INTO thingwire_schema (version) VALUES ($1)", &[&(i as i32 + 1)])
                .map_err(|e| db("migrating the schema", e))?;
        }
        tx.commit().map_err(|e| db("migrating the schema", e))
    }
}

impl PropertyStore for PostgresStore {
    fn describe(&self) -> String {
        format!("PostgreSQL database `{}`", self.redacted())
    }

    fn open(&mut self, _thing: &ThingKey) -> Result<(), PersistError> {
        self.client().map(|_| ())
    }

    fn load(&mut self, thing: &ThingKey) -> Result<Vec<StoredValue>, PersistError> {
        let rows = self
            .client()?
            .query(
                "SELECT name, serialized_value, content_type FROM properties WHERE thing_id = $1 AND thing_class = $2",
                &[&thing.id, &thing.class],
            )
            .map_err(|e| self.error("reading the stored properties", e))?;
        Ok(rows.iter().map(|r| StoredValue { name: r.get(0), value: r.get(1), content_type: r.get(2) }).collect())
    }

    fn save(&mut self, thing: &ThingKey, values: &[StoredValue]) -> Result<(), PersistError> {
        let now = now_iso();
        let store = self.describe();
        let client = self.client()?;
        let db = |e: postgres::Error| PersistError::Database {
            store: store.clone(),
            action: "storing the values",
            message: e.to_string(),
        };
        let mut tx = client.transaction().map_err(db)?;
        for v in values {
            let updated = tx
                .execute(
                    "UPDATE properties SET serialized_value = $1, updated_at = $2, content_type = $3 \
                     WHERE thing_id = $4 AND thing_class = $5 AND name = $6",
                    &[&v.value, &now, &v.content_type, &thing.id, &thing.class, &v.name],
                )
                .map_err(db)?;
            if updated > 0 {
                continue;
            }
            let taken = tx.query_opt("SELECT 1 FROM properties WHERE name = $1", &[&v.name]).map_err(db)?;
            if taken.is_some() {
                return Err(PersistError::Schema { store: store.clone(), message: sql::name_taken(&v.name) });
            }
            tx.execute(
                "INSERT INTO properties (name, serialized_value, thing_id, thing_class, created_at, updated_at, \
                 content_type) VALUES ($1, $2, $3, $4, $5, $5, $6)",
                &[&v.name, &v.value, &thing.id, &thing.class, &now, &v.content_type],
            )
            .map_err(db)?;
        }
        // `synchronous_commit` is on unless the server says otherwise: the commit returns once it is durable.
        tx.commit().map_err(db)
    }
}
