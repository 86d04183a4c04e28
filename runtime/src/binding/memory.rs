//! The in-memory binding: requests handed to the serving core in-process, with no socket and no wire
//! format — the same resolution, scheduling, timeouts and errors as every other binding.
//!
//! It makes Things testable deterministically: a request is submitted when [`MemoryBinding::submit`]
//! returns (so the order of submissions is the order the Thing sees), and nothing depends on the network,
//! so tests can run under tokio's paused time.
//!
//! ```
//! # use thingwire::prelude::*;
//! # use thingwire::binding::memory::Answer;
//! # #[thing] struct Counter { id: String, #[property] count: u32 }
//! # #[thing] impl Counter { #[action] fn add(&mut self, n: u32) -> u32 { self.count += n; self.count } }
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let server = Server::builder("lab").thing(Counter { id: "c".into(), count: 0 }).in_memory().start().await.unwrap();
//! let memory = server.memory();
//! assert_eq!(memory.invoke("c", "add", &serde_json::json!({"n": 2})).await.json::<u32>().unwrap(), 2);
//! assert!(matches!(memory.write("c", "missing", &1).await, Answer::Error { .. }));
//! # server.shutdown().await; }
//! ```

use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;

use crate::binding::{BindingSpec, BoundBinding, Control, ServerSettings};
use crate::core::{
    BindingContext, Core, ErrorClass, ExecutionContext, NoForms, Operation, Reply, ReplySink, RequestHead,
};
use crate::error::{ServerError, ThingError};
use crate::event::EventSink;
use crate::protocol::{ContentType, TimeoutKind};

/// A request as the in-memory binding takes it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The Thing's id (or TD id).
    pub thing: String,
    /// The property or action (comma-separated names for [`Operation::ReadMultipleProperties`]).
    pub name: String,
    /// The operation.
    pub operation: Operation,
    /// How `payload` is encoded (and the answer).
    pub content_type: ContentType,
    /// The value or the keyword arguments, encoded.
    pub payload: Vec<u8>,
    /// Raw bytes beside them.
    pub preserialized: Vec<u8>,
    /// Timeouts and options.
    pub context: ExecutionContext,
}

impl Request {
    /// A request with a JSON payload (`null` when `value` is `None`) and the default context.
    pub fn json<V: Serialize + ?Sized>(
        operation: Operation,
        thing: &str,
        name: &str,
        value: Option<&V>,
    ) -> Result<Self, ThingError> {
        let payload = match value {
            Some(v) => serde_json::to_vec(v).map_err(|e| ThingError::type_error(e.to_string()))?,
            None => b"null".to_vec(),
        };
        Ok(Self {
            thing: thing.to_owned(),
            name: name.to_owned(),
            operation,
            content_type: ContentType::Json,
            payload,
            preserialized: Vec::new(),
            context: ExecutionContext::default(),
        })
    }

    /// The same request with this execution context.
    pub fn with_context(mut self, context: ExecutionContext) -> Self {
        self.context = context;
        self
    }
}

/// The core's answer to one in-memory request.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The result.
    Value {
        /// How `payload` is encoded.
        content_type: ContentType,
        /// The encoded result.
        payload: Vec<u8>,
        /// Raw bytes returned beside it.
        preserialized: Vec<u8>,
        /// The Thing's log lines, when asked for.
        logs: Option<Vec<String>>,
    },
    /// The request failed.
    Error {
        /// What kind of failure.
        class: ErrorClass,
        /// What went wrong.
        error: ThingError,
    },
    /// A timeout expired first.
    Timeout(TimeoutKind),
    /// The server gave up on the request without answering (it shut down).
    Dropped,
}

