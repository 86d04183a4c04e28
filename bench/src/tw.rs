//! thingwire workloads: property reads and writes and an echo action, driven by the runtime's client the way
//! a user drives a Thing (one handle; cloned handles on tasks for many requests in flight).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::Serialize;
use thingwire::{Bytes, Client, ClientError, ThingHandle};

use crate::stats::{Budget, Outcome, Samples};

/// Connects a client as a user would: packed `f64` arrays and compact headers on, unless
/// `THINGWIRE_BENCH_PACKED=0` asks for the plain msgpack that hololinked peers use, or
/// `THINGWIRE_BENCH_COMPACT=0` for hololinked's JSON headers.
pub async fn connect(address: &str) -> Result<Client, ClientError> {
    connect_in(address, None).await
}

/// [`connect`] with the client's socket in `context` (`None`: the runtime's shared one). libzmq caps the sockets
/// of one context (`ZMQ_MAX_SOCKETS`, 1023 by default), and each client takes three of them.
pub async fn connect_in(address: &str, context: Option<zmq::Context>) -> Result<Client, ClientError> {
    let on = |var: &str| std::env::var(var).map_or(true, |v| v != "0");
    let (packed_arrays, compact_headers) = (on("THINGWIRE_BENCH_PACKED"), on("THINGWIRE_BENCH_COMPACT"));
    let options = thingwire::ConnectOptions { packed_arrays, compact_headers, context, ..Default::default() };
    Client::connect_with(address, options).await
}

/// The payload's Rust type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Data {
    /// `Vec<f64>`: msgpack array of floats.
    F64,
    /// `thingwire::Bytes`: msgpack bin, or the preserialized frame for actions.
    Bytes,
}

impl Data {
    pub fn name(self) -> &'static str {
        match self {
            Data::F64 => "Vec<f64>",
            Data::Bytes => "bytes",
        }
    }
}

/// The operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Read,
    Write,
    Echo,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Read, Kind::Write, Kind::Echo];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Read => "readproperty",
            Kind::Write => "writeproperty",
            Kind::Echo => "invokeaction echo",
        }
    }
}

/// One workload with its prepared payload.
#[derive(Debug, Clone)]
pub struct Workload {
    pub kind: Kind,
    pub data: Data,
    pub size: usize,
    floats: Arc<Vec<f64>>,
    bytes: Arc<Bytes>,
}

#[derive(Serialize)]
struct EchoArgs<'a> {
    values: &'a [f64],
}

#[derive(Serialize)]
struct EchoBytesArgs<'a> {
    data: &'a Bytes,
}

impl Workload {
    pub fn new(kind: Kind, data: Data, size: usize) -> Self {
        let floats = (0..size / 8).map(|i| i as f64 * 0.5).collect();
        let bytes = Bytes((0..size).map(|i| (i * 31) as u8).collect());
        Self { kind, data, size, floats: Arc::new(floats), bytes: Arc::new(bytes) }
    }

