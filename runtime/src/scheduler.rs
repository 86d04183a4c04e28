//! Per-Thing schedulers: one FIFO per Thing for property operations and queued actions; concurrent and
//! threaded actions outside it; invocation and execution timeouts; observable-property change events.
//!
//! The Thing lives behind an async `RwLock`. Queued operations run one at a time from the Thing's queue
//! task (writes and queued actions with the write lock, reads with the read lock); concurrent and threaded
//! actions hold the read lock while they run, so queued reads go on beside them while a queued write waits
//! for them to finish — Rust's `&`/`&mut` rules, kept at run time. When the queue is idle, a property
//! operation runs straight from the socket task that received it, saving two task hops.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::sync::{RwLock, mpsc};
use tracing::Instrument;

use crate::args;
use crate::error::ThingError;
use crate::event::{EventBinder, Publisher};
use crate::logs::{self, LogBuffer};
use crate::protocol::{ContentType, MessageType, ServerExecutionContext, TimeoutKind};
use crate::reply::ReplyTo;
use crate::thing::{ActionDescriptor, Args, ExecutionMode, Invocation, Output, Thing, ThingDescriptor};

/// What a request asks of a Thing, resolved against its descriptor by the server.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// Reads the property with this index in the descriptor.
    ReadProperty(usize),
    WriteProperty,
    ReadMultiple(Vec<String>),
    ReadAll,
    WriteMultiple,
    /// hololinked's hidden `_get_properties(names=[...])`.
    GetProperties,
    /// The built-in `ping`: answered when the queue reaches it.
    Ping,
    Invoke(&'static ActionDescriptor),
}

impl Op {
    fn is_property_op(&self) -> bool {
        !matches!(self, Op::Invoke(_))
    }

    fn mutates(&self) -> bool {
        matches!(self, Op::WriteProperty | Op::WriteMultiple | Op::Invoke(_))
    }
}

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const TIMED_OUT: u8 = 2;

/// One request on its way to a Thing.
pub(crate) struct Request {
    pub(crate) frames: Vec<zmq::Message>,
    pub(crate) op: Op,
    pub(crate) name: String,
    pub(crate) content_type: ContentType,
    pub(crate) ctx: ServerExecutionContext,
    pub(crate) fetch_logs: bool,
    pub(crate) reply: ReplyTo,
    pub(crate) span: tracing::Span,
    /// Set when the request waits in the queue with an invocation timeout.
    pub(crate) state: Option<Arc<AtomicU8>>,
    pub(crate) timer: Option<tokio::task::AbortHandle>,
}

impl Request {
    fn payload(&self) -> &[u8] {
        &self.frames[3]
    }

    fn preserialized(&self) -> &[u8] {
        &self.frames[4]
    }

    fn args(&self) -> Args<'_> {
        Args { payload: self.payload(), content_type: &self.content_type, preserialized: self.preserialized() }
    }

    fn origin(&self, thing_id: &str) -> String {
        format!("thing `{thing_id}`, {} `{}`", self.op_label(), self.name)
    }

    fn op_label(&self) -> &'static str {
        match self.op {
            Op::ReadProperty(_) => "readproperty",
            Op::WriteProperty => "writeproperty",
            Op::ReadMultiple(_) => "readmultipleproperties",
            Op::ReadAll => "readallproperties",
            Op::WriteMultiple => "writemultipleproperties",
            Op::GetProperties | Op::Ping | Op::Invoke(_) => "invokeaction",
        }
    }

    /// Marks the request as started; `false` when its invocation timeout already answered it.
    fn start(&mut self) -> bool {
        if let Some(timer) = self.timer.take() {
            timer.abort();
        }
        match &self.state {
            Some(s) => s.compare_exchange(QUEUED, RUNNING, Ordering::AcqRel, Ordering::Acquire).is_ok(),
            None => true,
        }
    }

    /// The execution timeout in force: the shorter of the request's and the action's.
    fn execution_timeout(&self) -> Option<Duration> {
        let declared = match self.op {
            Op::Invoke(a) => a.execution_timeout,
            _ => None,
        };
        shorter(self.ctx.execution_timeout, declared)
    }

    fn invocation_timeout(&self) -> Option<Duration> {
        let declared = match self.op {
            Op::Invoke(a) => a.invocation_timeout,
            _ => None,
        };
        shorter(self.ctx.invocation_timeout, declared)
    }
}

