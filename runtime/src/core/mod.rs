//! The serving core: the one place that turns a request into an operation on a Thing, whatever binding it
//! came through.
//!
//! A binding decodes its wire into a [`RequestHead`] (thing, name, operation, content type, execution
//! context) and a [`Body`] (the payload and raw bytes), and hands them to [`Core::submit`] with a
//! [`ReplySink`] that encodes the answer back into its wire. The core resolves the Thing and the name (with
//! "did you mean" suggestions), answers the built-in operations (the Thing Description and Thing Model,
//! `list_things`, `ping`, hololinked's `_get_properties`/`_set_properties`), applies the admission limits,
//! and hands the operation to the Thing's scheduler, which answers through the sink — once: the first of
//! the result, the error and a timeout wins.
//!
//! Nothing here knows a socket or a wire format; see `docs/architecture.md` for the layers.

mod builtins;
pub(crate) mod logs;
#[cfg(test)]
mod polling_tests;
pub mod request;
pub mod responder;
pub(crate) mod scheduler;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::Ordering;

pub use request::{Body, ExecutionContext, Operation, RequestHead};
pub use responder::{ErrorClass, Origin, Reply, ReplySink, wrap_with_logs};

use crate::error::ThingError;
use crate::protocol::names;
use crate::td::ThingDescription;
use responder::{Answering, Responder};
use scheduler::{Job, Runner};

/// The maps on the request path hash with foldhash: several lookups per request, where SipHash cost a thousand
/// instructions. Its seed is random per process, so ids (which clients choose) cannot be crafted to collide
/// in advance.
pub(crate) type HashMap<K, V> = foldhash::HashMap<K, V>;

/// What the binding a request came through adds to its handling: the Thing Description forms it serves,
/// and its admission rule. Passed to [`Core::submit`] with each request.
pub trait BindingContext<S> {
    /// The binding's name ([`Describe`] parts of the other bindings are added after its own forms).
    fn name(&self) -> &'static str;

    /// Adds this binding's forms (and its security) to a Thing Description requested through it.
    /// `protocol` is the `protocol` argument of hololinked's `get_thing_description`, when given: the
    /// binding may serve the forms of another of its transports, or refuse with a `ValueError`.
    fn describe<'t>(
        &'t self,
        td: ThingDescription<'t>,
        protocol: Option<&str>,
    ) -> Result<ThingDescription<'t>, ThingError>;

    /// Admits the request, once it is resolved and before it is scheduled (a per-client limit of requests
    /// in flight, say); an error refuses it as busy. `sink` is the request's, for the binding to note what
    /// it must give back when the answer goes out.
    fn admit(&mut self, sink: &mut S) -> Result<(), ThingError> {
        let _ = sink;
        Ok(())
    }
}

/// A binding's part of the Thing Descriptions requested through *other* bindings: one TD per Thing carries
/// the forms of every binding it is served on, the requesting binding's first.
pub trait Describe: Send + Sync {
    /// Adds this binding's forms (and its security) to `td`.
    fn describe<'t>(&'t self, td: ThingDescription<'t>) -> ThingDescription<'t>;

    /// Adds this binding's forms before all others, its security the TD's own: the TD as served through this
    /// binding (what a server registers with a Thing directory). By default, as [`describe`](Self::describe).
    fn describe_as_own<'t>(&'t self, td: ThingDescription<'t>) -> ThingDescription<'t> {
        self.describe(td)
    }
}

/// How many requests a server answered how, since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Requests answered with an error (refused, or failed in the Thing's code).
    pub failed: u64,
    /// Requests answered with `TIMEOUT "invocation"`: they waited too long in a Thing's queue.
    pub invocation_timeouts: u64,
    /// Requests answered with `TIMEOUT "execution"`: they ran (or waited for the Thing) too long.
    pub execution_timeouts: u64,
    /// Results and errors that came after their request was answered with a timeout, and were dropped
    /// (blocking code cannot be interrupted: it returns late).
    pub late_results: u64,
}

/// The serving core of one server: its Things, their schedulers, and how requests are answered.
pub struct Core {
    server_id: Arc<str>,
    things: HashMap<String, Arc<dyn Runner>>,
    /// TD ids (URNs) → thing ids.
    aliases: HashMap<String, String>,
    answering: Arc<Answering>,
    /// Every binding's [`Describe`] part, by binding name.
    describers: Vec<(&'static str, Arc<dyn Describe>)>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core").field("server_id", &self.server_id).field("things", &self.thing_ids()).finish()
    }
}

impl Core {
    pub(crate) fn new(
        server_id: &str,
        runners: impl IntoIterator<Item = Arc<dyn Runner>>,
        failure_log: Option<tracing::Level>,
        describers: Vec<(&'static str, Arc<dyn Describe>)>,
    ) -> Self {
        let things: HashMap<String, Arc<dyn Runner>> =
            runners.into_iter().map(|r| (r.thing_id().to_string(), r)).collect();
        // hololinked's client addresses a Thing by its TD `id`, which is the Thing's URN.
        let aliases = things.keys().map(|id| (crate::td::thing_urn(server_id, id), id.clone())).collect();
        Self { server_id: Arc::from(server_id), things, aliases, answering: Answering::new(failure_log), describers }
    }

    /// The server id.
    pub fn server_id(&self) -> &str {
        &self.server_id
    }

    /// The ids of the Things served, sorted.
    pub fn thing_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.things.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }

