//! Per-Thing schedulers: one FIFO per Thing for property operations and queued actions; concurrent and
//! threaded actions outside it; invocation and execution timeouts; observable-property change events.
//!
//! The Thing lives behind an async `RwLock`. Queued operations run one at a time from the Thing's queue
//! task (writes and queued actions with the write lock, reads with the read lock); concurrent and threaded
//! actions hold the read lock while they run, so queued reads go on beside them while a queued write waits
//! for them to finish — Rust's `&`/`&mut` rules, kept at run time. When the queue is idle, a property
//! operation runs straight from the task of the binding that received it, saving two task hops.
//!
//! **Execution timeouts hold for every operation.** The deadline runs from the moment the scheduler takes
//! the operation up (for a queued one, when it leaves the queue), and covers waiting for the Thing's lock as
//! well as running. Whatever the code does, the answer at the deadline is `TIMEOUT "execution"`:
//!
//! * async code (a queued or concurrent `async fn` action) is *cancelled* at the deadline (its future is
//!   dropped at its next `.await`);
//! * blocking code — a plain `fn` action, queued or threaded, or a computed property's getter or setter —
//!   cannot be interrupted. When a timeout is in force it runs on a blocking worker thread while the
//!   scheduler answers at the deadline; the code keeps its thread (and the Thing's lock) until it returns,
//!   and its late result is dropped and counted. The next queued operation waits for the lock, that is, for
//!   the blocking code to return.
//!
//! Without a timeout in force, blocking code runs where the operation is scheduled (a plain field's read or
//! write always does: it does not block).

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock, mpsc};
use tokio::time::Instant;
use tracing::Instrument;

use crate::args;
use crate::core::logs::{self, LogBuffer};
use crate::core::request::ExecutionContext;
use crate::core::responder::{ErrorClass, Responder};
use crate::error::ThingError;
use crate::event::{EventBinder, EventKind, Publisher, Routes};
use crate::persist::worker::{ThingStore, Touched};
use crate::protocol::{ContentType, TimeoutKind};
use crate::thing::state::{STATE_PROPERTY, StateGate};
use crate::thing::{ActionDescriptor, Args, ExecutionMode, Invocation, Output, PollSpec, Thing, ThingDescriptor};

/// What a request asks of a Thing, resolved against its descriptor by the core.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// Reads the property with this index in the descriptor.
    ReadProperty(usize),
    /// Writes the property with this index in the descriptor.
    WriteProperty(usize),
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
        matches!(self, Op::WriteProperty(_) | Op::WriteMultiple | Op::Invoke(_))
    }
}

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const TIMED_OUT: u8 = 2;

/// One request on its way to a Thing.
pub(crate) struct Job {
    pub(crate) op: Op,
    pub(crate) content_type: ContentType,
    pub(crate) ctx: ExecutionContext,
    pub(crate) reply: Responder,
    pub(crate) span: tracing::Span,
    /// Set when the request waits in the queue with an invocation timeout.
    state: Option<Arc<AtomicU8>>,
    timer: Option<tokio::task::AbortHandle>,
}

impl Job {
    pub(crate) fn new(
        op: Op,
        content_type: ContentType,
        ctx: ExecutionContext,
        reply: Responder,
        span: tracing::Span,
    ) -> Self {
        Self { op, content_type, ctx, reply, span, state: None, timer: None }
    }

    fn name(&self) -> &str {
        self.reply.name()
    }

    fn args(&self) -> Args<'_> {
        let body = self.reply.body();
        Args { payload: body.payload(), content_type: &self.content_type, preserialized: body.preserialized() }
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
}

