//! The store's thread, and what a Thing's scheduler does with it: restoring values at start, finding the
//! values to store after an operation, and answering only once they are stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, mpsc};

use super::{JSON_CONTENT_TYPE, PersistError, PersistWarning, PersistWarningKind, Storage, StoredValue, ThingKey};
use crate::error::ThingError;
use crate::protocol::ContentType;
use crate::thing::{Thing, ThingDescriptor};

type Done = Box<dyn FnOnce(Result<(), PersistError>) + Send>;

enum Command {
    /// Opens the Thing's store and reads what it holds.
    Open { thing: ThingKey, reply: tokio::sync::oneshot::Sender<Result<Vec<StoredValue>, PersistError>> },
    /// Stores values; `done` is called on the store's thread once they are durable (or could not be stored).
    Save { thing: ThingKey, values: Vec<StoredValue>, done: Done },
}

/// The server's way to its store: cheap to clone, usable from any thread.
#[derive(Clone)]
pub(crate) struct StoreHandle {
    tx: mpsc::Sender<Command>,
    warnings: Arc<Mutex<Vec<PersistWarning>>>,
    describe: Arc<str>,
}

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StoreHandle").field(&self.describe).finish()
    }
}

impl StoreHandle {
    /// Starts the store's thread; it ends when the last handle is dropped.
    pub(crate) fn start(storage: Storage) -> Result<Self, std::io::Error> {
        let Storage { mut store } = storage;
        let describe: Arc<str> = Arc::from(store.describe());
        let (tx, rx) = mpsc::channel::<Command>();
        // Replies are sent from this thread; a binding's reply sink may need the server's runtime.
        let runtime = tokio::runtime::Handle::try_current().ok();
        std::thread::Builder::new().name("thingwire-store".into()).spawn(move || {
            let _entered = runtime.as_ref().map(tokio::runtime::Handle::enter);
            let mut failed: HashMap<ThingKey, String> = HashMap::new();
            while let Ok(command) = rx.recv() {
                match command {
                    Command::Open { thing, reply } => {
                        let result = store.open(&thing).and_then(|()| store.load(&thing));
                        if let Err(e) = &result {
                            failed.insert(thing, e.to_string());
                        }
                        let _ = reply.send(result);
                    }
                    Command::Save { thing, values, done } => {
                        let result = match failed.get(&thing) {
                            Some(why) => Err(PersistError::Schema {
                                store: store.describe(),
                                message: format!("the store could not be opened when the server started: {why}"),
                            }),
                            None => store.save(&thing, &values),
                        };
                        done(result);
                    }
                }
            }
        })?;
        Ok(Self { tx, warnings: Arc::default(), describe })
    }

    /// Opens the Thing's store and reads its values.
    async fn open(&self, thing: ThingKey) -> Result<Vec<StoredValue>, PersistError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.tx.send(Command::Open { thing, reply }).map_err(|_| PersistError::Stopped)?;
        answer.await.map_err(|_| PersistError::Stopped)?
    }

    /// Stores `values`, calling `done` once they are durable.
    fn save(&self, thing: ThingKey, values: Vec<StoredValue>, done: Done) {
        if let Err(mpsc::SendError(Command::Save { done, .. })) = self.tx.send(Command::Save { thing, values, done }) {
            done(Err(PersistError::Stopped));
        }
    }

    /// Stores `values` and waits until they are durable.
    async fn save_now(&self, thing: ThingKey, values: Vec<StoredValue>) -> Result<(), PersistError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.save(
            thing,
            values,
            Box::new(move |r| {
                let _ = reply.send(r);
            }),
        );
        answer.await.map_err(|_| PersistError::Stopped)?
    }

    /// Logs a warning and keeps it for [`crate::Server::persist_warnings`].
    pub(crate) fn warn(&self, thing_id: &str, property: &str, kind: PersistWarningKind, message: String) {
        let warning = PersistWarning { thing_id: thing_id.to_owned(), property: property.to_owned(), kind, message };
        tracing::warn!(thing = thing_id, property, kind = ?kind, "{warning}");
        self.warnings.lock().unwrap_or_else(|p| p.into_inner()).push(warning);
    }

    /// Every warning so far, oldest first.
    pub(crate) fn warnings(&self) -> Vec<PersistWarning> {
        self.warnings.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The name hololinked keys a Thing's rows by: its class's, here the Rust type's last path segment.
pub(crate) fn class_name<T>() -> String {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base).to_owned()
}

