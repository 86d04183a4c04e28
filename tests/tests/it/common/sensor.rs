//! `Sensor`: a Thing written by hand against the runtime's `Thing` contract (what `#[thing]` will generate).
//! Its interface matches `tests/python/hololinked_server.py`, so the same Python check script drives both.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use thingwire::args::{ArgSlots, required};
use thingwire::prelude::*;
use thingwire::protocol::{ContentType, encode_into};
use thingwire::thing::ValueDeserializer;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Tick {
    pub value: i64,
}

pub struct Sensor {
    id: String,
    gain: f64,
    serial: String,
    mode: String,
    order: Vec<u32>,
    side_effects: Arc<AtomicU32>,
    active: Arc<AtomicU32>,
    max_active: Arc<AtomicU32>,
    tick: Event<Tick>,
}

impl Sensor {
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            gain: 1.0,
            serial: "SN-001".into(),
            mode: "internal".into(),
            order: Vec::new(),
            side_effects: Arc::new(AtomicU32::new(0)),
            active: Arc::new(AtomicU32::new(0)),
            max_active: Arc::new(AtomicU32::new(0)),
            tick: Event::new(),
        }
    }
}

fn number_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "number", "minimum": 0.1, "maximum": 100.0, "default": 1.0})
}
fn string_schema(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<String>()
}
fn order_schema(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<Vec<u32>>()
}
fn u32_schema(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<u32>()
}
fn f64_schema(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<f64>()
}
fn tick_schema(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<Tick>()
}
fn add_input(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]})
}
fn message_input(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]})
}
fn seconds_input(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object", "properties": {"seconds": {"type": "number", "minimum": 0}}, "required": ["seconds"]})
}
fn value_input(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object", "properties": {"value": {"type": "integer"}}, "required": ["value"]})
}
fn n_input(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}, "required": ["n"]})
}
fn any_input(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object", "properties": {"value": {}}, "required": ["value"]})
}
fn bytes_input(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object", "properties": {"data": {"type": "string", "contentMediaType": "application/octet-stream"}}, "required": ["data"]})
}

const fn property(
    name: &'static str,
    read_only: bool,
    observable: bool,
    schema: thingwire::thing::SchemaFn,
) -> PropertyDescriptor {
    PropertyDescriptor {
        name,
        title: None,
        description: None,
        read_only,
        observable,
        computed: true,
        persist: thingwire::Persist::Off,
        unit: None,
        schema,
    }
}

const fn action(
    name: &'static str,
    mode: ExecutionMode,
    input: Option<thingwire::thing::SchemaFn>,
    output: Option<thingwire::thing::SchemaFn>,
) -> ActionDescriptor {
    ActionDescriptor {
        name,
        title: None,
        description: None,
        mode,
        blocking: !matches!(mode, ExecutionMode::Concurrent),
        invocation_timeout: None,
        execution_timeout: None,
        safe: false,
        idempotent: false,
        input,
        output,
    }
}

/// A queued action whose code is async (returns `Invocation::Pending`).
const fn not_blocking(action: ActionDescriptor) -> ActionDescriptor {
    ActionDescriptor { blocking: false, ..action }
}

pub static DESCRIPTOR: ThingDescriptor = ThingDescriptor {
    title: "Sensor",
    description: Some("A hand-written test Thing"),
    properties: &[
        property("gain", false, true, number_schema),
        property("serial", true, false, string_schema),
        property("mode", false, false, string_schema),
        property("order", true, false, order_schema),
        property("side_effects", true, false, u32_schema),
        property("max_active", true, false, u32_schema),
    ],
    actions: &[
        action("add", ExecutionMode::Queued, Some(add_input), Some(f64_schema)),
        action("fail", ExecutionMode::Queued, Some(message_input), None),
        action("sleep", ExecutionMode::Concurrent, Some(seconds_input), None),
        action("emit", ExecutionMode::Queued, Some(value_input), None),
        action("record", ExecutionMode::Queued, Some(n_input), None),
        not_blocking(action("slow", ExecutionMode::Queued, Some(seconds_input), None)),
        action("block", ExecutionMode::Threaded, Some(seconds_input), Some(string_schema)),
        action("panic", ExecutionMode::Queued, None, None),
        action("echo", ExecutionMode::Queued, Some(any_input), None),
        action("echo_bytes", ExecutionMode::Queued, Some(bytes_input), None),
        action("log", ExecutionMode::Queued, Some(message_input), Some(u32_schema)),
        not_blocking(action("probe", ExecutionMode::Queued, None, None)),
    ],
    events: &[EventDescriptor { name: "tick", title: None, description: Some("A tick"), data: Some(tick_schema) }],
};

fn out<T: Serialize>(value: &T, args: &Args<'_>) -> Result<Output, ThingError> {
    Output::value(value, args.content_type)
}