fn shorter(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Limits and defaults a scheduler applies.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SchedulerLimits {
    pub(crate) max_queue: usize,
    pub(crate) observe_interval: Option<Duration>,
    /// The server's default invocation timeout, for requests that carry none and actions that declare none.
    pub(crate) invocation_timeout: Option<Duration>,
    /// The server's default execution timeout, the same way.
    pub(crate) execution_timeout: Option<Duration>,
}

impl SchedulerLimits {
    /// The execution timeout in force: the shorter of the request's and the action's, else the server's.
    fn execution_timeout(&self, job: &Job) -> Option<Duration> {
        let declared = match job.op {
            Op::Invoke(a) => a.execution_timeout,
            _ => None,
        };
        shorter(job.ctx.execution_timeout, declared).or(self.execution_timeout)
    }

    /// The invocation timeout in force, the same way.
    fn invocation_timeout(&self, job: &Job) -> Option<Duration> {
        let declared = match job.op {
            Op::Invoke(a) => a.invocation_timeout,
            _ => None,
        };
        shorter(job.ctx.invocation_timeout, declared).or(self.invocation_timeout)
    }
}

/// What the core needs to know of a Thing that lives on another server (a gateway's remote Thing) besides its
/// descriptor.
pub(crate) struct RemoteInfo {
    /// Its TD, as its own server serves it.
    pub(crate) document: crate::td::Document,
    /// The address of that server.
    pub(crate) backend: String,
}

impl RemoteInfo {
    /// The TD to serve: its own, with the `local` TD's id, context, security and forms.
    pub(crate) fn describe(&self, local: crate::td::Document) -> crate::td::Document {
        crate::td::adopt(&self.document, local)
    }
}

/// The type-erased face of a Thing's scheduler, as the core sees it.
pub(crate) trait Runner: Send + Sync {
    fn thing_id(&self) -> &Arc<str>;
    fn descriptor(&self) -> &'static ThingDescriptor;
    /// A Thing that lives on another server: its TD and backend.
    fn remote(&self) -> Option<&RemoteInfo> {
        None
    }
    /// Accepts a request: runs it now, queues it, or starts it outside the queue.
    fn submit(self: Arc<Self>, job: Job);
    /// Fails every request still waiting in the queue and stops the queue task once it is idle.
    fn close(&self);
    /// Resolves when the queue task has finished.
    fn finished(&self) -> tokio::sync::watch::Receiver<bool>;
}

/// An observable property's last published value, and its change events' running number and routes.
struct Observed {
    last: Option<Vec<u8>>,
    sequence: u64,
    routes: Routes,
    /// Polled: its changes are published by the poller, past its thresholds, and by nothing else.
    poll: Option<PollSpec>,
}

/// What the queue task runs, in arrival order.
enum Work {
    /// A request.
    Job(Job),
    /// A poll of these properties (indices into the descriptor's properties).
    Poll(Vec<usize>),
}

pub(crate) struct Scheduler<T: Thing> {
    id: Arc<str>,
    descriptor: &'static ThingDescriptor,
    thing: Arc<RwLock<T>>,
    queue: Mutex<Option<mpsc::UnboundedSender<Work>>>,
    /// A poll is waiting in the queue or running: the poller sends no other until it has run.
    poll_queued: AtomicBool,
    pending: AtomicUsize,
    closing: AtomicBool,
    /// Per property (`None` for properties that are not observable).
    observed: Mutex<Vec<Option<Observed>>>,
    limits: SchedulerLimits,
    done: tokio::sync::watch::Receiver<bool>,
    /// Signalled whenever an operation outside the queue task lets go of the Thing.
    released: tokio::sync::Notify,
    /// Per property, the size of its last encoded read: the next read's buffer starts that large, so a bulk
    /// value (a 1 MiB `Vec<f64>`) is encoded without regrowing its buffer, and handed to the binding without
    /// shrinking it.
    read_sizes: Vec<AtomicUsize>,
    /// Some property runs the Thing's code to be read (for reading all of them).
    any_computed: bool,
    /// Some writable property runs the Thing's code to be written (for writing several).
    any_writable_computed: bool,
    /// The Thing's state machine: which states allow which actions and writes.
    gate: Option<StateGate>,
    /// Where its persisted properties are stored (`None` when it has none, or the server no storage).
    store: Option<ThingStore>,
}

/// The lock a blocking worker holds while it runs an operation.
enum Held<T> {
    Read(OwnedRwLockReadGuard<T>),
    Write(OwnedRwLockWriteGuard<T>),
}

/// Runs `future` to its end, or until `deadline`; `None` when the deadline came first.
async fn until<F: std::future::Future>(deadline: Option<Instant>, future: F) -> Option<F::Output> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, future).await.ok(),
        None => Some(future.await),
    }
}