impl Answer {
    /// Decodes a JSON result.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, String> {
        match self {
            Self::Value { payload, .. } => serde_json::from_slice(payload).map_err(|e| e.to_string()),
            other => Err(format!("expected a value, got {other:?}")),
        }
    }

    /// The error, for an error answer.
    pub fn error(&self) -> Option<&ThingError> {
        match self {
            Self::Error { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// An answer still to come: resolves once the core has answered.
#[derive(Debug)]
pub struct Pending(oneshot::Receiver<Answer>);

impl std::future::Future for Pending {
    type Output = Answer;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Answer> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(|r| r.unwrap_or(Answer::Dropped))
    }
}

/// The in-memory binding's reply sink.
pub(crate) struct Sink(Mutex<Option<oneshot::Sender<Answer>>>);

impl ReplySink for Sink {
    fn send(&self, reply: Reply<'_>) {
        let answer = match reply {
            Reply::Value { content_type, output, logs } => Answer::Value {
                content_type: content_type.clone(),
                payload: output.payload,
                preserialized: output.preserialized,
                logs: logs.map(<[String]>::to_vec),
            },
            Reply::Error { class, error, .. } => Answer::Error { class, error: error.clone() },
            Reply::Timeout(kind) => Answer::Timeout(kind),
        };
        if let Some(tx) = self.0.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = tx.send(answer);
        }
    }

    fn client(&self) -> String {
        "in-memory".to_owned()
    }
}

/// A handle that submits requests to a server's core in-process ([`Server::memory`](crate::Server::memory)).
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct MemoryBinding {
    core: Arc<Core>,
}

impl MemoryBinding {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Submits `request` now; the returned future resolves with its answer. Requests submitted one after
    /// the other reach their Thing in that order.
    pub fn submit(&self, request: Request) -> Pending {
        self.submit_with(request, &mut NoForms)
    }

    /// Submits `request` with the TD forms and admission of `binding`.
    pub(crate) fn submit_with(&self, request: Request, binding: &mut dyn BindingContext<Sink>) -> Pending {
        let (tx, rx) = oneshot::channel();
        let head = RequestHead {
            id: "",
            thing_id: &request.thing,
            name: &request.name,
            operation: request.operation.as_str(),
            content_type: request.content_type.clone(),
            context: request.context,
        };
        self.core.submit(&head, (request.payload, request.preserialized), Sink(Mutex::new(Some(tx))), binding);
        Pending(rx)
    }

    /// Submits `request` and waits for its answer.
    pub async fn request(&self, request: Request) -> Answer {
        self.submit(request).await
    }

    /// Reads a property.
    pub async fn read(&self, thing: &str, property: &str) -> Answer {
        self.json(Operation::ReadProperty, thing, property, None::<&()>).await
    }

    /// Writes a property (JSON).
    pub async fn write<V: Serialize + ?Sized>(&self, thing: &str, property: &str, value: &V) -> Answer {
        self.json(Operation::WriteProperty, thing, property, Some(value)).await
    }

    /// Invokes an action with keyword arguments (a JSON object, or `null`).
    pub async fn invoke<A: Serialize + ?Sized>(&self, thing: &str, action: &str, args: &A) -> Answer {
        self.json(Operation::InvokeAction, thing, action, Some(args)).await
    }

    async fn json<V: Serialize + ?Sized>(
        &self,
        operation: Operation,
        thing: &str,
        name: &str,
        value: Option<&V>,
    ) -> Answer {
        match Request::json(operation, thing, name, value) {
            Ok(request) => self.request(request).await,
            Err(error) => Answer::Error { class: ErrorClass::Invalid, error },
        }
    }
}

/// The in-memory binding in a server builder: it binds nothing and carries no events.
#[derive(Default)]
pub(crate) struct Spec;

impl BindingSpec for Spec {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn bind(self: Box<Self>, _server: &ServerSettings) -> Result<Box<dyn BoundBinding>, ServerError> {
        Ok(Box::new(Spec))
    }
}

impl BoundBinding for Spec {
    fn event_sink(&self) -> Option<Arc<dyn EventSink>> {
        None
    }

    fn serve(self: Box<Self>, _core: Arc<Core>, _control: Control) -> Vec<tokio::task::JoinHandle<()>> {
        Vec::new()
    }
}