impl Thing for Sensor {
    fn descriptor(&self) -> &'static ThingDescriptor {
        &DESCRIPTOR
    }

    fn thing_id(&self) -> &str {
        &self.id
    }

    fn read_property(&self, name: &str, ct: &ContentType, buf: &mut Vec<u8>) -> Result<(), ThingError> {
        let r = match name {
            "gain" => encode_into(buf, &self.gain, ct),
            "serial" => encode_into(buf, &self.serial, ct),
            "mode" => encode_into(buf, &self.mode, ct),
            "order" => encode_into(buf, &self.order, ct),
            "side_effects" => encode_into(buf, &self.side_effects.load(Ordering::SeqCst), ct),
            "max_active" => encode_into(buf, &self.max_active.load(Ordering::SeqCst), ct),
            other => return Err(ThingError::key_error(format!("no property `{other}`"))),
        };
        r.map_err(ThingError::from)
    }

    fn write_property(&mut self, name: &str, value: ValueDeserializer<'_, '_>) -> Result<(), ThingError> {
        match name {
            "gain" => {
                let v: f64 = erased_deserialize(value)?;
                if !(0.1..=100.0).contains(&v) {
                    return Err(ThingError::value_error(format!("`gain` must be between 0.1 and 100, got {v}")));
                }
                self.gain = v;
            }
            "mode" => {
                let v: String = erased_deserialize(value)?;
                if v != "internal" && v != "external" {
                    return Err(ThingError::value_error(format!("`mode` must be internal or external, got {v:?}")));
                }
                self.mode = v;
            }
            other => return Err(ThingError::key_error(format!("no writable property `{other}`"))),
        }
        Ok(())
    }

    fn invoke<'a>(&'a mut self, name: &str, args: Args<'_>) -> Invocation<'a> {
        let result = match name {
            "add" => ArgSlots::<(f64, f64)>::new(&["a", "b"])
                .decode(args)
                .and_then(|(a, b)| out(&(required(a, "a")? + required(b, "b")?), &args)),
            "fail" => ArgSlots::<(String,)>::new(&["message"])
                .decode(args)
                .and_then(|(m,)| Err(ThingError::value_error(required(m, "message")?))),
            "emit" => ArgSlots::<(i64,)>::new(&["value"]).decode(args).and_then(|(v,)| {
                self.tick
                    .emit(&Tick { value: required(v, "value")? })
                    .map_err(|e| ThingError::runtime(e.to_string()))?;
                Ok(Output::none(args.content_type))
            }),
            "record" => ArgSlots::<(u32,)>::new(&["n"]).decode(args).and_then(|(n,)| {
                self.order.push(required(n, "n")?);
                Ok(Output::none(args.content_type))
            }),
            "slow" => {
                let seconds =
                    match ArgSlots::<(f64,)>::new(&["seconds"]).decode(args).and_then(|(s,)| required(s, "seconds")) {
                        Ok(s) => s,
                        Err(e) => return Invocation::Done(Err(e)),
                    };
                let ct = args.content_type.clone();
                let effects = Arc::clone(&self.side_effects);
                return Invocation::pending(async move {
                    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
                    effects.fetch_add(1, Ordering::SeqCst);
                    Ok(Output::none(&ct))
                });
            }
            "panic" => panic!("sensor exploded"),
            "probe" => {
                // Records how many probes overlap: queued actions must never run two at a time.
                let (active, max) = (Arc::clone(&self.active), Arc::clone(&self.max_active));
                let ct = args.content_type.clone();
                return Invocation::pending(async move {
                    let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    active.fetch_sub(1, Ordering::SeqCst);
                    Ok(Output::none(&ct))
                });
            }
            "echo" => ArgSlots::<(serde_json::Value,)>::new(&["value"]).decode(args).and_then(|(v,)| out(&v, &args)),
            "echo_bytes" => ArgSlots::<(Bytes,)>::new(&["data"])
                .decode(args)
                .and_then(|(d,)| Ok(Output::bytes(required(d, "data")?.0, args.content_type))),
            "log" => ArgSlots::<(String,)>::new(&["message"]).decode(args).and_then(|(m,)| {
                let m = required(m, "message")?;
                tracing::info!(target: "sensor", length = m.len(), "logging {m}");
                tracing::debug!(target: "sensor", "second line");
                out(&(m.len() as u32), &args)
            }),
            other => Err(ThingError::key_error(format!("no queued action `{other}`"))),
        };
        Invocation::Done(result)
    }

    fn invoke_concurrent<'a>(&'a self, name: &str, args: Args<'_>) -> Invocation<'a> {
        match name {
            "sleep" => {
                let seconds =
                    match ArgSlots::<(f64,)>::new(&["seconds"]).decode(args).and_then(|(s,)| required(s, "seconds")) {
                        Ok(s) => s,
                        Err(e) => return Invocation::Done(Err(e)),
                    };
                let ct = args.content_type.clone();
                Invocation::pending(async move {
                    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
                    Ok(Output::none(&ct))
                })
            }
            other => Invocation::Done(Err(ThingError::key_error(format!("no concurrent action `{other}`")))),
        }
    }

    fn invoke_blocking(&self, name: &str, args: Args<'_>) -> Result<Output, ThingError> {
        match name {
            "block" => {
                let (s,) = ArgSlots::<(f64,)>::new(&["seconds"]).decode(args)?;
                std::thread::sleep(Duration::from_secs_f64(required(s, "seconds")?));
                out(&"done", &args)
            }
            other => Err(ThingError::key_error(format!("no threaded action `{other}`"))),
        }
    }

    fn bind_events(&mut self, binder: &thingwire::EventBinder) {
        binder.bind(&self.tick, "tick");
    }
}

fn erased_deserialize<T: serde::de::DeserializeOwned>(value: ValueDeserializer<'_, '_>) -> Result<T, ThingError> {
    T::deserialize(value).map_err(|e| ThingError::type_error(e.to_string()))
}
