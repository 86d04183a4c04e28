//! `--only scale` (issue 19, point 3): how a thingwire server holds up as its load grows, each curve in one run.
//!
//! The server runs in its own process (`thingwire-bench --serve thingwire --transport tcp`), so that its RSS
//! and CPU time are its own; the clients run in this process, over loopback TCP. Five parts:
//!
//! 1. **connections**: a 64 B `Vec<f64>` property read, N client connections with one request in flight on
//!    each, N = 1, 8, 64, 512, 1024 (the connections are opened once and reused as N grows); throughput, p99,
//!    and the server's CPU per read. Target: throughput with 1024 connections ≥ 70 % of that with 8.
//! 2. **Things**: servers with 1, 100 and 1000 bench Things, reads spread round robin over them, 64 in flight
//!    on one connection.
//! 3. **memory**: the server's RSS idle with 1 Thing and no connection, with 1024 idle connections, and idle
//!    with 1000 Things. Targets: ≤ 20 KiB per idle connection, ≤ 10 KiB per Thing beyond the first.
//! 4. **slow client**: 63 fast connections (one read in flight each) with and without one more connection,
//!    a raw DEALER that sends reads at a fast connection's pace but reads its replies 100 × slower; in
//!    alternating rounds. Target: the fast connections' throughput drops by at most 10 %.
//! 5. **burst**: 10 000 callers of a queued action (`add`) at once on 20 connections, each calling again as soon
//!    as it is answered, for a few seconds, against a server whose queue holds 1000 (`max_queue_length`): the
//!    replies counted by kind (value, the documented busy `EXCEPTION`s), a new client's handshake timed while
//!    the burst is under way, and the server's RSS before, at the peak, and after.
//!
//! libzmq caps the sockets of one context (`ZMQ_MAX_SOCKETS`, 1023 by default; the zmq crate cannot change
//! it) and each `Client` takes three (its DEALER, and the two ends of its socket monitor), so the connections
//! part spreads its clients over contexts of [`CLIENTS_PER_CONTEXT`].

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use thingwire::protocol::{OutgoingRequestHeader, OutgoingServerContext, OutgoingThingContext};
use thingwire::{Client, ThingHandle};

use crate::child::{self, ServerProcess};
use crate::gateway::Spread;
use crate::stats::{Budget, Outcome};
use crate::tw::{self, Data, GainOp, Kind, Op, Workload};

/// Client connections of the connections curve.
const CONNECTIONS: [usize; 5] = [1, 8, 64, 512, 1024];
/// Served Things of the Things curve.
const THINGS: [usize; 3] = [1, 100, 1000];
/// Clients per ZeroMQ context: 3 sockets each, under libzmq's default 1023 sockets per context.
pub const CLIENTS_PER_CONTEXT: usize = 256;
/// Fast connections beside the slow one.
const FAST: usize = 63;
/// How much slower the slow client reads its replies than a fast connection gets them.
const SLOWER: f64 = 100.0;
/// Requests in the burst, the connections they come from, and the burst server's queue limit.
const BURST: usize = 10_000;
const BURST_CONNECTIONS: usize = 20;
const BURST_QUEUE: usize = 1000;

/// One point of a curve.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// Connections (the connections curve) or served Things (the Things curve).
    pub x: usize,
    pub ops: u64,
    pub errors: u64,
    pub secs: f64,
    pub ops_per_sec: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    /// CPU the server process spent per read (warm-up included).
    pub server_cpu_us_per_op: f64,
    /// CPU this process (the clients) spent per read.
    pub client_cpu_us_per_op: f64,
    /// Time to open the connections added for this point (connections curve), or to start the server (Things
    /// curve), in milliseconds.
    pub setup_ms: f64,
}