fn shorter(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Limits a scheduler enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SchedulerLimits {
    pub(crate) max_queue: usize,
    pub(crate) observe_interval: Option<Duration>,
}

/// The type-erased face of a Thing's scheduler, as the server's socket tasks see it.
pub(crate) trait Runner: Send + Sync {
    fn thing_id(&self) -> &str;
    fn descriptor(&self) -> &'static ThingDescriptor;
    /// Accepts a request: runs it now, queues it, or starts it outside the queue.
    fn submit(self: Arc<Self>, request: Request);
    /// Fails every request still waiting in the queue and stops the queue task once it is idle.
    fn close(&self);
    /// Resolves when the queue task has finished.
    fn finished(&self) -> tokio::sync::watch::Receiver<bool>;
}

pub(crate) struct Scheduler<T: Thing> {
    id: String,
    /// The TD id, under which events are published too (hololinked's client subscribes by it).
    urn: String,
    descriptor: &'static ThingDescriptor,
    thing: Arc<RwLock<T>>,
    queue: Mutex<Option<mpsc::UnboundedSender<Request>>>,
    pending: AtomicUsize,
    closing: std::sync::atomic::AtomicBool,
    /// Per property: the last value published (JSON) and the change events' running number.
    observed: Mutex<Vec<(Option<Vec<u8>>, u64)>>,
    publisher: Publisher,
    limits: SchedulerLimits,
    done: tokio::sync::watch::Receiver<bool>,
    /// Signalled whenever a concurrent or threaded action lets go of the Thing.
    released: tokio::sync::Notify,
    /// Per property, the size of its last encoded read: the next read's buffer starts that large, so a bulk
    /// value (a 1 MiB `Vec<f64>`) is encoded without regrowing its buffer, and handed to ZeroMQ without
    /// shrinking it.
    read_sizes: Vec<AtomicUsize>,
}

impl<T: Thing> Scheduler<T> {
    /// Binds the Thing's events, records the current values of its observable properties and starts its
    /// queue task.
    pub(crate) fn start(mut thing: T, server_id: &str, publisher: Publisher, limits: SchedulerLimits) -> Arc<Self> {
        let id = thing.thing_id().to_owned();
        let descriptor = thing.descriptor();
        let urn = crate::td::thing_urn(server_id, &id);
        thing.bind_events(&EventBinder::new(&id, publisher.clone()).with_alias(&urn));
        let observed: Vec<Option<Vec<u8>>> = descriptor
            .properties
            .iter()
            .map(|p| {
                p.observable.then(|| {
                    let mut out = Vec::new();
                    thing.read_property(p.name, &ContentType::Json, &mut out).ok().map(|_| out)
                })?
            })
            .collect();
        let (tx, rx) = mpsc::unbounded_channel();
        let (done_tx, done_rx) = tokio::sync::watch::channel(false);
        let scheduler = Arc::new(Self {
            id,
            urn,
            descriptor,
            thing: Arc::new(RwLock::new(thing)),
            queue: Mutex::new(Some(tx)),
            pending: AtomicUsize::new(0),
            closing: std::sync::atomic::AtomicBool::new(false),
            observed: Mutex::new(observed.into_iter().map(|v| (v, 0)).collect()),
            publisher,
            limits,
            done: done_rx,
            released: tokio::sync::Notify::new(),
            read_sizes: descriptor.properties.iter().map(|_| AtomicUsize::new(0)).collect(),
        });
        tokio::spawn(Arc::clone(&scheduler).run_queue(rx, done_tx));
        if let Some(interval) = limits.observe_interval
            && descriptor.properties.iter().any(|p| p.observable)
        {
            tokio::spawn(Arc::clone(&scheduler).watch_observables(interval));
        }
        scheduler
    }

    async fn run_queue(
        self: Arc<Self>,
        mut rx: mpsc::UnboundedReceiver<Request>,
        done: tokio::sync::watch::Sender<bool>,
    ) {
        while let Some(mut request) = rx.recv().await {
            if self.closing.load(Ordering::Acquire) {
                if request.start() {
                    let err = ThingError::runtime("the server is shutting down; the request was not run");
                    request.reply.error(MessageType::Exception, &err, &request.origin(&self.id), None);
                }
            } else if request.start() {
                let span = request.span.clone();
                self.run_queued(request).instrument(span).await;
            }
            self.pending.fetch_sub(1, Ordering::AcqRel);
        }
        let _ = done.send(true);
    }

    /// Exclusive access for a queued operation. It never queues inside the lock: a writer waiting there
    /// would hold back every later reader, so a concurrent `stop()` could not run while a write waits for
    /// a long concurrent `move_to()`. Instead it retries whenever a shared holder lets go.
    async fn acquire_write(&self) -> tokio::sync::RwLockWriteGuard<'_, T> {
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            if let Ok(guard) = self.thing.try_write() {
                return guard;
            }
            released.await;
        }
    }

    /// Publishes changes of observable properties that changed behind the runtime's back (in background
    /// tasks, or in hardware), checking every `interval` when the Thing is not busy.
    async fn watch_observables(self: Arc<Self>, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticker.tick().await;
            if self.closing.load(Ordering::Acquire) {
                return;
            }
            if self.pending.load(Ordering::Acquire) > 0 {
                continue;
            }
            if let Ok(guard) = self.thing.try_read() {
                self.publish_changes(&guard);
            }
        }
    }

    async fn run_queued(&self, request: Request) {
        match request.op {
            Op::Invoke(action) => {
                let mut guard = self.acquire_write().await;
                let started = Instant::now();
                let logs = request.fetch_logs.then(LogBuffer::default);
                let thing = &mut *guard;
                let invocation = match &logs {
                    Some(buffer) => logs::capture_sync(buffer, || invoke_queued(thing, action.name, request.args())),
                    None => invoke_queued(thing, action.name, request.args()),
                };
                let result = self.await_invocation(invocation, &request, started, logs.as_ref()).await;
                self.publish_changes(&*guard);
                drop(guard);
                self.finish(&request, result, logs.as_ref());
            }
            _ => {
                if request.op.mutates() {
                    let mut guard = self.acquire_write().await;
                    self.run_property_op(&mut guard, &request);
                } else {
                    let guard = self.thing.read().await;
                    self.run_property_op_shared(&guard, &request);
                }
            }
        }
    }

    /// Runs a started invocation to its end or its execution timeout. `None`: the timeout already
    /// answered.
    async fn await_invocation(
        &self,
        invocation: Result<Invocation<'_>, ThingError>,
        request: &Request,
        started: Instant,
        logs: Option<&LogBuffer>,
    ) -> Option<Result<Output, ThingError>> {
        let timeout = request.execution_timeout();
        match invocation {
            Err(e) => Some(Err(e)),
            Ok(Invocation::Done(result)) => {
                // Synchronous code cannot be interrupted; a late result is replaced by the timeout.
                if timeout.is_some_and(|t| started.elapsed() > t) {
                    request.reply.timeout(TimeoutKind::Execution);
                    return None;
                }
                Some(result)
            }
            Ok(Invocation::Pending(future)) => {
                let future = AssertUnwindSafe(future).catch_unwind();
                let future = async move { future.await.unwrap_or_else(|p| Err(panic_error(p))) };
                let run = async {
                    match logs {
                        Some(buffer) => logs::Captured::new(future, buffer.clone()).await,
                        None => future.await,
                    }
                };
                match timeout {
                    Some(t) => match tokio::time::timeout(t.saturating_sub(started.elapsed()), run).await {
                        Ok(result) => Some(result),
                        Err(_) => {
                            // Dropping the future cancels the action at its next await point.
                            tracing::debug!(thing = %self.id, name = %request.name, "execution timeout: action cancelled");
                            request.reply.timeout(TimeoutKind::Execution);
                            None
                        }
                    },
                    None => Some(run.await),
                }
            }
        }
    }

    fn finish(&self, request: &Request, result: Option<Result<Output, ThingError>>, logs: Option<&LogBuffer>) {
        let logs = logs.map(LogBuffer::take);
        match result {
            None => {}
            Some(Ok(output)) => match &logs {
                Some(lines) => request.reply.output_with_logs(&request.content_type, output, lines),
                None => request.reply.output(&request.content_type, output),
            },
            Some(Err(error)) => {
                tracing::debug!(thing = %self.id, name = %request.name, %error, "operation failed");
                request.reply.error(MessageType::Exception, &error, &request.origin(&self.id), logs.as_deref());
            }
        }
    }

    /// A property operation that may write.
    fn run_property_op(&self, thing: &mut T, request: &Request) {
        let logs = request.fetch_logs.then(LogBuffer::default);
        let mut run = || catch_sync(|| self.property_op_mut(&mut *thing, request));
        let result = match &logs {
            Some(buffer) => logs::capture_sync(buffer, run),
            None => run(),
        };
        self.publish_changes(thing);
        self.finish(request, Some(result), logs.as_ref());
    }

    /// A property operation that only reads.
    fn run_property_op_shared(&self, thing: &T, request: &Request) {
        let logs = request.fetch_logs.then(LogBuffer::default);
        let run = || catch_sync(|| self.property_op_read(thing, request));
        let result = match &logs {
            Some(buffer) => logs::capture_sync(buffer, run),
            None => run(),
        };
        self.publish_changes(thing);
        self.finish(request, Some(result), logs.as_ref());
    }

    fn property_op_mut(&self, thing: &mut T, request: &Request) -> Result<Output, ThingError> {
        match &request.op {
            Op::WriteProperty => {
                args::with_value_deserializer(
                    request.payload(),
                    &request.content_type,
                    request.preserialized(),
                    |de| thing.write_property(&request.name, de),
                )?;
                Ok(Output::none(&request.content_type))
            }
            Op::WriteMultiple => {
                self.write_many(thing, request)?;
                Ok(Output::none(&request.content_type))
            }
            _ => self.property_op_read(thing, request),
        }
    }

    fn property_op_read(&self, thing: &T, request: &Request) -> Result<Output, ThingError> {
        let ct = request.content_type.for_reply();
        match &request.op {
            Op::ReadProperty(index) => {
                let hint = self.read_sizes.get(*index);
                let mut payload = Vec::with_capacity(hint.map_or(0, |h| h.load(Ordering::Relaxed)));
                thing.read_property(&request.name, &ct, &mut payload)?;
                if let Some(h) = hint {
                    h.store(payload.len(), Ordering::Relaxed);
                }
                Ok(Output { payload, preserialized: Vec::new() })
            }
            Op::ReadMultiple(names) => self.read_many(thing, names.iter().map(String::as_str), &ct),
            Op::ReadAll => self.read_many(thing, self.descriptor.properties.iter().map(|p| p.name), &ct),
            Op::GetProperties => {
                let (names,) = args::ArgSlots::<(Option<Vec<String>>,)>::new(&["names"]).decode(request.args())?;
                match names.flatten() {
                    Some(names) => {
                        for n in &names {
                            check_property(self.descriptor, &self.id, n)?;
                        }
                        self.read_many(thing, names.iter().map(String::as_str), &ct)
                    }
                    None => self.read_many(thing, self.descriptor.properties.iter().map(|p| p.name), &ct),
                }
            }
            Op::Ping => Ok(Output::none(&ct)),
            Op::WriteProperty | Op::WriteMultiple | Op::Invoke(_) => {
                Err(ThingError::runtime("internal error: a write reached the read path; please report"))
            }
        }
    }

    /// `{name: value, …}` assembled from each property's own encoding (JSON or msgpack).
    fn read_many<'n>(
        &self,
        thing: &T,
        names: impl ExactSizeIterator<Item = &'n str>,
        ct: &ContentType,
    ) -> Result<Output, ThingError> {
        let mut payload = Vec::with_capacity(64);
        let count = names.len();
        if ct.is_msgpack() {
            let _ = rmp::encode::write_map_len(&mut payload, count as u32);
        } else {
            payload.push(b'{');
        }
        for (i, name) in names.enumerate() {
            if ct.is_msgpack() {
                let _ = rmp::encode::write_str(&mut payload, name);
            } else {
                if i > 0 {
                    payload.push(b',');
                }
                let _ = serde_json::to_writer(&mut payload, name);
                payload.push(b':');
            }
            thing.read_property(name, ct, &mut payload)?;
        }
        if !ct.is_msgpack() {
            payload.push(b'}');
        }
        Ok(Output { payload, preserialized: Vec::new() })
    }

    /// Writes each `{name: value}` entry in order. Unknown names refuse the whole request before anything is
    /// written; a property that refuses its value is reported in the error's notes while the others are
    /// written (as hololinked does).
    fn write_many(&self, thing: &mut T, request: &Request) -> Result<(), ThingError> {
        // Each value is buffered on its own, so a refused value can never leave the payload half-read.
        let entries = args::with_value_deserializer(request.payload(), &request.content_type, &[], |de| {
            erased_serde::deserialize::<args::OrderedEntries>(de)
                .map_err(|e| ThingError::type_error(format!("expected an object of property values: {e}")))
        })?;
        let names = self.descriptor.properties.iter().map(|p| p.name);
        for (name, _) in &entries.0 {
            if self.descriptor.property(name).is_none() {
                return Err(ThingError::key_error(unknown_name("property", name, &self.id, names.clone())));
            }
        }
        let mut failures = Vec::new();
        for (name, value) in entries.0 {
            let result = match self.descriptor.property(&name) {
                Some((_, p)) if p.read_only => {
                    Err(ThingError::attribute_error(format!("property `{name}` of `{}` is read-only", self.id)))
                }
                _ => thing.write_property(&name, &mut <dyn erased_serde::Deserializer<'_>>::erase(value)),
            };
            if let Err(e) = result {
                failures.push(format!("{name}: {e}"));
            }
        }
        if failures.is_empty() {
            return Ok(());
        }
        let mut error = ThingError::value_error(format!("{} of the properties could not be written", failures.len()));
        error.notes = Some(failures);
        Err(error)
    }

    /// Publishes `<thing>/<prop>_change_event` for every observable property whose value differs from the
    /// last one seen.
    fn publish_changes(&self, thing: &T) {
        let mut observed = self.observed.lock().unwrap_or_else(|p| p.into_inner());
        for (i, p) in self.descriptor.properties.iter().enumerate() {
            if !p.observable {
                continue;
            }
            let mut now = Vec::new();
            if thing.read_property(p.name, &ContentType::Json, &mut now).is_err() {
                continue;
            }
            if observed[i].0.as_deref() == Some(&now[..]) {
                continue;
            }
            let sequence = observed[i].1;
            observed[i].1 += 1;
            for prefix in [&self.id, &self.urn] {
                let topic = format!("{prefix}/{}_change_event", p.name);
                if let Err(e) = self.publisher.publish_numbered(&topic, sequence, &now, b"") {
                    tracing::debug!(%topic, error = %e, "change event not published");
                }
            }
            observed[i].0 = Some(now);
        }
    }

    fn run_concurrent(self: Arc<Self>, mut request: Request) {
        let span = request.span.clone();
        tokio::spawn(
            async move {
                request.start();
                let started = Instant::now();
                let Op::Invoke(action) = request.op else { return };
                let guard = self.thing.read().await;
                let logs = request.fetch_logs.then(LogBuffer::default);
                let thing = &*guard;
                let invocation = match &logs {
                    Some(buffer) => logs::capture_sync(buffer, || invoke_shared(thing, action.name, request.args())),
                    None => invoke_shared(thing, action.name, request.args()),
                };
                let result = self.await_invocation(invocation, &request, started, logs.as_ref()).await;
                drop(guard);
                self.released.notify_waiters();
                self.finish(&request, result, logs.as_ref());
            }
            .instrument(span),
        );
    }

    fn run_threaded(self: Arc<Self>, mut request: Request) {
        let span = request.span.clone();
        tokio::spawn(
            async move {
                request.start();
                let Op::Invoke(action) = request.op else { return };
                let timeout = request.execution_timeout();
                let logs = request.fetch_logs.then(LogBuffer::default);
                let worker = {
                    let this = Arc::clone(&self);
                    let frames = std::mem::take(&mut request.frames);
                    let content_type = request.content_type.clone();
                    let logs = logs.clone();
                    let span = tracing::Span::current();
                    tokio::task::spawn_blocking(move || {
                        let _entered = span.enter();
                        let guard = this.thing.blocking_read();
                        let args = Args { payload: &frames[3], content_type: &content_type, preserialized: &frames[4] };
                        let call = || catch_sync(|| guard.invoke_blocking(action.name, args));
                        let result = match &logs {
                            Some(buffer) => logs::capture_sync(buffer, call),
                            None => call(),
                        };
                        drop(guard);
                        this.released.notify_waiters();
                        result
                    })
                };
                let joined = match timeout {
                    Some(t) => match tokio::time::timeout(t, worker).await {
                        Ok(joined) => joined,
                        Err(_) => {
                            // Blocking code cannot be stopped: its late result is dropped.
                            tracing::debug!(thing = %self.id, name = action.name, "execution timeout: threaded action left to finish, its result will be dropped");
                            request.reply.timeout(TimeoutKind::Execution);
                            return;
                        }
                    },
                    None => worker.await,
                };
                let result = joined.unwrap_or_else(|e| Err(ThingError::runtime(format!("the worker thread failed: {e}"))));
                self.finish(&request, Some(result), logs.as_ref());
            }
            .instrument(span),
        );
    }

    fn enqueue(&self, mut request: Request) {
        let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let Some(tx) = queue.as_ref() else {
            let err = ThingError::runtime("the server is shutting down; the request was not run");
            request.reply.error(MessageType::Exception, &err, &request.origin(&self.id), None);
            return;
        };
        // `pending` counts the queued requests and the one the queue task is running.
        let queued = self.pending.load(Ordering::Acquire);
        if queued >= self.limits.max_queue {
            let err = ThingError::runtime(format!(
                "the server is busy: the queue of `{}` holds {queued} requests, the running one included (limit {}); \
                 retry later",
                self.id, self.limits.max_queue
            ));
            request.reply.error(MessageType::Exception, &err, &request.origin(&self.id), None);
            return;
        }
        if let Some(timeout) = request.invocation_timeout() {
            let state = Arc::new(AtomicU8::new(QUEUED));
            let reply = request.reply.clone();
            let timer_state = Arc::clone(&state);
            let timer = tokio::spawn(async move {
                tokio::time::sleep(timeout).await;
                if timer_state.compare_exchange(QUEUED, TIMED_OUT, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                    reply.timeout(TimeoutKind::Invocation);
                }
            });
            request.state = Some(state);
            request.timer = Some(timer.abort_handle());
        }
        self.pending.fetch_add(1, Ordering::AcqRel);
        if let Err(mpsc::error::SendError(request)) = tx.send(request) {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            let err = ThingError::runtime("the Thing's queue has stopped; the request was not run");
            request.reply.error(MessageType::Exception, &err, &request.origin(&self.id), None);
        }
    }
}