/// One Thing's link to the store, held by its scheduler.
pub(crate) struct ThingStore {
    store: StoreHandle,
    key: ThingKey,
    descriptor: &'static ThingDescriptor,
    /// The last value stored (or restored) of each property that is stored, by its index.
    last: Mutex<HashMap<usize, Vec<u8>>>,
}

/// Which properties an operation may have changed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Touched {
    /// A write of this property: stored even when its value did not change (hololinked stores every set).
    One(usize),
    /// A write of several: each stored property whose value changed.
    Many,
    /// A queued action: each stored field (not getter/setter, which would run the Thing's code) whose value
    /// changed.
    Fields,
}

fn encode_json<T: Thing>(thing: &T, name: &str) -> Result<Vec<u8>, ThingError> {
    let mut out = Vec::new();
    thing.read_property(name, &ContentType::Json, &mut out)?;
    Ok(out)
}

/// Restores `thing`'s persisted properties from the store, before it is served; `None` when it has none.
pub(crate) async fn restore<T: Thing>(thing: &mut T, store: Option<&StoreHandle>) -> Option<ThingStore> {
    let descriptor = thing.descriptor();
    let persisted: Vec<_> = descriptor.properties.iter().filter(|p| p.persist.is_on()).collect();
    if persisted.is_empty() {
        return None;
    }
    let id = thing.thing_id().to_owned();
    let Some(store) = store else {
        let names: Vec<&str> = persisted.iter().map(|p| p.name).collect();
        tracing::warn!(
            thing = %id,
            "`{id}` has persisted properties ({}) but the server has no storage, so they are neither restored nor \
             stored; add `.storage(Storage::sqlite(dir))` to the server builder",
            names.join(", ")
        );
        return None;
    };
    let key = ThingKey { id: id.clone(), class: class_name::<T>() };
    let mut missing = Vec::new();
    match store.open(key.clone()).await {
        Err(e) => store.warn(
            &id,
            "",
            PersistWarningKind::Store,
            format!("{e}; its persisted properties start with their defaults and are not stored"),
        ),
        Ok(rows) => {
            let rows: HashMap<&str, &StoredValue> = rows.iter().map(|r| (r.name.as_str(), r)).collect();
            for p in persisted.iter().filter(|p| p.persist.restores()) {
                match rows.get(p.name) {
                    Some(row) => restore_one(thing, store, &id, p.name, row),
                    None => missing.push(p.name),
                }
            }
        }
    }
    let this = ThingStore { store: store.clone(), key, descriptor, last: Mutex::default() };
    // As hololinked does for `db_init`/`db_persist`: a value not stored yet is stored as it is now, so that it
    // is there to edit or to restore next time.
    let first: Vec<StoredValue> =
        missing.iter().filter_map(|name| this.value_of(thing, name)).map(|(_, v)| v).collect();
    if !first.is_empty()
        && let Err(e) = store.save_now(this.key.clone(), first).await
    {
        store.warn(&id, "", PersistWarningKind::Store, format!("could not store the initial values: {e}"));
    }
    {
        let mut last = this.last.lock().unwrap_or_else(|p| p.into_inner());
        for (index, p) in descriptor.properties.iter().enumerate().filter(|(_, p)| p.persist.stores()) {
            if let Ok(value) = encode_json(thing, p.name) {
                last.insert(index, value);
            }
        }
    }
    Some(this)
}