/// Idle memory of the server, KiB.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Rss {
    /// 1 Thing, no connection.
    pub idle_kib: u64,
    /// 1 Thing, 1024 idle connections (each has done its handshake).
    pub idle_connections_kib: u64,
    pub connections: usize,
    /// After those connections closed again.
    pub after_close_kib: u64,
    /// The same number of connections opened and closed a second time: with them, and after.
    pub again_connections_kib: u64,
    pub again_after_close_kib: u64,
    /// The server's CPU while the connections were idle (ZMTP heartbeats), % of one core.
    pub idle_connections_cpu_percent: f64,
    /// 1000 Things, no connection.
    pub idle_things_kib: u64,
    pub things: usize,
    pub per_connection_kib: f64,
    /// The same for the raw tmq ROUTER echo server (libzmq alone): its RSS per idle DEALER connection.
    pub raw_per_connection_kib: Option<f64>,
    /// The raw echo server's RSS: before, with the connections, after they closed, with them again, after again.
    pub raw_cycles_kib: Vec<u64>,
    pub per_thing_kib: f64,
    /// Open file descriptors with all the connections up: this process (the clients) and the server.
    pub client_fds: usize,
    pub server_fds: usize,
    /// `RLIMIT_NOFILE` (soft) of this process, which the server inherits.
    pub fd_limit: Option<u64>,
}

/// The slow client's rounds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Slow {
    /// The fast connections' throughput without and with the slow one, each round.
    pub without_ops_per_sec: Vec<f64>,
    pub with_ops_per_sec: Vec<f64>,
    pub without_p99_us: Vec<f64>,
    pub with_p99_us: Vec<f64>,
    /// with ÷ without, medians.
    pub ratio: f64,
    /// The slow client's pace: one request every `send_interval_us`, one reply read every `read_interval_us`.
    pub send_interval_us: f64,
    pub read_interval_us: f64,
    /// Requests it sent and replies it read, over all rounds.
    pub slow_sent: u64,
    pub slow_read: u64,
    /// The server's RSS at the end of the last round with the slow client (its unread replies are queued
    /// somewhere between the server and it).
    pub server_rss_kib: u64,
}

/// The burst.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Burst {
    /// Callers at once (each with one call in flight).
    pub requests: usize,
    pub connections: usize,
    pub max_queue_length: usize,
    /// Replies with the value, over the whole burst.
    pub ok: u64,
    /// `EXCEPTION` "the server is busy: the queue of … holds …".
    pub busy_queue: u64,
    /// `EXCEPTION` "client … has N requests in flight (limit N) …".
    pub busy_in_flight: u64,
    /// Client-side timeouts (no reply within the client's 10 s).
    pub timeouts: u64,
    /// Anything else.
    pub other: u64,
    /// The first message of each kind of refusal, as the client saw it.
    pub messages: Vec<String>,
    pub secs: f64,
    /// A new client's connect + handshake a third into the burst, and whether it finished before the burst did.
    pub handshake_ms: Option<f64>,
    pub handshake_during_burst: bool,
    pub rss_before_kib: u64,
    pub rss_peak_kib: u64,
    pub rss_after_kib: u64,
}

/// Everything the section measured, and its report lines.
#[derive(Debug, Default, Serialize)]
pub struct Scale {
    pub connections: Vec<Point>,
    pub things: Vec<Point>,
    pub rss: Rss,
    pub slow: Option<Slow>,
    pub burst: Option<Burst>,
    pub lines: Vec<String>,
    pub problems: Vec<String>,
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A bench server with `things` Things over TCP in its own process.
async fn start(dir: &Path, things: usize, max_queue: Option<usize>) -> Result<ServerProcess, String> {
    let dir = dir.to_owned();
    let mut extra = vec!["--things".to_owned(), things.to_string()];
    if let Some(q) = max_queue {
        extra.extend(["--max-queue".to_owned(), q.to_string()]);
    }
    tokio::task::spawn_blocking(move || child::self_server("thingwire", "tcp", &dir, &extra))
        .await
        .map_err(|e| e.to_string())?
}

/// Lets a server that just started (or just lost its connections) settle before its RSS is read.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(500)).await;
}

/// Client connections to one server, opened in parallel batches, spread over ZeroMQ contexts.
struct Pool {
    address: String,
    contexts: Vec<zmq::Context>,
    clients: Vec<Client>,
}

impl Pool {
    fn new(address: &str) -> Self {
        Self { address: address.to_owned(), contexts: Vec::new(), clients: Vec::new() }
    }