impl<T: Thing> Runner for Scheduler<T> {
    fn thing_id(&self) -> &str {
        &self.id
    }

    fn descriptor(&self) -> &'static ThingDescriptor {
        self.descriptor
    }

    fn submit(self: Arc<Self>, request: Request) {
        match request.op {
            Op::Invoke(action) if action.mode == ExecutionMode::Concurrent => self.run_concurrent(request),
            Op::Invoke(action) if action.mode == ExecutionMode::Threaded => self.run_threaded(request),
            _ if request.op.is_property_op() && self.pending.load(Ordering::Acquire) == 0 => {
                // The queue is idle: run here, in arrival order, without a task hop.
                if request.op.mutates() {
                    if let Ok(mut guard) = self.thing.try_write() {
                        let _entered = request.span.enter();
                        self.run_property_op(&mut guard, &request);
                        return;
                    }
                } else if let Ok(guard) = self.thing.try_write() {
                    let _entered = request.span.enter();
                    self.run_property_op_shared(&guard, &request);
                    return;
                }
                self.enqueue(request);
            }
            _ => self.enqueue(request),
        }
    }

    fn close(&self) {
        self.closing.store(true, Ordering::Release);
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    fn finished(&self) -> tokio::sync::watch::Receiver<bool> {
        self.done.clone()
    }
}

