//! The Thing contract: what a served object implements (by hand or through `#[thing]`).
//!
//! A Thing has a static [`ThingDescriptor`] (its properties, actions and events with their schemas,
//! execution modes and timeouts) and implements [`Thing`], whose methods the server calls from the Thing's
//! scheduler:
//!
//! * property reads take `&self`, writes take `&mut self`; both run in the Thing's queue;
//! * queued actions take `&mut self` and run in the queue, one at a time, in arrival order;
//! * concurrent actions take `&self` and run as their own task, outside the queue;
//! * threaded actions take `&self` and run on a blocking worker thread, outside the queue.
//!
//! Values travel as serde data: writes and action arguments arrive as an erased deserializer over the
//! request payload (JSON or msgpack, decoded straight into the target type), replies are encoded straight
//! into the content type the client asked for.

pub mod args;
pub(crate) mod bytes;
pub mod event;
pub mod schema;
pub mod state;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::Serialize;

use crate::error::ThingError;
use crate::event::EventBinder;
use crate::protocol::{self, ContentType};

/// Generates the JSON Schema of one value (a property, an argument list, a return value, event data).
pub type SchemaFn = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

/// How an action is scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExecutionMode {
    /// In the Thing's FIFO, one operation at a time, with `&mut self` (the default).
    #[default]
    Queued,
    /// As its own task, outside the queue, with `&self` (an `async fn`).
    Concurrent,
    /// On a blocking worker thread, outside the queue, with `&self` (a blocking `fn`).
    Threaded,
}

/// Whether and how a property's value is kept in the server's [`Storage`](crate::persist::Storage), as
/// hololinked's `db_persist`, `db_init` and `db_commit` do (`#[property(persist)]`,
/// `#[property(persist = "init")]`, `#[property(persist = "commit")]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Persist {
    /// Not stored (the default).
    #[default]
    Off,
    /// Stored on every write and restored when the server starts (hololinked's `db_persist`).
    Always,
    /// Restored when the server starts, never stored by the server (hololinked's `db_init`): a value
    /// provisioned in the database beforehand, a calibration say.
    Init,
    /// Stored on every write, never restored (hololinked's `db_commit`): a record of the last value set.
    Commit,
}

impl Persist {
    /// Whether the value is written to the storage when it changes.
    pub fn stores(self) -> bool {
        matches!(self, Self::Always | Self::Commit)
    }

    /// Whether the stored value is restored when the server starts.
    pub fn restores(self) -> bool {
        matches!(self, Self::Always | Self::Init)
    }

    /// Whether the storage is involved at all.
    pub fn is_on(self) -> bool {
        self != Self::Off
    }
}

/// A property in the Thing's static description.
#[derive(Debug, Clone, Copy)]
pub struct PropertyDescriptor {
    /// Name on the wire.
    pub name: &'static str,
    /// Short title (optional).
    pub title: Option<&'static str>,
    /// Description (from doc comments).
    pub description: Option<&'static str>,
    /// Whether writes are refused.
    pub read_only: bool,
    /// Whether changes are published as `<thing>/<name>_change_event`.
    pub observable: bool,
    /// Whether reads and writes run the Thing's own getter and setter code, which may take long (talk to
    /// hardware); `false` for a plain field. An operation on a computed property that has an execution
    /// timeout in force runs on a blocking worker thread, so that its `TIMEOUT` is answered at the deadline.
    pub computed: bool,
    /// Whether the value is stored and restored across restarts.
    pub persist: Persist,
    /// Unit of measure, e.g. `"ms"`.
    pub unit: Option<&'static str>,
    /// The value's schema, bounds merged in.
    pub schema: SchemaFn,
}

/// An action in the Thing's static description.
#[derive(Debug, Clone, Copy)]
pub struct ActionDescriptor {
    /// Name on the wire.
    pub name: &'static str,
    /// Short title (optional).
    pub title: Option<&'static str>,
    /// Description (from doc comments).
    pub description: Option<&'static str>,
    /// How it is scheduled.
    pub mode: ExecutionMode,
    /// Whether the action's code is a plain `fn`, which holds its thread until it returns (`false` for an
    /// `async fn`). A blocking queued action that has an execution timeout in force runs on a blocking
    /// worker thread, so that its `TIMEOUT` is answered at the deadline.
    pub blocking: bool,
    /// Default for how long a call may wait in the queue, used when the request carries none.
    pub invocation_timeout: Option<Duration>,
    /// Default for how long a call may run, used when the request carries none.
    pub execution_timeout: Option<Duration>,
    /// The action does not change state (TD `safe`).
    pub safe: bool,
    /// Repeating the call has the same effect (TD `idempotent`).
    pub idempotent: bool,
    /// Schema of the keyword-argument object, `None` for no arguments.
    pub input: Option<SchemaFn>,
    /// Schema of the return value, `None` for no value.
    pub output: Option<SchemaFn>,
}

/// An event in the Thing's static description.
#[derive(Debug, Clone, Copy)]
pub struct EventDescriptor {
    /// Name on the wire (the topic is `<thing_id>/<name>`).
    pub name: &'static str,
    /// Short title (optional).
    pub title: Option<&'static str>,
    /// Description (from doc comments).
    pub description: Option<&'static str>,
    /// Schema of the event data, `None` for none.
    pub data: Option<SchemaFn>,
}

