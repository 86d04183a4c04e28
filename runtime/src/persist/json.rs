//! JSON files, hololinked's `JSONFileStorage` layout: `<dir>/<id>.json` holding `{"name": value, …}`.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{JSON_CONTENT_TYPE, PersistError, PropertyStore, StoredValue, ThingKey, sanitized_file_name};

pub(crate) struct JsonStore {
    dir: PathBuf,
    /// Each open Thing's file and what it holds (entries of other programs are kept as they are).
    files: HashMap<ThingKey, (PathBuf, Map<String, Value>)>,
}

impl JsonStore {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir, files: HashMap::new() }
    }
}

fn describe_file(path: &Path) -> String {
    format!("JSON file `{}`", path.display())
}

fn io<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(std::io::Error) -> PersistError + 'a {
    move |source| PersistError::Io { store: describe_file(path), action, source }
}

/// Writes `bytes` to `path` so that a crash leaves the old contents or the new ones: a sibling file, synced,
/// renamed over it, and the folder synced so the rename itself is on disk.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), PersistError> {
    let tmp = path.with_extension("json.tmp");
    let mut file = std::fs::File::create(&tmp).map_err(io(path, "creating the new file"))?;
    file.write_all(bytes).map_err(io(path, "writing the new file"))?;
    file.sync_all().map_err(io(path, "syncing the new file"))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io(path, "replacing the file"))?;
    if let Some(parent) = path.parent() {
        std::fs::File::open(parent).and_then(|d| d.sync_all()).map_err(io(path, "syncing its folder"))?;
    }
    Ok(())
}

impl PropertyStore for JsonStore {
    fn describe(&self) -> String {
        format!("JSON files in `{}`", self.dir.display())
    }

    fn open(&mut self, thing: &ThingKey) -> Result<(), PersistError> {
        let path = self.dir.join(sanitized_file_name(&thing.id, "json"));
        std::fs::create_dir_all(&self.dir).map_err(io(&path, "creating its folder"))?;
        let map = match std::fs::read(&path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => map,
                Ok(_) => {
                    return Err(PersistError::Schema {
                        store: describe_file(&path),
                        message: "the file does not hold a JSON object of property values; fix or remove it and \
                                  restart (until then the Thing starts with its defaults and nothing is stored, so \
                                  the file is kept as it is)"
                            .into(),
                    });
                }
                Err(e) => {
                    return Err(PersistError::Schema {
                        store: describe_file(&path),
                        message: format!(
                            "the file is not valid JSON ({e}); fix or remove it and restart (until then the \
                             Thing starts with its defaults and nothing is stored, so the file is kept as it is)"
                        ),
                    });
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(e) => return Err(io(&path, "reading the file")(e)),
        };
        self.files.insert(thing.clone(), (path, map));
        Ok(())
    }

    fn load(&mut self, thing: &ThingKey) -> Result<Vec<StoredValue>, PersistError> {
        let Some((_, map)) = self.files.get(thing) else { return Ok(Vec::new()) };
        Ok(map
            .iter()
            .map(|(name, value)| StoredValue {
                name: name.clone(),
                value: serde_json::to_vec(value).unwrap_or_default(),
                content_type: JSON_CONTENT_TYPE.into(),
            })
            .collect())
    }

    fn save(&mut self, thing: &ThingKey, values: &[StoredValue]) -> Result<(), PersistError> {
        let Some((path, map)) = self.files.get_mut(thing) else {
            return Err(PersistError::Schema {
                store: format!("JSON files in `{}`", self.dir.display()),
                message: format!("the store was not opened for {thing} (internal error, please report)"),
            });
        };
        let mut next = map.clone();
        for v in values {
            let value = serde_json::from_slice(&v.value).map_err(|e| PersistError::Schema {
                store: describe_file(path),
                message: format!("the value of `{}` is not JSON ({e}); the JSON store keeps JSON values only", v.name),
            })?;
            next.insert(v.name.clone(), value);
        }
        let bytes = serde_json::to_vec(&next).map_err(|e| PersistError::Schema {
            store: describe_file(path),
            message: format!("the values could not be encoded: {e}"),
        })?;
        write_durably(path, &bytes)?;
        *map = next;
        Ok(())
    }
}