/// Checks that `name` is a property of the Thing, suggesting the closest name when it is not; its index in
/// the descriptor when it is.
pub(crate) fn check_property(descriptor: &ThingDescriptor, thing_id: &str, name: &str) -> Result<usize, ThingError> {
    if let Some((index, _)) = descriptor.property(name) {
        return Ok(index);
    }
    let names = descriptor.properties.iter().map(|p| p.name);
    Err(ThingError::key_error(unknown_name("property", name, thing_id, names)))
}

/// "`thing` has no property `x`, did you mean `y`?".
pub(crate) fn unknown_name<'a>(
    what: &str,
    name: &str,
    thing_id: &str,
    names: impl Iterator<Item = &'a str> + Clone,
) -> String {
    match crate::suggest::closest(name, names.clone()) {
        Some(s) => format!("`{thing_id}` has no {what} `{name}`, did you mean `{s}`?"),
        None => {
            let list: Vec<String> = names.map(|n| format!("`{n}`")).collect();
            if list.is_empty() {
                format!("`{thing_id}` has no {what} `{name}` (it has none)")
            } else {
                format!("`{thing_id}` has no {what} `{name}`; it has {}", list.join(", "))
            }
        }
    }
}

/// Starts a queued action, turning a panic in its synchronous part into an error.
fn invoke_queued<'a, T: Thing>(thing: &'a mut T, name: &str, args: Args<'_>) -> Result<Invocation<'a>, ThingError> {
    // Moving the reference into the closure's body makes it `FnOnce`, so the invocation may borrow the
    // Thing for `'a`.
    std::panic::catch_unwind(AssertUnwindSafe(once(move || thing.invoke(name, args)))).map_err(panic_error)
}

/// Pins a closure's kind to `FnOnce` (so it may hand out borrows of what it captured).
fn once<R>(f: impl FnOnce() -> R) -> impl FnOnce() -> R {
    f
}

/// Starts a concurrent action, turning a panic in its synchronous part into an error.
fn invoke_shared<'a, T: Thing>(thing: &'a T, name: &str, args: Args<'_>) -> Result<Invocation<'a>, ThingError> {
    std::panic::catch_unwind(AssertUnwindSafe(move || thing.invoke_concurrent(name, args))).map_err(panic_error)
}

fn catch_sync<R>(call: impl FnOnce() -> Result<R, ThingError>) -> Result<R, ThingError> {
    std::panic::catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|p| Err(panic_error(p)))
}

fn panic_error(payload: Box<dyn std::any::Any + Send>) -> ThingError {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic payload".to_owned());
    ThingError::runtime(format!("the Thing's code panicked: {text}"))
}