/// A property the server reads on a period and publishes a change of only when the value moved past a
/// threshold (Tango's polling with `abs_change`/`rel_change`): `#[property(observable, poll = "1s",
/// abs_change = 0.5)]` on a getter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollSpec {
    /// The property's name on the wire.
    pub property: &'static str,
    /// How often it is read.
    pub period: Duration,
    /// A change is published when the value moved by more than this (numbers only).
    pub abs_change: Option<f64>,
    /// … or by more than this fraction of the last published value (numbers only).
    pub rel_change: Option<f64>,
}

impl PollSpec {
    /// Whether going from `last` to `now` (the JSON values of the last published and the new reading) is a
    /// change to publish: for numbers, past a threshold when one is given (any change otherwise); for
    /// anything else, any change. Numbers inside arrays and objects are compared one by one.
    pub fn is_change(&self, last: &serde_json::Value, now: &serde_json::Value) -> bool {
        use serde_json::Value;
        match (last, now) {
            (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
                (Some(a), Some(b)) if self.abs_change.is_some() || self.rel_change.is_some() => {
                    let moved = (b - a).abs();
                    self.abs_change.is_some_and(|t| moved > t) || self.rel_change.is_some_and(|t| moved > t * a.abs())
                }
                _ => a != b,
            },
            (Value::Array(a), Value::Array(b)) => {
                a.len() != b.len() || a.iter().zip(b).any(|(x, y)| self.is_change(x, y))
            }
            (Value::Object(a), Value::Object(b)) => {
                a.len() != b.len() || a.iter().any(|(k, x)| b.get(k).is_none_or(|y| self.is_change(x, y)))
            }
            _ => last != now,
        }
    }
}

/// Everything a Thing offers, known without an instance: the source of its Thing Description.
#[derive(Debug, Clone, Copy)]
pub struct ThingDescriptor {
    /// TD `title`.
    pub title: &'static str,
    /// TD `description`.
    pub description: Option<&'static str>,
    /// Properties, in declaration order.
    pub properties: &'static [PropertyDescriptor],
    /// Actions, in declaration order.
    pub actions: &'static [ActionDescriptor],
    /// Events, in declaration order.
    pub events: &'static [EventDescriptor],
}

impl ThingDescriptor {
    /// Looks up a property by name.
    pub fn property(&self, name: &str) -> Option<(usize, &'static PropertyDescriptor)> {
        self.properties.iter().enumerate().find(|(_, p)| p.name == name)
    }

    /// Looks up an action by name.
    pub fn action(&self, name: &str) -> Option<&'static ActionDescriptor> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// Looks up an event by name.
    pub fn event(&self, name: &str) -> Option<&'static EventDescriptor> {
        self.events.iter().find(|e| e.name == name)
    }
}

/// The encoded result of an operation: frame 3 and frame 4 of the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Frame 3, already encoded in the reply's content type (`null` for no value).
    pub payload: Vec<u8>,
    /// Frame 4: raw bytes (empty for none).
    pub preserialized: Vec<u8>,
}

impl Output {
    /// No value: frame 3 is `null` in the reply's content type.
    pub fn none(content_type: &ContentType) -> Self {
        let payload = if content_type.is_msgpack() { vec![0xc0] } else { protocol::NULL_PAYLOAD.to_vec() };
        Self { payload, preserialized: Vec::new() }
    }

    /// A value, encoded in the reply's content type.
    pub fn value<T: Serialize + ?Sized>(value: &T, content_type: &ContentType) -> Result<Self, ThingError> {
        let payload = protocol::encode(value, &content_type.for_reply()).map_err(ThingError::from)?;
        Ok(Self { payload, preserialized: Vec::new() })
    }

    /// [`Output::value`] for the values generated code returns, with the codec's fast path for bulk data.
    pub(crate) fn encoded<T: Serialize + 'static>(value: &T, content_type: &ContentType) -> Result<Self, ThingError> {
        let mut payload = Vec::new();
        crate::codec::encode_value_into(&mut payload, value, &content_type.for_reply()).map_err(ThingError::from)?;
        Ok(Self { payload, preserialized: Vec::new() })
    }

    /// Raw bytes in frame 4, frame 3 `null` (how hololinked returns `bytes`).
    pub fn bytes(bytes: Vec<u8>, content_type: &ContentType) -> Self {
        Self { preserialized: bytes, ..Self::none(content_type) }
    }
}

/// A value being written or an argument being decoded, straight from the payload.
pub type ValueDeserializer<'a, 'de> = &'a mut dyn erased_serde::Deserializer<'de>;

/// What an action invocation gives back: either the finished result (synchronous code) or a future to run.
pub enum Invocation<'a> {
    /// The action already ran.
    Done(Result<Output, ThingError>),
    /// The action runs when this future is polled.
    Pending(Pin<Box<dyn Future<Output = Result<Output, ThingError>> + Send + 'a>>),
}