impl<T: Thing> Scheduler<T> {
    /// Binds the Thing's events, records the current values of its observable properties and starts its
    /// queue task.
    pub(crate) fn start(
        mut thing: T,
        server_id: &str,
        publisher: Publisher,
        limits: SchedulerLimits,
        store: Option<ThingStore>,
    ) -> Arc<Self> {
        let id: Arc<str> = Arc::from(thing.thing_id());
        let descriptor = thing.descriptor();
        let urn = crate::td::thing_urn(server_id, &id);
        let binder = EventBinder::new(&id, publisher).with_alias(&urn);
        thing.bind_events(&binder);
        let gate = thing.state_gate();
        let polls = thing.polled();
        let poll_of = |name: &str| polls.iter().find(|spec| spec.property == name).copied();
        // A state machine publishes each of its transitions itself, in order: comparing values after
        // operations would publish them again.
        let self_published = |name: &str| gate.is_some() && name == STATE_PROPERTY;
        let observed = descriptor
            .properties
            .iter()
            .map(|p| {
                (p.observable && !self_published(p.name)).then(|| {
                    let mut out = Vec::new();
                    let last = thing.read_property(p.name, &ContentType::Json, &mut out).ok().map(|_| out);
                    let routes = binder.routes(p.name, EventKind::PropertyChange);
                    Observed { last, sequence: 0, routes, poll: poll_of(p.name) }
                })
            })
            .collect();
        let (tx, rx) = mpsc::unbounded_channel();
        let (done_tx, done_rx) = tokio::sync::watch::channel(false);
        let scheduler = Arc::new(Self {
            id,
            descriptor,
            thing: Arc::new(RwLock::new(thing)),
            queue: Mutex::new(Some(tx)),
            poll_queued: AtomicBool::new(false),
            pending: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            observed: Mutex::new(observed),
            limits,
            done: done_rx,
            released: tokio::sync::Notify::new(),
            read_sizes: descriptor.properties.iter().map(|_| AtomicUsize::new(0)).collect(),
            any_computed: descriptor.properties.iter().any(|p| p.computed),
            any_writable_computed: descriptor.properties.iter().any(|p| p.computed && !p.read_only),
            gate,
            store,
        });
        tokio::spawn(Arc::clone(&scheduler).run_queue(rx, done_tx));
        let polled: Vec<(usize, PollSpec)> = polls
            .iter()
            .filter_map(|spec| descriptor.property(spec.property).map(|(i, _)| (i, *spec)))
            .filter(|(i, _)| descriptor.properties[*i].observable)
            .collect();
        if !polled.is_empty() {
            tokio::spawn(Arc::clone(&scheduler).poll_loop(polled));
        }
        if let Some(interval) = limits.observe_interval
            && descriptor.properties.iter().any(|p| p.observable)
        {
            tokio::spawn(Arc::clone(&scheduler).watch_observables(interval));
        }
        scheduler
    }

    /// Whether the operation runs the Thing's own code, which may block.
    fn runs_code(&self, op: &Op) -> bool {
        let computed = |i: usize| self.descriptor.properties.get(i).is_some_and(|p| p.computed);
        match op {
            Op::ReadProperty(i) | Op::WriteProperty(i) => computed(*i),
            Op::ReadMultiple(names) => {
                names.iter().any(|n| self.descriptor.property(n).is_some_and(|(_, p)| p.computed))
            }
            Op::ReadAll | Op::GetProperties => self.any_computed,
            Op::WriteMultiple => self.any_writable_computed,
            Op::Ping => false,
            Op::Invoke(action) => action.blocking,
        }
    }

    async fn run_queue(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<Work>, done: tokio::sync::watch::Sender<bool>) {
        while let Some(work) = rx.recv().await {
            let mut job = match work {
                Work::Job(job) => job,
                Work::Poll(properties) => {
                    if !self.closing.load(Ordering::Acquire) {
                        self.poll(&properties).await;
                    }
                    self.poll_queued.store(false, Ordering::Release);
                    continue;
                }
            };
            if self.closing.load(Ordering::Acquire) {
                if job.start() {
                    let err = ThingError::runtime("the server is shutting down; the request was not run");
                    job.reply.error(ErrorClass::Unavailable, &err, None);
                }
            } else if job.start() {
                let span = job.span.clone();
                self.run_queued(job).instrument(span).await;
            }
            self.pending.fetch_sub(1, Ordering::AcqRel);
        }
        let _ = done.send(true);
    }

