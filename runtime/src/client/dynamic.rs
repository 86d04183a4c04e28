//! [`ThingClient`]: drive a Thing whose Rust types you don't have — any thingwire or hololinked 0.4 Thing —
//! by name, with `serde_json::Value`s, checked against its Thing Description before anything is sent.
//!
//! ```no_run
//! # async fn demo() -> Result<(), thingwire::ClientError> {
//! use thingwire::ThingClient;
//! let stage = ThingClient::connect("tcp://127.0.0.1:5555", "stage").await?;
//! println!("properties: {:?}", stage.properties());
//! let position: f64 = stage.read_as("position").await?;
//! stage.write("speed", &serde_json::json!(12.5)).await?;
//! let moved = stage.invoke("move_to", &serde_json::json!({"target": 25.0})).await?;
//! # let _ = (position, moved); Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::{CallOptions, Client, Subscription, ThingHandle};
use crate::error::ClientError;

/// A Thing driven by name, with its Thing Description at hand.
#[derive(Debug, Clone)]
pub struct ThingClient {
    handle: ThingHandle,
    td: Arc<Value>,
}

impl ThingClient {
    /// Connects to `address`, fetches the TD of `thing_id`.
    pub async fn connect(address: &str, thing_id: &str) -> Result<Self, ClientError> {
        Self::over(Client::connect(address).await?, thing_id).await
    }

    /// Uses an existing connection; fetches the TD of `thing_id`.
    pub async fn over(client: Client, thing_id: &str) -> Result<Self, ClientError> {
        let td = client.thing_description(thing_id).await?;
        Ok(Self { handle: ThingHandle::new(client, thing_id), td: Arc::new(td) })
    }

    /// The Thing Description.
    pub fn td(&self) -> &Value {
        &self.td
    }

    /// The connection and call options.
    pub fn handle(&self) -> &ThingHandle {
        &self.handle
    }

    /// A client whose calls use `options`.
    pub fn with_options(&self, options: CallOptions) -> Self {
        Self { handle: self.handle.with_options(options), td: Arc::clone(&self.td) }
    }

    /// A client whose calls wait at most `timeout`.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Self { handle: self.handle.with_timeout(timeout), td: Arc::clone(&self.td) }
    }

    fn names(&self, kind: &str) -> Vec<&str> {
        self.td[kind].as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default()
    }

    /// The property names.
    pub fn properties(&self) -> Vec<&str> {
        self.names("properties")
    }

    /// The action names.
    pub fn actions(&self) -> Vec<&str> {
        self.names("actions")
    }

    /// The event names.
    pub fn events(&self) -> Vec<&str> {
        self.names("events")
    }

    fn affordance(&self, kind: &'static str, name: &str) -> Result<&Value, ClientError> {
        match self.td[kind].get(name) {
            Some(a) => Ok(a),
            None => {
                let names = self.names(kind);
                Err(ClientError::UnknownName {
                    thing: self.handle.thing_id().to_owned(),
                    kind: kind.trim_end_matches('s').to_owned(),
                    name: name.to_owned(),
                    suggestion: crate::suggest::closest(name, names.iter().copied()).map(str::to_owned),
                    known: names.iter().map(|n| (*n).to_owned()).collect(),
                })
            }
        }
    }

    fn invalid(&self, name: &str, reason: String) -> ClientError {
        ClientError::InvalidInput { thing: self.handle.thing_id().to_owned(), name: name.to_owned(), reason }
    }

    /// Reads a property as JSON.
    pub async fn read(&self, name: &str) -> Result<Value, ClientError> {
        self.read_as(name).await
    }

    /// Reads a property into `T`.
    pub async fn read_as<T: DeserializeOwned + 'static>(&self, name: &str) -> Result<T, ClientError> {
        self.affordance("properties", name)?;
        self.handle.read(name).await
    }

    /// Writes a property, after checking that it is writable and that `value` fits its schema.
    pub async fn write(&self, name: &str, value: &Value) -> Result<(), ClientError> {
        let property = self.affordance("properties", name)?;
        if property["readOnly"] == Value::Bool(true) {
            return Err(self.invalid(name, "the property is read-only".into()));
        }
        crate::schema::check(property, value).map_err(|reason| self.invalid(name, reason))?;
        self.handle.write(name, value).await
    }

    /// Invokes an action with an object of keyword arguments (or `null`), after checking the names and the
    /// values against the action's input schema.
    pub async fn invoke(&self, action: &str, args: &Value) -> Result<Value, ClientError> {
        self.invoke_as(action, args).await
    }

    /// Like [`ThingClient::invoke`], decoding the result into `T`.
    pub async fn invoke_as<T: DeserializeOwned + 'static>(&self, action: &str, args: &Value) -> Result<T, ClientError> {
        let affordance = self.affordance("actions", action)?;
        let input = affordance.get("input");
        match (args, input) {
            (Value::Null, Some(schema))
                if schema.get("required").and_then(Value::as_array).is_some_and(|r| !r.is_empty()) =>
            {
                return Err(self.invalid(action, format!("the action needs arguments: {schema}")));
            }
            (Value::Object(given), Some(schema)) => {
                let known: Vec<&str> = schema["properties"]
                    .as_object()
                    .map(|p| p.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                for key in given.keys().filter(|k| *k != "__args__") {
                    if !known.is_empty() && !known.contains(&key.as_str()) {
                        let hint = match crate::suggest::closest(key, known.iter().copied()) {
                            Some(s) => format!(", did you mean `{s}`?"),
                            None => format!("; the arguments are {}", known.join(", ")),
                        };
                        return Err(self.invalid(action, format!("unknown argument `{key}`{hint}")));
                    }
                }
                if !given.contains_key("__args__") {
                    crate::schema::check(schema, args).map_err(|reason| self.invalid(action, reason))?;
                }
            }
            (Value::Object(given), None) if !given.is_empty() => {
                return Err(self.invalid(action, "the action takes no arguments".into()));
            }
            (Value::Null | Value::Object(_), _) => {}
            (other, _) => {
                return Err(self.invalid(action, format!("arguments are an object of name: value, not {other}")));
            }
        }
        self.handle.invoke(action, args).await
    }

    /// Subscribes to an event, or to an observable property's changes.
    pub async fn subscribe(&self, name: &str) -> Result<Subscription<Value>, ClientError> {
        if self.td["events"].get(name).is_some() {
            return self.handle.subscribe(name).await;
        }
        match self.td["properties"].get(name) {
            Some(p) if p["observable"] == Value::Bool(true) => {
                self.handle.subscribe(&crate::protocol::names::change_event(name)).await
            }
            Some(_) => Err(self.invalid(name, "the property is not observable".into())),
            None => Err(self.affordance("events", name).err().unwrap_or_else(|| self.invalid(name, "unknown".into()))),
        }
    }
}