impl fmt::Debug for Invocation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Done(r) => f.debug_tuple("Done").field(r).finish(),
            Self::Pending(_) => f.write_str("Pending(..)"),
        }
    }
}

impl<'a> Invocation<'a> {
    /// Wraps a future.
    pub fn pending<F>(future: F) -> Self
    where
        F: Future<Output = Result<Output, ThingError>> + Send + 'a,
    {
        Self::Pending(Box::pin(future))
    }
}

/// The arguments of one action call: keyword arguments, `__args__` positional arguments and frame-4 bytes.
///
/// Decode them with [`crate::args::decode_args`] into an [`ArgSink`] such as [`crate::args::ArgSlots`].
#[derive(Debug, Clone, Copy)]
pub struct Args<'a> {
    /// Frame 3.
    pub payload: &'a [u8],
    /// How frame 3 is encoded (also the content type of the reply).
    pub content_type: &'a ContentType,
    /// Frame 4 (passed as the first positional argument when not empty).
    pub preserialized: &'a [u8],
}

/// Receives decoded arguments one by one (implemented by generated code, or by
/// [`crate::args::ArgSlots`]).
pub trait ArgSink {
    /// The parameter names, in order.
    fn names(&self) -> &[&'static str];
    /// Decodes argument number `index` from `value`.
    fn accept(&mut self, index: usize, value: ValueDeserializer<'_, '_>) -> Result<(), erased_serde::Error>;
}

/// A Thing type whose description is known without an instance (generated by `#[thing]`): its Thing
/// Description can be produced at build time.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Thing: add `#[thing]` to `struct {Self}` as well as to its impl block",
    label = "this type has no `#[thing]` on its struct"
)]
pub trait DescribeThing {
    /// The static description.
    fn thing_descriptor() -> &'static ThingDescriptor;
}

/// A served object. Implement it by hand or let `#[thing]` generate it.
///
/// The server calls these methods from the Thing's scheduler; it never calls two `&mut self` methods at
/// once, and it never runs a queued operation while another queued operation runs.
pub trait Thing: Send + Sync + 'static {
    /// The static description (same for every instance of the type).
    fn descriptor(&self) -> &'static ThingDescriptor;

    /// The Thing's id (the `thingID` clients address it by).
    fn thing_id(&self) -> &str;

    /// Encodes the current value of property `name` into `out` as `content_type`.
    ///
    /// Only called with names the descriptor lists.
    fn read_property(&self, name: &str, content_type: &ContentType, out: &mut Vec<u8>) -> Result<(), ThingError>;

    /// Decodes a new value for property `name` from `value` and stores it. Check bounds here and refuse with
    /// [`ThingError::value_error`].
    ///
    /// Only called with writable names the descriptor lists.
    fn write_property(&mut self, name: &str, value: ValueDeserializer<'_, '_>) -> Result<(), ThingError>;

    /// Sets property `name` to the value its storage kept, when the server starts (properties with
    /// [`Persist::Always`] or [`Persist::Init`]). The default writes it with
    /// [`write_property`](Self::write_property); `#[thing]` also restores `read_only` fields here, which
    /// clients cannot write.
    fn restore_property(&mut self, name: &str, value: ValueDeserializer<'_, '_>) -> Result<(), ThingError> {
        self.write_property(name, value)
    }

    /// Runs queued action `name` with exclusive access.
    fn invoke<'a>(&'a mut self, name: &str, args: Args<'_>) -> Invocation<'a>;

    /// Runs concurrent action `name` (outside the queue, shared access). Only called for actions whose
    /// descriptor says [`ExecutionMode::Concurrent`].
    fn invoke_concurrent<'a>(&'a self, name: &str, args: Args<'_>) -> Invocation<'a> {
        let _ = args;
        Invocation::Done(Err(ThingError::not_implemented(format!(
            "action `{name}` is not a concurrent action of `{}`",
            self.thing_id()
        ))))
    }

    /// Runs threaded action `name` on a blocking worker thread (outside the queue, shared access). Only
    /// called for actions whose descriptor says [`ExecutionMode::Threaded`].
    fn invoke_blocking(&self, name: &str, args: Args<'_>) -> Result<Output, ThingError> {
        let _ = args;
        Err(ThingError::not_implemented(format!("action `{name}` is not a threaded action of `{}`", self.thing_id())))
    }

    /// Connects the Thing's [`Event`](crate::Event) handles to the server's publisher. Called once when the
    /// server starts.
    fn bind_events(&mut self, binder: &EventBinder) {
        let _ = binder;
    }

    /// The Thing's state machine, if it has one: its current state and which states allow which actions and
    /// property writes. The server reads it once, when it starts, and refuses an operation the current state
    /// does not allow before the Thing's code runs. (`#[thing]` generates it from a `#[state_machine]` field
    /// and the impl block's `states(...)`.)
    fn state_gate(&self) -> Option<state::StateGate> {
        None
    }

    /// The properties the server polls (read on a period, their changes published past a threshold). The
    /// server reads it once, when it starts. (`#[thing]` generates it from `poll = "…"` on getters.)
    fn polled(&self) -> Vec<PollSpec> {
        Vec::new()
    }
}