    fn property(&self) -> &'static str {
        match self.data {
            Data::F64 => "values",
            Data::Bytes => "blob",
        }
    }

    /// Sets the property to this workload's payload, so that reads return `size` bytes of data.
    pub async fn prepare(&self, handle: &ThingHandle) -> Result<(), ClientError> {
        match self.data {
            Data::F64 => handle.write(self.property(), &*self.floats).await,
            Data::Bytes => handle.write(self.property(), &*self.bytes).await,
        }
    }

    /// One operation; checks the size of what came back.
    pub async fn run(&self, handle: &ThingHandle) -> Result<(), String> {
        let got = match (self.kind, self.data) {
            (Kind::Read, Data::F64) => handle.read::<Vec<f64>>("values").await.map(|v| v.len() * 8),
            (Kind::Read, Data::Bytes) => handle.read::<Bytes>("blob").await.map(|v| v.len()),
            (Kind::Write, Data::F64) => handle.write("values", &*self.floats).await.map(|()| self.size),
            (Kind::Write, Data::Bytes) => handle.write("blob", &*self.bytes).await.map(|()| self.size),
            (Kind::Echo, Data::F64) => {
                handle.invoke::<Vec<f64>, _>("echo", &EchoArgs { values: &self.floats }).await.map(|v| v.len() * 8)
            }
            (Kind::Echo, Data::Bytes) => {
                handle.invoke::<Bytes, _>("echo_bytes", &EchoBytesArgs { data: &self.bytes }).await.map(|v| v.len())
            }
        };
        match got {
            Ok(n) if n == self.size => Ok(()),
            Ok(n) => Err(format!(
                "{} of {} returned {n} bytes of data, expected {}",
                self.kind.name(),
                self.data.name(),
                self.size
            )),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Something to time: one operation on a handle.
pub trait Op: Clone + Send + Sync + 'static {
    fn call(&self, handle: &ThingHandle) -> impl std::future::Future<Output = Result<(), String>> + Send;
}

impl Op for Arc<Workload> {
    fn call(&self, handle: &ThingHandle) -> impl std::future::Future<Output = Result<(), String>> + Send {
        self.run(handle)
    }
}

async fn warm_up<O: Op>(op: &O, handle: &ThingHandle, n: u64) -> Result<(), String> {
    for _ in 0..n {
        op.call(handle).await?;
    }
    Ok(())
}

/// Runs operations from one task until `issued` reaches the cap or the deadline passes.
async fn worker<O: Op>(op: O, handle: ThingHandle, issued: Arc<AtomicU64>, max: u64, deadline: Instant) -> Outcome {
    let mut out = Outcome { samples: Samples::with_capacity(1024), ..Default::default() };
    let start = Instant::now();
    while issued.fetch_add(1, Ordering::Relaxed) < max && Instant::now() < deadline {
        let t = Instant::now();
        match op.call(&handle).await {
            Ok(()) => out.samples.push(t.elapsed()),
            Err(e) => {
                out.errors += 1;
                out.first_error.get_or_insert(e);
                if out.errors > 10 {
                    break;
                }
            }
        }
    }
    out.elapsed = start.elapsed();
    out
}

/// One request in flight.
pub async fn sequential<O: Op>(op: &O, handle: &ThingHandle, budget: Budget) -> Outcome {
    if let Err(e) = warm_up(op, handle, budget.warmup_ops).await {
        return Outcome { errors: 1, first_error: Some(e), ..Default::default() };
    }
    let mut out =
        worker(op.clone(), handle.clone(), Arc::new(AtomicU64::new(0)), budget.max_ops, budget.deadline()).await;
    out.warmup = budget.warmup_ops;
    out
}

/// `in_flight` requests at once on one connection: that many tasks, each with a clone of the handle.
pub async fn pipelined<O: Op>(op: &O, handle: &ThingHandle, budget: Budget, in_flight: usize) -> Outcome {
    if let Err(e) = warm_up(op, handle, budget.warmup_ops).await {
        return Outcome { errors: 1, first_error: Some(e), ..Default::default() };
    }
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = budget.deadline();
    let tasks: Vec<_> = (0..in_flight)
        .map(|_| tokio::spawn(worker(op.clone(), handle.clone(), Arc::clone(&issued), budget.max_ops, deadline)))
        .collect();
    let mut out = join(tasks).await;
    out.elapsed = start.elapsed();
    out.warmup = budget.warmup_ops;
    out
}

/// `connections` clients, one request in flight on each.
pub async fn multi_connection<O: Op>(
    op: &O,
    address: &str,
    thing_id: &str,
    budget: Budget,
    connections: usize,
) -> Outcome {
    let mut handles = Vec::new();
    for _ in 0..connections {
        match connect(address).await {
            Ok(c) => handles.push(ThingHandle::new(c, thing_id)),
            Err(e) => return Outcome { errors: 1, first_error: Some(e.to_string()), ..Default::default() },
        }
    }
    let mut out = on_handles(op, handles, budget).await;
    // Each connection's handshake is one more request.
    out.warmup += connections as u64;
    out
}

/// One request in flight on each of `handles` (one per connection, already connected).
pub async fn on_handles<O: Op>(op: &O, handles: Vec<ThingHandle>, budget: Budget) -> Outcome {
    let connections = handles.len().max(1);
    let per = budget.warmup_ops.div_ceil(connections as u64);
    for h in &handles {
        if let Err(e) = warm_up(op, h, per).await {
            return Outcome { errors: 1, first_error: Some(e), ..Default::default() };
        }
    }
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = budget.deadline();
    let tasks: Vec<_> = handles
        .into_iter()
        .map(|h| tokio::spawn(worker(op.clone(), h, Arc::clone(&issued), budget.max_ops, deadline)))
        .collect();
    let mut out = join(tasks).await;
    out.elapsed = start.elapsed();
    out.warmup = per * connections as u64;
    out
}

async fn join(tasks: Vec<tokio::task::JoinHandle<Outcome>>) -> Outcome {
    let mut out = Outcome::default();
    for t in tasks {
        match t.await {
            Ok(o) => out.merge(o),
            Err(e) => {
                out.errors += 1;
                out.first_error.get_or_insert(e.to_string());
            }
        }
    }
    out
}

/// A closure-free [`Op`] for the hololinked-comparable operations on `gain` and `add`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GainOp {
    Read,
    Write,
    Add,
}

impl GainOp {
    pub const ALL: [GainOp; 3] = [GainOp::Read, GainOp::Write, GainOp::Add];

    pub fn name(self) -> &'static str {
        match self {
            GainOp::Read => "readproperty gain",
            GainOp::Write => "writeproperty gain",
            GainOp::Add => "invokeaction add",
        }
    }
}

#[derive(Serialize)]
struct AddArgs {
    a: f64,
    b: f64,
}

impl Op for GainOp {
    async fn call(&self, handle: &ThingHandle) -> Result<(), String> {
        match self {
            GainOp::Read => match handle.read::<f64>("gain").await {
                Ok(g) if (0.1..=100.0).contains(&g) => Ok(()),
                Ok(g) => Err(format!("gain read as {g}")),
                Err(e) => Err(e.to_string()),
            },
            GainOp::Write => handle.write("gain", &2.0f64).await.map_err(|e| e.to_string()),
            GainOp::Add => match handle.invoke::<f64, _>("add", &AddArgs { a: 1.0, b: 2.0 }).await {
                Ok(3.0) => Ok(()),
                Ok(s) => Err(format!("add returned {s}")),
                Err(e) => Err(e.to_string()),
            },
        }
    }
}