    /// How requests have been answered so far.
    pub fn stats(&self) -> ServerStats {
        let c = &self.answering.counters;
        ServerStats {
            failed: c.failed.load(Ordering::Relaxed),
            invocation_timeouts: c.invocation_timeouts.load(Ordering::Relaxed),
            execution_timeouts: c.execution_timeouts.load(Ordering::Relaxed),
            late_results: c.late_results.load(Ordering::Relaxed),
        }
    }

    /// The Thing a request addresses, by its id or its TD id.
    fn runner(&self, thing_id: &str) -> Option<&Arc<dyn Runner>> {
        self.things.get(thing_id).or_else(|| self.aliases.get(thing_id).and_then(|id| self.things.get(id)))
    }

    pub(crate) fn runners(&self) -> impl Iterator<Item = &Arc<dyn Runner>> {
        self.things.values()
    }

    /// The [`Describe`] part of binding `name`, if it serves.
    #[cfg_attr(not(feature = "http"), allow(dead_code, reason = "only directory registration asks"))]
    pub(crate) fn describer(&self, name: &str) -> Option<Arc<dyn Describe>> {
        self.describers.iter().find(|(n, _)| *n == name).map(|(_, d)| Arc::clone(d))
    }

    /// The [`Describe`] parts of the bindings other than `binding`.
    pub(crate) fn describers_besides(&self, binding: &str) -> impl Iterator<Item = &dyn Describe> {
        self.describers.iter().filter(move |(name, _)| *name != binding).map(|(_, d)| d.as_ref())
    }

    /// Answers a request at once, with no Thing involved (errors of resolution, built-ins).
    fn responder<S: ReplySink>(&self, sink: S, thing: &str, operation: &'static str, name: &str) -> Responder {
        Responder::new(Vec::new(), sink, Arc::clone(&self.answering), Arc::from(thing), operation, name.to_owned())
    }

    /// Turns one request into an operation on a Thing and answers it through `sink`: at once when it is
    /// refused or built in, else when the Thing's scheduler is done with it.
    pub fn submit<B: Body, S: ReplySink>(
        &self,
        head: &RequestHead<'_>,
        body: B,
        mut sink: S,
        binding: &mut dyn BindingContext<S>,
    ) {
        let operation = Operation::parse(head.operation);
        let op_name = operation.map_or("unknown operation", Operation::as_str);
        if head.thing_id.is_empty() && head.name == names::LIST_THINGS && op_name == names::op::INVOKE_ACTION {
            let reply = self.responder(sink, "", op_name, head.name);
            return builtins::list_things(self, &reply, &head.content_type);
        }
        let Some(runner) = self.runner(head.thing_id) else {
            let ids = self.thing_ids();
            let message = match crate::suggest::closest(head.thing_id, ids.iter().copied()) {
                Some(s) => {
                    format!("no thing with id `{}` on server `{}`, did you mean `{s}`?", head.thing_id, self.server_id)
                }
                None => {
                    format!("no thing with id `{}` on server `{}`; it serves {:?}", head.thing_id, self.server_id, ids)
                }
            };
            let reply = self.responder(sink, head.thing_id, op_name, head.name);
            return reply.error(ErrorClass::UnknownThing, &ThingError::value_error(message), None);
        };
        let span = tracing::debug_span!(
            "request",
            thing = %head.thing_id,
            name = head.name,
            operation = head.operation,
            id = head.id,
        );
        let entered = span.enter();
        let reply_now = |body, sink: S| {
            let thing = Arc::clone(runner.thing_id());
            Responder::new(body, sink, Arc::clone(&self.answering), thing, op_name, head.name.to_owned())
        };
        let op = match builtins::resolve(self, runner.as_ref(), operation, head, &body, binding) {
            Ok(builtins::Resolved::Op(op)) => op,
            Ok(builtins::Resolved::Answer(output)) => {
                let ct = head.content_type.for_reply();
                return reply_now(body, sink).value(&ct, output, None);
            }
            Err((class, e)) => return reply_now(body, sink).error(class, &e, None),
        };
        if let Err(e) = binding.admit(&mut sink) {
            return reply_now(body, sink).error(ErrorClass::Busy, &e, None);
        }
        let reply = reply_now(body, sink);
        drop(entered);
        let job = Job::new(op, head.content_type.clone(), head.context, reply, span);
        Arc::clone(runner).submit(job);
    }
}

/// A binding context for requests that need no forms and no admission (the in-memory binding's).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoForms;

impl<S> BindingContext<S> for NoForms {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn describe<'t>(
        &'t self,
        td: ThingDescription<'t>,
        protocol: Option<&str>,
    ) -> Result<ThingDescription<'t>, ThingError> {
        match protocol {
            None => Ok(td),
            Some(p) => Err(ThingError::value_error(format!("this binding serves no protocol `{p}`"))),
        }
    }
}