    /// Exclusive access for a queued operation. It never queues inside the lock: a writer waiting there
    /// would hold back every later reader, so a concurrent `stop()` could not run while a write waits for
    /// a long concurrent `move_to()`. Instead it retries whenever a holder outside the queue lets go.
    async fn acquire_write(self: &Arc<Self>) -> OwnedRwLockWriteGuard<T> {
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            if let Ok(guard) = Arc::clone(&self.thing).try_write_owned() {
                return guard;
            }
            released.await;
        }
    }

    /// Publishes changes of observable properties that changed behind the runtime's back (in background
    /// tasks, or in hardware), checking every `interval` when the Thing is not busy.
    /// Sends a poll of the properties that are due through the queue, each on its own period. A poll waits its
    /// turn behind the queued operations and never runs beside one; while one waits or runs no other is sent
    /// (a slow getter, or a busy queue, skips periods instead of piling polls up).
    async fn poll_loop(self: Arc<Self>, polled: Vec<(usize, PollSpec)>) {
        let start = Instant::now();
        let mut due: Vec<Instant> = polled.iter().map(|(_, spec)| start + spec.period).collect();
        loop {
            let Some(next) = due.iter().min().copied() else { return };
            tokio::time::sleep_until(next).await;
            if self.closing.load(Ordering::Acquire) {
                return;
            }
            let now = Instant::now();
            let mut ready = Vec::new();
            for ((index, spec), at) in polled.iter().zip(due.iter_mut()) {
                if *at <= now {
                    ready.push(*index);
                    *at = now + spec.period;
                }
            }
            if self.poll_queued.swap(true, Ordering::AcqRel) {
                continue;
            }
            let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            let sent = queue.as_ref().is_some_and(|tx| tx.send(Work::Poll(ready)).is_ok());
            drop(queue);
            if !sent {
                return;
            }
        }
    }

    /// Reads the polled properties and publishes those that moved past their thresholds since the value last
    /// published.
    async fn poll(&self, properties: &[usize]) {
        let guard = match self.thing.try_read() {
            Ok(guard) => guard,
            Err(_) => self.thing.read().await,
        };
        let mut observed = self.observed.lock().unwrap_or_else(|p| p.into_inner());
        for &index in properties {
            let p = &self.descriptor.properties[index];
            let Some(Some(slot)) = observed.get_mut(index) else { continue };
            let Some(spec) = slot.poll else { continue };
            let mut now = Vec::new();
            let read = catch_sync(|| guard.read_property(p.name, &ContentType::Json, &mut now));
            if let Err(e) = read {
                tracing::debug!(thing = %self.id, property = p.name, error = %e, "polling: the read failed");
                continue;
            }
            let moved = match (&slot.last, serde_json::from_slice::<serde_json::Value>(&now)) {
                (Some(last), Ok(value)) => match serde_json::from_slice::<serde_json::Value>(last) {
                    Ok(last) => spec.is_change(&last, &value),
                    Err(_) => true,
                },
                _ => true,
            };
            if !moved {
                continue;
            }
            if let Err(e) = slot.routes.send(slot.sequence, &now, b"") {
                tracing::debug!(thing = %self.id, property = p.name, error = %e, "change event not published");
            }
            slot.sequence += 1;
            slot.last = Some(now);
        }
    }

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

    /// Refuses `job` when the Thing's state does not allow it (before any of the Thing's code runs): `true`
    /// when it was refused.
    fn refused_by_state(&self, job: &Job) -> bool {
        let Some(gate) = &self.gate else { return false };
        let checked = match &job.op {
            Op::Invoke(action) => gate.check(&self.id, "action", action.name),
            Op::WriteProperty(index) => gate.check(&self.id, "property", self.descriptor.properties[*index].name),
            _ => Ok(()),
        };
        match checked {
            Ok(()) => false,
            Err(error) => {
                job.reply.error(ErrorClass::Failed, &error, None);
                true
            }
        }
    }

    async fn run_queued(self: &Arc<Self>, job: Job) {
        if self.refused_by_state(&job) {
            return;
        }
        let deadline = self.limits.execution_timeout(&job).map(|t| Instant::now() + t);
        if deadline.is_some() && self.runs_code(&job.op) {
            return self.run_on_worker(job, deadline).await;
        }
        match job.op {
            Op::Invoke(action) => {
                let logs = job.ctx.fetch_logs.then(LogBuffer::default);
                let run = async {
                    let mut guard = self.acquire_write().await;
                    let thing = &mut *guard;
                    let invocation = match &logs {
                        Some(buffer) => logs::capture_sync(buffer, || invoke_queued(thing, action.name, job.args())),
                        None => invoke_queued(thing, action.name, job.args()),
                    };
                    let result = run_invocation(invocation, logs.as_ref()).await;
                    self.publish_changes(&guard);
                    let stored = self.to_store(&guard, &job.op);
                    (result, stored)
                };
                match until(deadline, run).await {
                    Some((result, stored)) => {
                        if deadline.is_some_and(|d| Instant::now() > d) {
                            self.expired(&job, "the code returned after the deadline");
                        }
                        self.conclude(&job, result, logs.as_ref(), stored)
                    }
                    // Dropping the future cancelled the action at its next await point.
                    None => self.expired(&job, "action cancelled"),
                }
            }
            _ if job.op.mutates() => match until(deadline, self.acquire_write()).await {
                Some(mut guard) => self.run_property_op(&mut guard, &job),
                None => self.expired(&job, "still waiting for the Thing"),
            },
            // A free Thing is read at once, whatever the deadline: waiting on the lock could yield to tokio's
            // cooperative budget and let a deadline of zero win a race it should not be in.
            _ => match self.thing.try_read() {
                Ok(guard) => self.run_property_op_shared(&guard, &job),
                Err(_) => match until(deadline, self.thing.read()).await {
                    Some(guard) => self.run_property_op_shared(&guard, &job),
                    None => self.expired(&job, "still waiting for the Thing"),
                },
            },
        }
    }

    /// Runs a queued operation whose code may block on a blocking worker thread, answering `TIMEOUT` at the
    /// deadline whether the code has returned or not.
    async fn run_on_worker(self: &Arc<Self>, job: Job, deadline: Option<Instant>) {
        let held = if job.op.mutates() {
            until(deadline, self.acquire_write()).await.map(Held::Write)
        } else {
            match Arc::clone(&self.thing).try_read_owned() {
                Ok(guard) => Some(Held::Read(guard)),
                Err(_) => until(deadline, Arc::clone(&self.thing).read_owned()).await.map(Held::Read),
            }
        };
        let Some(held) = held else {
            return self.expired(&job, "still waiting for the Thing");
        };
        let reply = job.reply.clone();
        let this = Arc::clone(self);
        let span = tracing::Span::current();
        let worker = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            match held {
                Held::Write(mut guard) => match job.op {
                    Op::Invoke(action) => this.invoke_blocking_queued(&mut guard, action, &job),
                    _ => this.run_property_op(&mut guard, &job),
                },
                Held::Read(guard) => this.run_property_op_shared(&guard, &job),
            }
            // The guard is gone: a writer outside the queue task may be waiting for it.
            this.released.notify_waiters();
        });
        match until(deadline, worker).await {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                reply.error(ErrorClass::Failed, &ThingError::runtime(format!("the worker thread failed: {e}")), None)
            }
            None => {
                tracing::debug!(thing = %self.id, name = reply.name(), "execution timeout: the blocking code keeps its thread until it returns; its result will be dropped");
                reply.timeout(TimeoutKind::Execution);
            }
        }
    }

    /// A queued plain-`fn` action on a blocking worker thread.
    fn invoke_blocking_queued(&self, thing: &mut T, action: &'static ActionDescriptor, job: &Job) {
        let logs = job.ctx.fetch_logs.then(LogBuffer::default);
        let mut run = || match invoke_queued(&mut *thing, action.name, job.args()) {
            Ok(Invocation::Done(result)) => result,
            // A descriptor that calls an `async fn` blocking: run its future here.
            Ok(Invocation::Pending(future)) => {
                let future = AssertUnwindSafe(future).catch_unwind();
                tokio::runtime::Handle::current().block_on(future).unwrap_or_else(|p| Err(panic_error(p)))
            }
            Err(e) => Err(e),
        };
        let result = match &logs {
            Some(buffer) => logs::capture_sync(buffer, run),
            None => run(),
        };
        self.publish_changes(thing);
        let stored = self.to_store(thing, &job.op);
        self.conclude(job, result, logs.as_ref(), stored);
    }

    /// The deadline came before the operation finished.
    fn expired(&self, job: &Job, what: &str) {
        tracing::debug!(thing = %self.id, name = job.name(), "execution timeout: {what}");
        job.reply.timeout(TimeoutKind::Execution);
    }

    /// Answers with the result, unless it came after the deadline (code that did not yield): then the
    /// timeout answers and the result is dropped.
    fn finish_in_time(
        &self,
        job: &Job,
        result: Result<Output, ThingError>,
        logs: Option<&LogBuffer>,
        deadline: Option<Instant>,
    ) {
        if deadline.is_some_and(|d| Instant::now() > d) {
            self.expired(job, "the code returned after the deadline");
        }
        self.finish(job, result, logs);
    }

    fn finish(&self, job: &Job, result: Result<Output, ThingError>, logs: Option<&LogBuffer>) {
        let logs = logs.map(LogBuffer::take);
        answer(&self.id, &job.reply, &job.content_type, result, logs.as_deref());
    }

    /// A property operation that may write.
    fn run_property_op(&self, thing: &mut T, job: &Job) {
        let logs = job.ctx.fetch_logs.then(LogBuffer::default);
        let mut run = || catch_sync(|| self.property_op_mut(&mut *thing, job));
        let result = match &logs {
            Some(buffer) => logs::capture_sync(buffer, run),
            None => run(),
        };
        self.publish_changes(thing);
        let stored = if result.is_ok() || matches!(job.op, Op::WriteMultiple) {
            self.to_store(thing, &job.op)
        } else {
            Vec::new()
        };
        self.conclude(job, result, logs.as_ref(), stored);
    }

    /// The persisted values an operation changed, to be stored before it is answered.
    fn to_store(&self, thing: &T, op: &Op) -> Vec<crate::persist::StoredValue> {
        let Some(store) = &self.store else { return Vec::new() };
        let touched = match op {
            Op::WriteProperty(index) if store.stores(*index) => Touched::One(*index),
            Op::WriteProperty(_) | Op::Invoke(_) => Touched::Fields,
            Op::WriteMultiple => Touched::Many,
            _ => return Vec::new(),
        };
        store.changes(thing, touched)
    }

    /// Answers at once, or once `stored` is durable when there is something to store: a reply never
    /// announces a persisted value a crash could still take back.
    fn conclude(
        &self,
        job: &Job,
        result: Result<Output, ThingError>,
        logs: Option<&LogBuffer>,
        stored: Vec<crate::persist::StoredValue>,
    ) {
        let Some(store) = self.store.as_ref().filter(|_| !stored.is_empty()) else {
            return self.finish(job, result, logs);
        };
        let (id, reply, content_type) = (Arc::clone(&self.id), job.reply.clone(), job.content_type.clone());
        let logs = logs.map(LogBuffer::take);
        store.save(stored, move |saved| {
            let result = match (result, saved) {
                (Ok(_), Err(e)) => Err(e),
                (result, _) => result,
            };
            answer(&id, &reply, &content_type, result, logs.as_deref());
        });
    }

    /// A property operation that only reads.
    fn run_property_op_shared(&self, thing: &T, job: &Job) {
        let logs = job.ctx.fetch_logs.then(LogBuffer::default);
        let run = || catch_sync(|| self.property_op_read(thing, job));
        let result = match &logs {
            Some(buffer) => logs::capture_sync(buffer, run),
            None => run(),
        };
        self.publish_changes(thing);
        self.finish(job, result, logs.as_ref());
    }

    fn property_op_mut(&self, thing: &mut T, job: &Job) -> Result<Output, ThingError> {
        match &job.op {
            Op::WriteProperty(_) => {
                let body = job.reply.body();
                args::with_value_deserializer(body.payload(), &job.content_type, body.preserialized(), |de| {
                    thing.write_property(job.name(), de)
                })?;
                Ok(Output::none(&job.content_type))
            }
            Op::WriteMultiple => {
                self.write_many(thing, job)?;
                Ok(Output::none(&job.content_type))
            }
            _ => self.property_op_read(thing, job),
        }
    }

    fn property_op_read(&self, thing: &T, job: &Job) -> Result<Output, ThingError> {
        let ct = job.content_type.for_reply();
        match &job.op {
            Op::ReadProperty(index) => {
                let hint = self.read_sizes.get(*index);
                let mut payload = Vec::with_capacity(hint.map_or(0, |h| h.load(Ordering::Relaxed)));
                thing.read_property(job.name(), &ct, &mut payload)?;
                if let Some(h) = hint {
                    h.store(payload.len(), Ordering::Relaxed);
                }
                Ok(Output { payload, preserialized: Vec::new() })
            }
            Op::ReadMultiple(names) => self.read_many(thing, names.iter().map(String::as_str), &ct),
            Op::ReadAll => self.read_many(thing, self.descriptor.properties.iter().map(|p| p.name), &ct),
            Op::GetProperties => {
                let (names,) = args::ArgSlots::<(Option<Vec<String>>,)>::new(&["names"]).decode(job.args())?;
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
            Op::WriteProperty(_) | Op::WriteMultiple | Op::Invoke(_) => {
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
    fn write_many(&self, thing: &mut T, job: &Job) -> Result<(), ThingError> {
        // Each value is buffered on its own, so a refused value can never leave the payload half-read.
        let entries = args::with_value_deserializer(job.reply.body().payload(), &job.content_type, &[], |de| {
            erased_serde::deserialize::<args::OrderedEntries>(de)
                .map_err(|e| ThingError::type_error(format!("expected an object of property values: {e}")))
        })?;
        let names = self.descriptor.properties.iter().map(|p| p.name);
        for (name, _) in &entries.0 {
            if self.descriptor.property(name).is_none() {
                return Err(ThingError::key_error(unknown_name("property", name, &self.id, names.clone())));
            }
        }
        if let Some(gate) = &self.gate {
            for (name, _) in &entries.0 {
                gate.check(&self.id, "property", name)?;
            }
        }
        let mut failures = Vec::new();
        for (name, value) in entries.0 {
            let result = match self.descriptor.property(&name) {
                Some((_, p)) if p.read_only => Err(read_only(&name, &self.id)),
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

    /// Publishes a change event for every observable property whose value differs from the last one seen.
    fn publish_changes(&self, thing: &T) {
        let mut observed = self.observed.lock().unwrap_or_else(|p| p.into_inner());
        for (p, slot) in self.descriptor.properties.iter().zip(observed.iter_mut()) {
            let Some(observed) = slot else { continue };
            if observed.poll.is_some() {
                continue;
            }
            let mut now = Vec::new();
            if thing.read_property(p.name, &ContentType::Json, &mut now).is_err() {
                continue;
            }
            if observed.last.as_deref() == Some(&now[..]) {
                continue;
            }
            if let Err(e) = observed.routes.send(observed.sequence, &now, b"") {
                tracing::debug!(thing = %self.id, property = p.name, error = %e, "change event not published");
            }
            observed.sequence += 1;
            observed.last = Some(now);
        }
    }

    fn run_concurrent(self: Arc<Self>, mut job: Job) {
        let span = job.span.clone();
        tokio::spawn(
            async move {
                job.start();
                let Op::Invoke(action) = job.op else { return };
                if self.refused_by_state(&job) {
                    return;
                }
                let deadline = self.limits.execution_timeout(&job).map(|t| Instant::now() + t);
                let logs = job.ctx.fetch_logs.then(LogBuffer::default);
                let run = async {
                    let guard = self.thing.read().await;
                    let thing = &*guard;
                    let invocation = match &logs {
                        Some(buffer) => logs::capture_sync(buffer, || invoke_shared(thing, action.name, job.args())),
                        None => invoke_shared(thing, action.name, job.args()),
                    };
                    let result = run_invocation(invocation, logs.as_ref()).await;
                    drop(guard);
                    self.released.notify_waiters();
                    result
                };
                match until(deadline, run).await {
                    Some(result) => self.finish_in_time(&job, result, logs.as_ref(), deadline),
                    None => {
                        // Whether it waited for the Thing or ran, it is cancelled; let a waiting writer retry.
                        self.released.notify_waiters();
                        self.expired(&job, "action cancelled");
                    }
                }
            }
            .instrument(span),
        );
    }

    fn run_threaded(self: Arc<Self>, mut job: Job) {
        let span = job.span.clone();
        tokio::spawn(
            async move {
                job.start();
                let Op::Invoke(action) = job.op else { return };
                if self.refused_by_state(&job) {
                    return;
                }
                let deadline = self.limits.execution_timeout(&job).map(|t| Instant::now() + t);
                let reply = job.reply.clone();
                let worker = {
                    let this = Arc::clone(&self);
                    let span = tracing::Span::current();
                    tokio::task::spawn_blocking(move || {
                        let _entered = span.enter();
                        let logs = job.ctx.fetch_logs.then(LogBuffer::default);
                        let guard = this.thing.blocking_read();
                        let call = || catch_sync(|| guard.invoke_blocking(action.name, job.args()));
                        let result = match &logs {
                            Some(buffer) => logs::capture_sync(buffer, call),
                            None => call(),
                        };
                        drop(guard);
                        this.released.notify_waiters();
                        this.finish(&job, result, logs.as_ref());
                    })
                };
                match until(deadline, worker).await {
                    Some(Ok(())) => {}
                    Some(Err(e)) => reply.error(
                        ErrorClass::Failed,
                        &ThingError::runtime(format!("the worker thread failed: {e}")),
                        None,
                    ),
                    None => {
                        // Blocking code cannot be stopped: its late result is dropped.
                        tracing::debug!(thing = %self.id, name = action.name, "execution timeout: threaded action left to finish, its result will be dropped");
                        reply.timeout(TimeoutKind::Execution);
                    }
                }
            }
            .instrument(span),
        );
    }

    fn enqueue(&self, mut job: Job) {
        let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let Some(tx) = queue.as_ref() else {
            let err = ThingError::runtime("the server is shutting down; the request was not run");
            job.reply.error(ErrorClass::Unavailable, &err, None);
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
            job.reply.error(ErrorClass::Busy, &err, None);
            return;
        }
        if let Some(timeout) = self.limits.invocation_timeout(&job) {
            let state = Arc::new(AtomicU8::new(QUEUED));
            let reply = job.reply.clone();
            let timer_state = Arc::clone(&state);
            let timer = tokio::spawn(async move {
                tokio::time::sleep(timeout).await;
                if timer_state.compare_exchange(QUEUED, TIMED_OUT, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                    reply.timeout(TimeoutKind::Invocation);
                }
            });
            job.state = Some(state);
            job.timer = Some(timer.abort_handle());
        }
        self.pending.fetch_add(1, Ordering::AcqRel);
        if let Err(mpsc::error::SendError(Work::Job(job))) = tx.send(Work::Job(job)) {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            let err = ThingError::runtime("the Thing's queue has stopped; the request was not run");
            job.reply.error(ErrorClass::Unavailable, &err, None);
        }
    }
}

impl<T: Thing> Runner for Scheduler<T> {
    fn thing_id(&self) -> &Arc<str> {
        &self.id
    }

    fn descriptor(&self) -> &'static ThingDescriptor {
        self.descriptor
    }

    fn submit(self: Arc<Self>, job: Job) {
        match job.op {
            Op::Invoke(action) if action.mode == ExecutionMode::Concurrent => self.run_concurrent(job),
            Op::Invoke(action) if action.mode == ExecutionMode::Threaded => self.run_threaded(job),
            _ if job.op.is_property_op()
                && self.pending.load(Ordering::Acquire) == 0
                && !(self.runs_code(&job.op) && self.limits.execution_timeout(&job).is_some()) =>
            {
                // The queue is idle and nothing can block: run here, in arrival order, without a task hop.
                if let Ok(mut guard) = self.thing.try_write() {
                    let _entered = job.span.enter();
                    if job.op.mutates() {
                        self.run_property_op(&mut guard, &job);
                    } else {
                        self.run_property_op_shared(&guard, &job);
                    }
                    return;
                }
                self.enqueue(job);
            }
            _ => self.enqueue(job),
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

/// Sends an operation's answer.
fn answer(
    thing_id: &str,
    reply: &Responder,
    content_type: &ContentType,
    result: Result<Output, ThingError>,
    logs: Option<&[String]>,
) {
    match result {
        Ok(output) => reply.value(&content_type.for_reply(), output, logs),
        Err(error) => {
            tracing::debug!(thing = %thing_id, name = reply.name(), %error, "operation failed");
            reply.error(ErrorClass::Failed, &error, logs);
        }
    }
}

/// Runs a started invocation to its end, turning a panic in its future into an error.
async fn run_invocation(
    invocation: Result<Invocation<'_>, ThingError>,
    logs: Option<&LogBuffer>,
) -> Result<Output, ThingError> {
    match invocation {
        Err(e) => Err(e),
        Ok(Invocation::Done(result)) => result,
        Ok(Invocation::Pending(future)) => {
            let future = AssertUnwindSafe(future).catch_unwind();
            let future = async move { future.await.unwrap_or_else(|p| Err(panic_error(p))) };
            match logs {
                Some(buffer) => logs::Captured::new(future, buffer.clone()).await,
                None => future.await,
            }
        }
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

/// "property `x` of `thing` is read-only".
pub(crate) fn read_only(name: &str, thing_id: &str) -> ThingError {
    ThingError::attribute_error(format!("property `{name}` of `{thing_id}` is read-only"))
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