/// Sets one property to its stored value, or reports why it keeps its default.
fn restore_one<T: Thing>(thing: &mut T, store: &StoreHandle, id: &str, name: &str, row: &StoredValue) {
    let content_type = row.content_type.split(';').next().unwrap_or_default().trim();
    let result = match content_type {
        "" | JSON_CONTENT_TYPE => {
            if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&row.value) {
                return corrupt(store, id, name, &row.value, format!("not valid JSON ({e})"));
            }
            let mut de = serde_json::Deserializer::from_slice(&row.value);
            thing.restore_property(name, &mut <dyn erased_serde::Deserializer<'_>>::erase(&mut de))
        }
        "application/msgpack" | "application/x-msgpack" => {
            if let Err(e) = rmp_serde::from_slice::<serde::de::IgnoredAny>(&row.value) {
                return corrupt(store, id, name, &row.value, format!("not valid msgpack ({e})"));
            }
            let mut de = rmp_serde::Deserializer::new(&row.value[..]);
            thing.restore_property(name, &mut <dyn erased_serde::Deserializer<'_>>::erase(&mut de))
        }
        other => {
            return store.warn(
                id,
                name,
                PersistWarningKind::UnsupportedContentType,
                format!(
                    "the stored value is `{other}`, which thingwire cannot read (it reads `application/json` and \
                     `application/msgpack`); the default is used, and the next write stores JSON"
                ),
            );
        }
    };
    if let Err(e) = result {
        store.warn(
            id,
            name,
            PersistWarningKind::Rejected,
            format!(
                "the stored value {} was refused ({}); the default is used, and the next write replaces it",
                preview(&row.value),
                e.message
            ),
        );
    }
}

fn corrupt(store: &StoreHandle, id: &str, name: &str, value: &[u8], why: String) {
    store.warn(
        id,
        name,
        PersistWarningKind::Corrupt,
        format!("the stored value {} is {why}; the default is used, and the next write replaces it", preview(value)),
    );
}

/// The start of a stored value, for messages.
fn preview(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(&value[..value.len().min(60)]).into_owned();
    let more = if value.len() > 60 { "…" } else { "" };
    format!("`{text}{more}`")
}

impl ThingStore {
    fn value_of<T: Thing>(&self, thing: &T, name: &str) -> Option<(usize, StoredValue)> {
        let (index, _) = self.descriptor.property(name)?;
        match encode_json(thing, name) {
            Ok(value) => {
                Some((index, StoredValue { name: name.to_owned(), value, content_type: JSON_CONTENT_TYPE.into() }))
            }
            Err(e) => {
                tracing::warn!(thing = %self.key.id, property = name, error = %e, "a persisted property could not be read to store it");
                None
            }
        }
    }

    /// The values to store after an operation that may have changed `touched`.
    pub(crate) fn changes<T: Thing>(&self, thing: &T, touched: Touched) -> Vec<StoredValue> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        for (index, p) in self.descriptor.properties.iter().enumerate() {
            if !p.persist.stores() {
                continue;
            }
            let always = matches!(touched, Touched::One(i) if i == index);
            let candidate = always || !p.computed || matches!(touched, Touched::Many);
            if !candidate {
                continue;
            }
            let Some((_, value)) = self.value_of(thing, p.name) else { continue };
            if !always && last.get(&index).is_some_and(|l| *l == value.value) {
                continue;
            }
            last.insert(index, value.value.clone());
            out.push(value);
        }
        out
    }

    /// Stores `values`, then calls `answer` with `Ok` or with the error the client should get.
    pub(crate) fn save(&self, values: Vec<StoredValue>, answer: impl FnOnce(Result<(), ThingError>) + Send + 'static) {
        let names: Vec<String> = values.iter().map(|v| v.name.clone()).collect();
        let store = self.store.clone();
        let id = self.key.id.clone();
        self.store.save(
            self.key.clone(),
            values,
            Box::new(move |result| {
                answer(result.map_err(|e| {
                    let names = names.join("`, `");
                    let message = format!(
                        "the value of `{names}` was set but could not be stored, so it would not survive a restart: \
                         {e}"
                    );
                    store.warn(&id, &names, PersistWarningKind::Store, message.clone());
                    ThingError::runtime(message)
                }))
            }),
        );
    }

    /// Whether property `index` is stored (for writes that need no comparison).
    pub(crate) fn stores(&self, index: usize) -> bool {
        self.descriptor.properties.get(index).is_some_and(|p| p.persist.stores())
    }
}