    /// Opens connections until there are `n`.
    async fn grow(&mut self, n: usize) -> Result<(), String> {
        while self.clients.len() < n {
            let batch = (n - self.clients.len()).min(64);
            let first = self.clients.len();
            let connects: Vec<_> = (first..first + batch)
                .map(|i| {
                    let context = self.context(i);
                    let address = self.address.clone();
                    tokio::spawn(async move { tw::connect_in(&address, Some(context)).await })
                })
                .collect();
            for c in connects {
                let client = c.await.map_err(|e| e.to_string())?;
                self.clients.push(client.map_err(|e| format!("connection {} of {n}: {e}", self.clients.len() + 1))?);
            }
        }
        Ok(())
    }

    fn context(&mut self, i: usize) -> zmq::Context {
        let k = i / CLIENTS_PER_CONTEXT;
        while self.contexts.len() <= k {
            self.contexts.push(zmq::Context::new());
        }
        self.contexts[k].clone()
    }

    fn handles(&self, n: usize) -> Vec<ThingHandle> {
        self.clients[..n].iter().map(|c| ThingHandle::new(c.clone(), "bench")).collect()
    }
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

fn fd_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Runs `work` and turns its outcome into a point, with the CPU both processes spent on it.
async fn point<F: Future<Output = Outcome>>(x: usize, server: &ServerProcess, setup: Duration, work: F) -> Point {
    let me = std::process::id();
    let (s0, c0) = (server.cpu(), child::cpu_time(me));
    let out = work.await;
    let (s1, c1) = (server.cpu(), child::cpu_time(me));
    let all = (out.ops() + out.warmup).max(1) as f64;
    let secs = out.elapsed.as_secs_f64();
    let ok = out.samples.len() as f64;
    let (ops, errors) = (out.ops(), out.errors);
    let latency = out.samples.summary();
    Point {
        x,
        ops,
        errors,
        secs,
        ops_per_sec: if secs > 0.0 { ok / secs } else { 0.0 },
        p50_us: latency.p50_us,
        p99_us: latency.p99_us,
        server_cpu_us_per_op: s1.saturating_sub(s0).as_secs_f64() * 1e6 / all,
        client_cpu_us_per_op: c1.saturating_sub(c0).as_secs_f64() * 1e6 / all,
        setup_ms: ms(setup),
    }
}

fn point_line(label: &str, p: &Point) -> String {
    format!(
        "    {label:<16} {:>9.0} op/s  p50 {:>9.1} µs  p99 {:>9.1} µs  server {:>5.2} µs/op  clients {:>5.2} µs/op  \
         (set-up {:.0} ms){}",
        p.ops_per_sec,
        p.p50_us,
        p.p99_us,
        p.server_cpu_us_per_op,
        p.client_cpu_us_per_op,
        p.setup_ms,
        if p.errors > 0 { format!("  {} errors", p.errors) } else { String::new() }
    )
}

/// Runs the section. Each part that fails is reported in `problems`; the others still run.
pub async fn section(quick: bool, dir: &Path) -> Scale {
    let time = if quick { Duration::from_millis(300) } else { Duration::from_secs(2) };
    let budget = Budget { max_ops: u64::MAX, time, warmup_ops: if quick { 100 } else { 500 } };
    let mut scale = Scale::default();
    push(&mut scale, format!("  readproperty Vec<f64> 64 B over tcp, {time:?} per point"));
    if let Err(e) = connections(&mut scale, budget, dir).await {
        scale.problems.push(format!("connections: {e}"));
    }
    if let Err(e) = things(&mut scale, budget, dir).await {
        scale.problems.push(format!("Things: {e}"));
    }
    if let Err(e) = idle_memory(&mut scale, dir).await {
        scale.problems.push(format!("memory: {e}"));
    }
    let rounds = if quick { 2 } else { 3 };
    if let Err(e) = slow_client(&mut scale, budget, rounds, dir).await {
        scale.problems.push(format!("slow client: {e}"));
    }
    let window = if quick { Duration::from_secs(1) } else { Duration::from_secs(3) };
    if let Err(e) = burst(&mut scale, window, dir).await {
        scale.problems.push(format!("burst: {e}"));
    }
    for p in &scale.problems {
        eprintln!("  ! scale: {p}");
    }
    scale
}

fn push(scale: &mut Scale, line: String) {
    println!("{line}");
    scale.lines.push(line);
}

/// Part 1: throughput and p99 against the number of connections.
async fn connections(scale: &mut Scale, budget: Budget, dir: &Path) -> Result<(), String> {
    let server = start(dir, 1, None).await?;
    let workload = Arc::new(Workload::new(Kind::Read, Data::F64, 64));
    let mut pool = Pool::new(&server.address);
    push(scale, "  connections (one read in flight on each; the connections stay open as their number grows)".into());
    for n in CONNECTIONS {
        let started = Instant::now();
        pool.grow(n).await?;
        let setup = started.elapsed();
        let handles = pool.handles(n);
        let p = point(n, &server, setup, tw::on_handles(&workload, handles, budget)).await;
        push(scale, point_line(&format!("{n} connections"), &p));
        scale.connections.push(p);
    }
    scale.rss.client_fds = open_fds(std::process::id());
    scale.rss.server_fds = open_fds(server.pid());
    scale.rss.fd_limit = fd_limit();
    drop(pool);
    let at = |n: usize| scale.connections.iter().find(|p| p.x == n).map(|p| p.ops_per_sec);
    if let (Some(r8), Some(r1024)) = (at(8), at(1024)) {
        let ratio = r1024 / r8;
        push(
            scale,
            format!(
                "    1024 connections: {:.0} % of the throughput with 8 (target ≥ 70 %: {})",
                100.0 * ratio,
                verdict(ratio >= 0.7)
            ),
        );
    }
    push(
        scale,
        format!(
            "    open fds with 1024 connections: {} here (the clients), {} in the server; RLIMIT_NOFILE {}",
            scale.rss.client_fds,
            scale.rss.server_fds,
            scale.rss.fd_limit.map_or("unknown".into(), |l| l.to_string())
        ),
    );
    Ok(())
}

/// Part 2: throughput and p99 against the number of served Things; records their idle RSS for part 3.
async fn things(scale: &mut Scale, budget: Budget, dir: &Path) -> Result<(), String> {
    let workload = Arc::new(Workload::new(Kind::Read, Data::F64, 64));
    push(scale, "  Things (reads spread round robin over them, 64 in flight on one connection)".into());
    for count in THINGS {
        let started = Instant::now();
        let server = start(dir, count, None).await?;
        let setup = started.elapsed();
        settle().await;
        let idle = server.memory();
        if count == 1 {
            scale.rss.idle_kib = idle.rss_kib;
        } else if count == *THINGS.last().unwrap_or(&count) {
            scale.rss.idle_things_kib = idle.rss_kib;
            scale.rss.things = count;
        }
        let client = tw::connect(&server.address).await.map_err(|e| e.to_string())?;
        let handles: Vec<ThingHandle> =
            (0..count).map(|i| ThingHandle::new(client.clone(), &crate::thing_id(i))).collect();
        let first = handles[0].clone();
        let op = Spread { handles: Arc::new(handles), next: Arc::default(), workload: Arc::clone(&workload) };
        let p = point(count, &server, setup, tw::pipelined(&op, &first, budget, 64)).await;
        push(
            scale,
            format!("{}  idle RSS {:.1} MiB", point_line(&format!("{count} Things"), &p), idle.rss_kib as f64 / 1024.0),
        );
        scale.things.push(p);
    }
    Ok(())
}

/// The raw echo server (libzmq alone) with `n` plain DEALERs (one echo each), opened and closed twice: its RSS
/// before, with them, after, with them again, after again (KiB).
async fn raw_cycles(dir: &Path, n: usize) -> Result<[u64; 5], String> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        let server = child::self_server("raw", "tcp", &dir, &[])?;
        std::thread::sleep(Duration::from_millis(500));
        let mut rss = [server.memory().rss_kib, 0, 0, 0, 0];
        for cycle in 0..2 {
            let contexts: Vec<zmq::Context> = (0..n.div_ceil(512)).map(|_| zmq::Context::new()).collect();
            let mut sockets = Vec::with_capacity(n);
            for i in 0..n {
                let s = contexts[i / 512].socket(zmq::DEALER).map_err(|e| e.to_string())?;
                s.set_linger(0).map_err(|e| e.to_string())?;
                s.set_rcvtimeo(5000).map_err(|e| e.to_string())?;
                s.connect(&server.address).map_err(|e| e.to_string())?;
                s.send("hello", 0).map_err(|e| e.to_string())?;
                s.recv_bytes(0).map_err(|e| format!("raw echo connection {}: {e}", i + 1))?;
                sockets.push(s);
            }
            std::thread::sleep(Duration::from_millis(500));
            rss[1 + 2 * cycle] = server.memory().rss_kib;
            drop(sockets);
            drop(contexts);
            std::thread::sleep(Duration::from_millis(1000));
            rss[2 + 2 * cycle] = server.memory().rss_kib;
        }
        Ok(rss)
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Part 3: RSS per idle connection (a fresh server) and per Thing (from part 2).
async fn idle_memory(scale: &mut Scale, dir: &Path) -> Result<(), String> {
    let n = *CONNECTIONS.last().unwrap_or(&1024);
    let server = start(dir, 1, None).await?;
    settle().await;
    let before = server.memory();
    let fds_before = open_fds(server.pid());
    let mut pool = Pool::new(&server.address);
    pool.grow(n).await?;
    settle().await;
    let cpu0 = server.cpu();
    let window = Instant::now();
    settle().await;
    let idle_cpu = server.cpu().saturating_sub(cpu0).as_secs_f64() / window.elapsed().as_secs_f64();
    let with = server.memory();
    let fds_with = open_fds(server.pid());
    drop(pool);
    // Until the server has closed its side of every connection (bounded), then a moment more.
    let closing = Instant::now();
    while open_fds(server.pid()) > fds_before + 8 && closing.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let closed_in = closing.elapsed();
    settle().await;
    let after = server.memory();
    let fds_after = open_fds(server.pid());
    // Again: memory the allocator kept is reused (RSS stays), memory leaked per connection adds up (RSS grows).
    let mut again = Pool::new(&server.address);
    again.grow(n).await?;
    settle().await;
    let with_again = server.memory();
    drop(again);
    let closing = Instant::now();
    while open_fds(server.pid()) > fds_before + 8 && closing.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    settle().await;
    let after_again = server.memory();
    let rss = &mut scale.rss;
    rss.again_connections_kib = with_again.rss_kib;
    rss.again_after_close_kib = after_again.rss_kib;
    rss.connections = n;
    rss.idle_connections_kib = with.rss_kib;
    rss.after_close_kib = after.rss_kib;
    rss.idle_connections_cpu_percent = 100.0 * idle_cpu;
    rss.per_connection_kib = with.rss_kib.saturating_sub(before.rss_kib) as f64 / n as f64;
    if rss.things > 1 && rss.idle_kib > 0 {
        rss.per_thing_kib = rss.idle_things_kib.saturating_sub(rss.idle_kib) as f64 / (rss.things - 1) as f64;
    }
    match raw_cycles(dir, n).await {
        Ok(r) => {
            scale.rss.raw_per_connection_kib = Some(r[1].saturating_sub(r[0]) as f64 / n as f64);
            scale.rss.raw_cycles_kib = r.to_vec();
        }
        Err(e) => scale.problems.push(format!("memory: the raw echo server with {n} connections: {e}")),
    }
    let rss = scale.rss.clone();
    let mib = |k: u64| k as f64 / 1024.0;
    push(scale, "  idle server memory (RSS)".into());
    push(
        scale,
        format!(
            "    1 Thing, no connection {:.1} MiB; {n} idle connections {:.1} MiB (fresh server: {:.1} MiB before); \
             after they closed {:.1} MiB (server fds {fds_before} → {} → {fds_after} in {:.0} ms)",
            mib(rss.idle_kib),
            mib(with.rss_kib),
            mib(before.rss_kib),
            mib(after.rss_kib),
            fds_with,
            ms(closed_in)
        ),
    );
    push(
        scale,
        format!(
            "    {n} connections opened and closed again: {:.1} MiB with them, {:.1} MiB after",
            mib(rss.again_connections_kib),
            mib(rss.again_after_close_kib)
        ),
    );
    if let [b, w, a, w2, a2] = rss.raw_cycles_kib[..] {
        push(
            scale,
            format!(
                "    the raw tmq ROUTER echo server, the same twice: {:.1} → {:.1} → {:.1} MiB, again {:.1} → {:.1} MiB",
                mib(b),
                mib(w),
                mib(a),
                mib(w2),
                mib(a2)
            ),
        );
    }
    push(
        scale,
        format!(
            "    per idle connection {:.1} KiB (target ≤ 20 KiB: {}; the raw tmq ROUTER, libzmq alone: {}); server CPU \
             with them idle {:.1} % of a core",
            rss.per_connection_kib,
            verdict(rss.per_connection_kib <= 20.0),
            rss.raw_per_connection_kib.map_or("not measured".into(), |k| format!("{k:.1} KiB")),
            rss.idle_connections_cpu_percent
        ),
    );
    if rss.things > 1 {
        push(
            scale,
            format!(
                "    {} Things {:.1} MiB: per Thing beyond the first {:.1} KiB (target ≤ 10 KiB: {})",
                rss.things,
                mib(rss.idle_things_kib),
                rss.per_thing_kib,
                verdict(rss.per_thing_kib <= 10.0)
            ),
        );
    }
    Ok(())
}

/// A raw DEALER that sends reads at one pace and reads its replies at a slower one, until `deadline`.
/// Returns (sent, read).
fn slow_reader(
    address: &str,
    send_every: Duration,
    read_every: Duration,
    deadline: Instant,
) -> Result<(u64, u64), String> {
    let ctx = thingwire::transport::context();
    let socket = ctx.socket(zmq::DEALER).map_err(|e| e.to_string())?;
    let id = format!("slow-reader|{}", std::process::id());
    socket.set_identity(id.as_bytes()).map_err(|e| e.to_string())?;
    socket.set_linger(0).map_err(|e| e.to_string())?;
    socket.set_rcvhwm(100_000).map_err(|e| e.to_string())?;
    socket.set_sndhwm(100_000).map_err(|e| e.to_string())?;
    socket.connect(address).map_err(|e| e.to_string())?;
    let (mut sent, mut read) = (0u64, 0u64);
    let start = Instant::now();
    let (mut next_send, mut next_read) = (start, start + read_every);
    while Instant::now() < deadline {
        let now = Instant::now();
        if now >= next_send {
            let message_id = format!("slow-{sent}");
            let header = OutgoingRequestHeader {
                message_type: "OPERATION",
                message_id: &message_id,
                sender_id: &id,
                receiver_id: "",
                server_execution_context: OutgoingServerContext::default(),
                thing_execution_context: OutgoingThingContext::default(),
                thing_id: "bench",
                objekt: Some("values"),
                operation: "readproperty",
                payload_content_type: "application/json",
                preencoded_payload_content_type: "text/plain",
            }
            .encode();
            let frames: [&[u8]; 4] = [b"", &header, b"null", b""];
            if socket.send_multipart(frames, zmq::DONTWAIT).is_ok() {
                sent += 1;
            }
            next_send += send_every;
        }
        if now >= next_read {
            if socket.recv_multipart(zmq::DONTWAIT).is_ok() {
                read += 1;
            }
            next_read += read_every;
        }
        let wake = next_send.min(next_read).min(deadline);
        if let Some(wait) = wake.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    Ok((sent, read))
}

/// Part 4: 63 fast connections with and without one slow reader, alternating.
async fn slow_client(scale: &mut Scale, budget: Budget, rounds: usize, dir: &Path) -> Result<(), String> {
    let server = start(dir, 1, None).await?;
    let workload = Arc::new(Workload::new(Kind::Read, Data::F64, 64));
    let mut pool = Pool::new(&server.address);
    pool.grow(FAST).await?;
    let mut slow = Slow::default();
    for round in 0..rounds {
        let order = if round % 2 == 0 { [false, true] } else { [true, false] };
        for with_slow in order {
            let reader = if with_slow {
                // The pace of one fast connection, from the rounds without the slow one.
                let per_connection = median(&slow.without_ops_per_sec) / FAST as f64;
                let send_every = Duration::from_secs_f64(1.0 / per_connection.max(1.0));
                let read_every = send_every.mul_f64(SLOWER);
                slow.send_interval_us = send_every.as_secs_f64() * 1e6;
                slow.read_interval_us = read_every.as_secs_f64() * 1e6;
                let deadline = Instant::now() + budget.time + Duration::from_millis(200);
                let address = server.address.clone();
                let reader = std::thread::spawn(move || slow_reader(&address, send_every, read_every, deadline));
                // Let it connect and start sending before the fast connections are measured.
                tokio::time::sleep(Duration::from_millis(100)).await;
                Some(reader)
            } else {
                None
            };
            let out = tw::on_handles(&workload, pool.handles(FAST), budget).await;
            if out.errors > 0 {
                return Err(format!("{} errors, the first: {}", out.errors, out.first_error.unwrap_or_default()));
            }
            let rate = out.samples.len() as f64 / out.elapsed.as_secs_f64().max(1e-9);
            let p99 = out.samples.summary().p99_us;
            if let Some(reader) = reader {
                let (sent, read) = tokio::task::spawn_blocking(move || reader.join())
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|_| "the slow reader panicked".to_owned())??;
                slow.slow_sent += sent;
                slow.slow_read += read;
                slow.server_rss_kib = server.memory().rss_kib;
                slow.with_ops_per_sec.push(rate);
                slow.with_p99_us.push(p99);
            } else {
                slow.without_ops_per_sec.push(rate);
                slow.without_p99_us.push(p99);
            }
        }
    }
    slow.ratio = median(&slow.with_ops_per_sec) / median(&slow.without_ops_per_sec);
    push(
        scale,
        format!(
            "  slow client ({FAST} fast connections, one read in flight each; the slow one sends a read every {:.0} µs \
             and reads a reply every {:.0} µs), {rounds} alternating rounds, medians",
            slow.send_interval_us, slow.read_interval_us
        ),
    );
    push(
        scale,
        format!(
            "    without it {:>9.0} op/s  p99 {:>9.1} µs",
            median(&slow.without_ops_per_sec),
            median(&slow.without_p99_us)
        ),
    );
    push(
        scale,
        format!(
            "    with it    {:>9.0} op/s  p99 {:>9.1} µs   (the slow one sent {}, read {} replies; server RSS {:.1} MiB)",
            median(&slow.with_ops_per_sec),
            median(&slow.with_p99_us),
            slow.slow_sent,
            slow.slow_read,
            slow.server_rss_kib as f64 / 1024.0
        ),
    );
    push(
        scale,
        format!(
            "    fast connections keep {:.0} % of their throughput (target ≥ 90 %: {})",
            100.0 * slow.ratio,
            verdict(slow.ratio >= 0.9)
        ),
    );
    scale.slow = Some(slow);
    Ok(())
}

/// What one burst call got.
enum Answer {
    Ok,
    BusyQueue(String),
    BusyInFlight(String),
    Timeout,
    Other(String),
}

fn classify(result: Result<(), String>) -> Answer {
    match result {
        Ok(()) => Answer::Ok,
        Err(e) if e.contains("the server is busy") => Answer::BusyQueue(e),
        Err(e) if e.contains("requests in flight (limit") => Answer::BusyInFlight(e),
        Err(e) if e.contains("no reply from") => Answer::Timeout,
        Err(e) => Answer::Other(e),
    }
}

/// One burst caller's tally.
#[derive(Default)]
struct Tally {
    ok: u64,
    busy_queue: u64,
    busy_in_flight: u64,
    timeouts: u64,
    other: u64,
    first: [Option<String>; 3],
}

impl Tally {
    fn count(&mut self, answer: Answer) {
        match answer {
            Answer::Ok => self.ok += 1,
            Answer::BusyQueue(m) => {
                self.busy_queue += 1;
                self.first[0].get_or_insert(m);
            }
            Answer::BusyInFlight(m) => {
                self.busy_in_flight += 1;
                self.first[1].get_or_insert(m);
            }
            Answer::Timeout => self.timeouts += 1,
            Answer::Other(m) => {
                self.other += 1;
                self.first[2].get_or_insert(m);
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        self.ok += other.ok;
        self.busy_queue += other.busy_queue;
        self.busy_in_flight += other.busy_in_flight;
        self.timeouts += other.timeouts;
        self.other += other.other;
        for (mine, theirs) in self.first.iter_mut().zip(other.first) {
            if mine.is_none() {
                *mine = theirs;
            }
        }
    }
}

/// Part 5: a burst far above capacity: `BURST` callers at once, each calling again as soon as it is answered,
/// for `window`.
async fn burst(scale: &mut Scale, window: Duration, dir: &Path) -> Result<(), String> {
    let server = start(dir, 1, Some(BURST_QUEUE)).await?;
    let mut pool = Pool::new(&server.address);
    pool.grow(BURST_CONNECTIONS).await?;
    let handles = pool.handles(BURST_CONNECTIONS);
    // Warm up: every connection has called once.
    for h in &handles {
        GainOp::Add.call(h).await?;
    }
    settle().await;
    let mut b = Burst {
        requests: BURST,
        connections: BURST_CONNECTIONS,
        max_queue_length: BURST_QUEUE,
        rss_before_kib: server.memory().rss_kib,
        ..Default::default()
    };
    let started = Instant::now();
    let end = started + window;
    let callers: Vec<_> = (0..BURST)
        .map(|i| {
            let h = handles[i % handles.len()].clone();
            tokio::spawn(async move {
                let mut tally = Tally::default();
                // Bounded: the window, and the client's 10 s timeout per call.
                while Instant::now() < end {
                    tally.count(classify(GainOp::Add.call(&h).await));
                }
                tally
            })
        })
        .collect();
    // A new client a third into the burst.
    let address = server.address.clone();
    let newcomer = tokio::spawn(async move {
        tokio::time::sleep(window / 3).await;
        let t = Instant::now();
        let c = tokio::time::timeout(Duration::from_secs(10), tw::connect(&address)).await;
        let took = t.elapsed();
        let c = c.map_err(|_| "no handshake within 10 s".to_owned()).and_then(|c| c.map_err(|e| e.to_string()));
        (took, Instant::now() < end, c)
    });
    let mut peak = 0;
    while Instant::now() < end {
        peak = peak.max(server.memory().rss_kib);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (took, during, newcomer) = newcomer.await.map_err(|e| e.to_string())?;
    match newcomer {
        Ok(client) => {
            b.handshake_ms = Some(ms(took));
            b.handshake_during_burst = during;
            drop(client);
        }
        Err(e) => scale.problems.push(format!("burst: a new client could not connect during the burst: {e}")),
    }
    let mut tally = Tally::default();
    for caller in callers {
        match tokio::time::timeout(Duration::from_secs(15), caller).await {
            Ok(Ok(t)) => tally.merge(t),
            Ok(Err(e)) => tally.count(Answer::Other(e.to_string())),
            Err(_) => tally.timeouts += 1,
        }
    }
    b.secs = started.elapsed().as_secs_f64();
    b.rss_peak_kib = peak.max(server.memory().rss_kib);
    b.ok = tally.ok;
    b.busy_queue = tally.busy_queue;
    b.busy_in_flight = tally.busy_in_flight;
    b.timeouts = tally.timeouts;
    b.other = tally.other;
    b.messages = tally.first.into_iter().flatten().collect();
    drop(handles);
    drop(pool);
    tokio::time::sleep(Duration::from_secs(1)).await;
    b.rss_after_kib = server.memory().rss_kib;
    let mib = |k: u64| k as f64 / 1024.0;
    let answered = b.ok + b.busy_queue + b.busy_in_flight;
    push(
        scale,
        format!(
            "  burst: {BURST} callers at once on {BURST_CONNECTIONS} connections, each calling `add` again as soon as \
             answered, for {window:?}; server queue limit {BURST_QUEUE}"
        ),
    );
    push(
        scale,
        format!(
            "    {answered} answered ({:.0}/s): {} values ({:.0}/s), {} busy (queue full), {} busy (in flight per \
             client), {} timeouts, {} other",
            answered as f64 / b.secs,
            b.ok,
            b.ok as f64 / b.secs,
            b.busy_queue,
            b.busy_in_flight,
            b.timeouts,
            b.other
        ),
    );
    for m in &b.messages {
        push(scale, format!("    e.g. {m}"));
    }
    push(
        scale,
        format!(
            "    a new client {} the burst: {}",
            if b.handshake_during_burst { "during" } else { "at the end of" },
            b.handshake_ms.map_or("did not connect".into(), |t| format!("connected and handshaken in {t:.1} ms"))
        ),
    );
    push(
        scale,
        format!(
            "    server RSS {:.1} MiB before, {:.1} MiB at the peak, {:.1} MiB 1 s after (its connections closed)",
            mib(b.rss_before_kib),
            mib(b.rss_peak_kib),
            mib(b.rss_after_kib)
        ),
    );
    if b.other > 0 || b.timeouts > 0 {
        scale.problems.push(format!("burst: {} timeouts and {} other failures", b.timeouts, b.other));
    }
    scale.burst = Some(b);
    Ok(())
}
