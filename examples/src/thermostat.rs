//! A simulated thermostat: a heater that moves the temperature towards the setpoint.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use thingwire::args::{ArgSlots, required};
use thingwire::prelude::*;
use thingwire::protocol::{ContentType, encode_into};
use thingwire::thing::{SchemaFn, ValueDeserializer};

/// One temperature reading, published as the `reading` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Reading {
    /// Degrees Celsius.
    pub celsius: f64,
    /// The setpoint in force.
    pub setpoint: f64,
}

/// The physical state the simulation advances.
#[derive(Debug)]
struct Plant {
    temperature: f64,
    setpoint: f64,
    last: Instant,
}

impl Plant {
    /// First-order approach to the setpoint: 10 % of the gap per simulated second.
    fn advance(&mut self) -> f64 {
        let dt = self.last.elapsed().as_secs_f64();
        self.last = Instant::now();
        self.temperature += (self.setpoint - self.temperature) * (1.0 - (-0.1 * dt).exp());
        self.temperature
    }
}

/// A simulated thermostat Thing.
#[derive(Debug)]
pub struct Thermostat {
    id: String,
    plant: Arc<Mutex<Plant>>,
    reading: Event<Reading>,
}

impl Thermostat {
    /// A thermostat at 20 °C with its setpoint at 20 °C.
    pub fn new(id: &str) -> Self {
        let plant = Plant { temperature: 20.0, setpoint: 20.0, last: Instant::now() };
        Self { id: id.to_owned(), plant: Arc::new(Mutex::new(plant)), reading: Event::new() }
    }

    fn plant(&self) -> std::sync::MutexGuard<'_, Plant> {
        self.plant.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn setpoint_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "number", "minimum": 0.0, "maximum": 300.0})
}
fn number_schema(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<f64>()
}
fn reading_schema(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<Reading>()
}
fn wait_input(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "properties": {
            "tolerance": {"type": "number", "minimum": 0.0},
            "timeout_s": {"type": "number", "minimum": 0.0}
        },
        "required": ["tolerance"]
    })
}

const fn property(
    name: &'static str,
    description: &'static str,
    read_only: bool,
    schema: SchemaFn,
) -> PropertyDescriptor {
    PropertyDescriptor {
        name,
        title: None,
        description: Some(description),
        read_only,
        observable: read_only,
        unit: Some("°C"),
        schema,
    }
}

static DESCRIPTOR: ThingDescriptor = ThingDescriptor {
    title: "Thermostat",
    description: Some("A simulated thermostat: a heater that moves the temperature towards the setpoint"),
    properties: &[
        property("setpoint", "Target temperature", false, setpoint_schema),
        property("temperature", "Measured temperature", true, number_schema),
    ],
    actions: &[
        ActionDescriptor {
            name: "publish_reading",
            title: None,
            description: Some("Measure once and publish the reading as the `reading` event"),
            mode: ExecutionMode::Queued,
            invocation_timeout: None,
            execution_timeout: None,
            safe: false,
            idempotent: false,
            input: None,
            output: Some(reading_schema),
        },
        ActionDescriptor {
            name: "wait_until_settled",
            title: None,
            description: Some("Wait until the temperature is within `tolerance` of the setpoint; returns it"),
            mode: ExecutionMode::Concurrent,
            invocation_timeout: None,
            execution_timeout: Some(Duration::from_secs(120)),
            safe: true,
            idempotent: true,
            input: Some(wait_input),
            output: Some(number_schema),
        },
    ],
    events: &[EventDescriptor {
        name: "reading",
        title: None,
        description: Some("A temperature reading"),
        data: Some(reading_schema),
    }],
};

impl Thing for Thermostat {
    fn descriptor(&self) -> &'static ThingDescriptor {
        &DESCRIPTOR
    }

    fn thing_id(&self) -> &str {
        &self.id
    }

    fn read_property(&self, name: &str, ct: &ContentType, out: &mut Vec<u8>) -> Result<(), ThingError> {
        let value = match name {
            "setpoint" => self.plant().setpoint,
            "temperature" => self.plant().advance(),
            other => return Err(ThingError::key_error(format!("no property `{other}`"))),
        };
        encode_into(out, &value, ct).map_err(ThingError::from)
    }

    fn write_property(&mut self, name: &str, value: ValueDeserializer<'_, '_>) -> Result<(), ThingError> {
        match name {
            "setpoint" => {
                let v = f64::deserialize(value).map_err(|e| ThingError::type_error(format!("`setpoint`: {e}")))?;
                if !(0.0..=300.0).contains(&v) {
                    return Err(ThingError::value_error(format!("`setpoint` must be between 0 and 300 °C, got {v}")));
                }
                let mut plant = self.plant();
                plant.advance();
                plant.setpoint = v;
                Ok(())
            }
            other => Err(ThingError::key_error(format!("no writable property `{other}`"))),
        }
    }

    fn invoke<'a>(&'a mut self, name: &str, args: Args<'_>) -> Invocation<'a> {
        let result = match name {
            "publish_reading" => {
                let reading = {
                    let mut plant = self.plant();
                    Reading { celsius: plant.advance(), setpoint: plant.setpoint }
                };
                self.reading
                    .emit(&reading)
                    .map_err(|e| ThingError::runtime(e.to_string()))
                    .and_then(|()| Output::value(&reading, args.content_type))
            }
            other => Err(ThingError::key_error(format!("no queued action `{other}`"))),
        };
        Invocation::Done(result)
    }

    fn invoke_concurrent<'a>(&'a self, name: &str, args: Args<'_>) -> Invocation<'a> {
        if name != "wait_until_settled" {
            return Invocation::Done(Err(ThingError::key_error(format!("no concurrent action `{name}`"))));
        }
        let decoded = ArgSlots::<(f64, Option<f64>)>::new(&["tolerance", "timeout_s"])
            .decode(args)
            .and_then(|(t, limit)| Ok((required(t, "tolerance")?, limit.flatten())));
        let (tolerance, limit) = match decoded {
            Ok(v) => v,
            Err(e) => return Invocation::Done(Err(e)),
        };
        let plant = Arc::clone(&self.plant);
        let ct = args.content_type.clone();
        Invocation::pending(async move {
            let started = Instant::now();
            loop {
                let (t, sp) = {
                    let mut p = plant.lock().unwrap_or_else(|p| p.into_inner());
                    (p.advance(), p.setpoint)
                };
                if (t - sp).abs() <= tolerance {
                    return Output::value(&t, &ct);
                }
                if limit.is_some_and(|l| started.elapsed().as_secs_f64() > l) {
                    return Err(ThingError::new(
                        "TimeoutError",
                        format!("still {:.2} °C from the setpoint", (t - sp).abs()),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    }

    fn bind_events(&mut self, binder: &thingwire::EventBinder) {
        binder.bind(&self.reading, "reading");
    }
}
