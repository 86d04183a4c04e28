//! `thingwire-bench`: raw ZeroMQ, thingwire and hololinked 0.4.2 side by side, in one run (issue 7).
//!
//! ```text
//! thingwire-bench [--quick] [--out DIR] [--only SECTIONS] [--transports LIST] [--venv DIR]
//!     SECTIONS: raw,thingwire,events,memory,hololinked,http,persist,mqtt,gateway,scale (default: all)
//!     LIST:     inproc,ipc,tcp (default: all)
//! thingwire-bench --serve raw|thingwire|axum|thingwire-http --transport ipc|tcp --dir DIR [--things N] [--event-hwm N]
//!     [--max-queue N]
//!     (internal) a server process; prints `READY <address>`, exits when its stdin closes
//! ```
//!
//! Servers on IPC and TCP run in their own process (this binary re-executed with `--serve`), so the CPU time
//! they spend per request can be read from `/proc`; INPROC servers run in this process (INPROC cannot cross
//! processes). Every loop is bounded by an operation count and a time budget. See `docs/performance.md`.

mod child;
mod events;
mod gateway;
mod holo;
mod http;
mod mqtt;
mod persist;
mod raw;
mod report;
mod scale;
mod sse;
mod stats;
mod svg;
mod thing;
mod tw;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use thingwire::{Protocol, Server, ThingHandle};

use crate::child::ServerProcess;
use crate::report::{MemoryRow, Results};
use crate::stats::{Budget, Mode, Outcome, Record, size_label};
use crate::thing::BenchThing;
use crate::tw::{Data, GainOp, Kind, Workload};

const SIZES: [usize; 3] = [64, 1024, 1 << 20];
const IN_FLIGHT: usize = 64;
/// Alternating rounds of the pairs the targets compare (also with `--quick`: a median of two is a mean).
const ROUNDS: usize = 3;
const SECTIONS: [&str; 10] =
    ["raw", "thingwire", "events", "memory", "hololinked", "http", "persist", "mqtt", "gateway", "scale"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

#[derive(Debug, Clone)]
struct Options {
    quick: bool,
    out: PathBuf,
    sections: Vec<String>,
    transports: Vec<String>,
    venv: PathBuf,
    /// Only raw/thingwire measurements whose label contains this text.
    filter: Option<String>,
    /// Overrides the time budget of each measurement.
    time: Option<Duration>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self, String> {
        let ws = workspace();
        let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| ws.join("target"));
        let mut o = Options {
            quick: false,
            out: target.join("bench"),
            sections: SECTIONS.iter().map(|s| (*s).to_owned()).collect(),
            transports: ["inproc", "ipc", "tcp"].map(str::to_owned).to_vec(),
            venv: target.join("hololinked-venv"),
            filter: None,
            time: None,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = |name: &str| it.next().cloned().ok_or_else(|| format!("{name} needs a value"));
            match a.as_str() {
                "--quick" => o.quick = true,
                "--out" => o.out = PathBuf::from(value("--out")?),
                "--venv" => o.venv = PathBuf::from(value("--venv")?),
                "--only" => o.sections = list(&value("--only")?, &SECTIONS)?,
                "--transports" => o.transports = list(&value("--transports")?, &["inproc", "ipc", "tcp"])?,
                "--match" => o.filter = Some(value("--match")?),
                "--time" => {
                    let secs: f64 = value("--time")?.parse().map_err(|_| "--time takes seconds, e.g. 2.5")?;
                    o.time = Some(Duration::from_secs_f64(secs.max(0.01)));
                }
                "-h" | "--help" => {
                    println!("{}", USAGE);
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
            }
        }
        Ok(o)
    }

    fn has(&self, section: &str) -> bool {
        self.sections.iter().any(|s| s == section)
    }

    /// The budget of one measurement in `mode`.
    fn budget(&self, mode: Mode) -> Budget {
        let time = self.time.unwrap_or(Duration::from_millis(if self.quick { 120 } else { 700 }));
        let warmup_ops = if self.quick { 30 } else { 200 };
        let max_ops = match mode {
            Mode::Sequential => 20_000,
            Mode::Pipelined64 => 300_000,
            Mode::Conn8 => 100_000,
            Mode::Conn64 => 300_000,
        };
        Budget { max_ops: if self.time.is_some() { u64::MAX } else { max_ops }, time, warmup_ops }
    }

    /// Whether the measurement `stack op data size mode` is selected by `--match`.
    fn selected(&self, meta: &Meta<'_>) -> bool {
        self.filter.as_ref().is_none_or(|f| {
            let label =
                format!("{} {} {} {} {}", meta.stack, meta.op, meta.data, size_label(meta.payload), meta.mode.label());
            label.contains(f.as_str())
        })
    }
}

const USAGE: &str = "usage: thingwire-bench [--quick] [--out DIR] [--only raw,thingwire,events,memory,hololinked,http,persist,mqtt,gateway,scale] \
[--transports inproc,ipc,tcp] [--venv DIR] [--match TEXT] [--time SECONDS]
  --quick       short loops (about a minute in all)
  --match TEXT  only the raw/thingwire/http measurements whose label `stack op data size mode` contains TEXT,
                e.g. --match 'thingwire readproperty Vec<f64> 64 B 64 in flight', --match 'axum invokeaction';
                SSE runs are labelled `stack sse name`, e.g. --match 'thingwire sse burst'
  --time S      run each measurement for S seconds (no operation cap): for profiling one workload
THINGWIRE_BENCH_SERVER_WRAPPER='valgrind --tool=callgrind' (for example) runs the server processes under it
THINGWIRE_BENCH_HTTP_CLIENT=hyper drives the HTTP section with hyper 1's client instead of the minimal one
THINGWIRE_BENCH_PACKED=0 makes the Rust clients send plain msgpack (as to a hololinked server) instead of packed f64 arrays
THINGWIRE_BENCH_COMPACT=0 makes the Rust clients send hololinked's JSON headers instead of compact ones";

fn list(s: &str, allowed: &[&str]) -> Result<Vec<String>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| {
            if allowed.contains(&x) {
                Ok(x.to_owned())
            } else {
                Err(format!("unknown `{x}`; expected one of {allowed:?}"))
            }
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        serve_main(&args);
    }
    let options = match Options::parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let started = Instant::now();
    let mut results = runtime.block_on(drive(&options));
    results.machine.load_end = report::load_average();
    let targets = report::targets(&results);
    println!();
    println!(
        "thingwire-bench{} — {} × {}, {}, {}; load average {} at the start, {} at the end",
        if options.quick { " --quick" } else { "" },
        results.machine.nproc,
        results.machine.cpu,
        results.machine.rustc,
        results.machine.kernel,
        results.machine.load_start,
        results.machine.load_end,
    );
    if results
        .machine
        .load_start
        .split(' ')
        .next()
        .and_then(|l| l.parse::<f64>().ok())
        .is_some_and(|l| l > 0.5 * results.machine.nproc as f64)
    {
        println!("note: the machine was busy when the run started; ratios hold up better than absolute figures");
    }
    println!();
    print!("{}", report::table(&results));
    println!();
    println!("targets (issue 7):");
    print!("{}", report::render_targets(&targets));
    if !results.persist.is_empty() {
        println!();
        println!("persisted properties (issue 17):");
        for line in &results.persist {
            println!("{line}");
        }
    }
    if !results.gateway.is_empty() {
        println!();
        println!("gateway (issue 18):");
        for line in &results.gateway {
            println!("{line}");
        }
    }
    if let Some(scale) = &results.scale {
        println!();
        println!("scaling (issue 19):");
        for line in &scale.lines {
            println!("{line}");
        }
    }
    if !results.problems.is_empty() {
        println!();
        println!("problems:");
        for p in &results.problems {
            println!("  - {p}");
        }
    }
    match report::write_json(&options.out, &results, &targets) {
        Ok(()) => println!("\nwrote {}/*.json in {:.0} s", options.out.display(), started.elapsed().as_secs_f64()),
        Err(e) => eprintln!("could not write {}: {e}", options.out.display()),
    }
    // Leave without waiting for client tasks and sockets to wind down.
    std::process::exit(0);
}

/// A server under test.
enum Served {
    Raw(tokio::task::JoinHandle<()>, String),
    Thingwire(Server, String),
    Process(ServerProcess),
}

impl Served {
    fn address(&self) -> &str {
        match self {
            Served::Raw(_, a) | Served::Thingwire(_, a) => a,
            Served::Process(p) => &p.address,
        }
    }

    fn cpu(&self) -> Option<Duration> {
        match self {
            Served::Process(p) => Some(p.cpu()),
            _ => None,
        }
    }

    async fn stop(self) {
        match self {
            Served::Raw(task, _) => task.abort(),
            Served::Thingwire(server, _) => server.shutdown().await,
            Served::Process(p) => drop(p),
        }
    }
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("thingwire-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

async fn start_raw(transport: &str, dir: &Path) -> Result<Served, String> {
    if transport == "inproc" {
        let (router, address) = raw::bind(thingwire::transport::context(), "inproc://raw-echo-bench")?;
        return Ok(Served::Raw(tokio::spawn(raw::serve(router)), address));
    }
    let dir = dir.to_owned();
    let transport = transport.to_owned();
    tokio::task::spawn_blocking(move || child::self_server("raw", &transport, &dir, &[]))
        .await
        .map_err(|e| e.to_string())?
        .map(Served::Process)
}

async fn start_thingwire(transport: &str, dir: &Path, extra: &[String]) -> Result<Served, String> {
    if transport == "inproc" {
        let server = Server::builder("bench-inproc")
            .thing(BenchThing::new("bench"))
            .inproc()
            .shutdown_grace(Duration::from_millis(200))
            .start()
            .await
            .map_err(|e| e.to_string())?;
        let address = server.address(Protocol::Inproc).unwrap_or_default().to_owned();
        return Ok(Served::Thingwire(server, address));
    }
    let dir = dir.to_owned();
    let transport = transport.to_owned();
    let extra = extra.to_vec();
    tokio::task::spawn_blocking(move || child::self_server("thingwire", &transport, &dir, &extra))
        .await
        .map_err(|e| e.to_string())?
        .map(Served::Process)
}

/// What a measurement is, before it ran.
struct Meta<'a> {
    stack: &'a str,
    client: &'a str,
    op: &'a str,
    data: &'a str,
    transport: &'a str,
    payload: usize,
    mode: Mode,
}

/// Runs `work`, reading the server's CPU time around it; records it in `results` and returns it.
async fn measure<F: Future<Output = Outcome>>(
    results: &mut Results,
    served: &Served,
    meta: Meta<'_>,
    work: F,
) -> Record {
    let record = measure_only(results, served, meta, work).await;
    results.records.push(record.clone());
    record
}

/// Like [`measure`], without adding the record to the table (for the alternating rounds).
async fn measure_only<F: Future<Output = Outcome>>(
    results: &mut Results,
    served: &Served,
    meta: Meta<'_>,
    work: F,
) -> Record {
    // The clients' CPU (this process) only means something when the server is in another one.
    let own = || served.cpu().map(|_| child::cpu_time(std::process::id()));
    let (cpu0, own0) = (served.cpu(), own());
    let outcome = work.await;
    let (cpu1, own1) = (served.cpu(), own());
    let ops = outcome.ops();
    let per_op = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) if ops > 0 => Some(b.saturating_sub(a).as_secs_f64() * 1e6 / (ops + outcome.warmup) as f64),
        _ => None,
    };
    let cpu_per_op = per_op(cpu0, cpu1);
    let client_cpu_per_op = per_op(own0, own1);
    let secs = outcome.elapsed.as_secs_f64();
    let record = Record {
        stack: meta.stack.into(),
        client: meta.client.into(),
        op: meta.op.into(),
        data: meta.data.into(),
        transport: meta.transport.into(),
        payload: meta.payload,
        mode: meta.mode,
        ops,
        errors: outcome.errors,
        secs,
        ops_per_sec: if secs > 0.0 { outcome.samples.len() as f64 / secs } else { 0.0 },
        latency: outcome.samples.summary(),
        server_cpu_us_per_op: cpu_per_op,
        client_cpu_us_per_op: client_cpu_per_op,
    };
    let client = match meta.client {
        "python" => " (Python client)".to_owned(),
        "hyper" => format!(" (hyper client{})", client_cpu(client_cpu_per_op)),
        "http1" => client_cpu(client_cpu_per_op),
        _ => String::new(),
    };
    println!(
        "  {:<6} {:<10} {:<22} {:<8} {:>6} {:<13} p50 {:>8.1} µs  p99 {:>8.1} µs  {:>9.0} op/s{}{}",
        meta.transport,
        meta.stack,
        meta.op,
        meta.data,
        size_label(meta.payload),
        meta.mode.label(),
        record.latency.p50_us,
        record.latency.p99_us,
        record.ops_per_sec,
        cpu_per_op.map(|c| format!("  server {c:.2} µs/op")).unwrap_or_default(),
        client,
    );
    if let Some(e) = outcome.first_error {
        let problem = format!(
            "{} {} {} {} {} {}: {} failed operations, first: {e}",
            meta.transport,
            meta.stack,
            meta.op,
            meta.data,
            size_label(meta.payload),
            meta.mode.label(),
            outcome.errors
        );
        eprintln!("  ! {problem}");
        results.problems.push(problem);
    }
    record
}

fn client_cpu(c: Option<f64>) -> String {
    c.map(|c| format!(", client {c:.2} µs/op")).unwrap_or_default()
}

async fn drive(o: &Options) -> Results {
    let mut results = Results {
        machine: report::Machine::detect(),
        quick: o.quick,
        http_binding: http::BINDING,
        ..Default::default()
    };
    println!(
        "thingwire-bench{}: {} × {}; {}",
        if o.quick { " --quick" } else { "" },
        results.machine.nproc,
        results.machine.cpu,
        results.machine.rustc
    );
    let dir = scratch_dir();
    if o.has("raw") || o.has("thingwire") {
        println!("raw tmq DEALER↔ROUTER (the limit of our stack) and thingwire, payload size by payload size");
        for transport in &o.transports {
            if let Err(e) = transport_section(o, &mut results, transport, &dir).await {
                results.problems.push(format!("{transport}: {e}"));
            }
        }
    }
    if o.has("events") {
        println!("events over ipc");
        if let Err(e) = events_section(o, &mut results, &dir).await {
            results.problems.push(format!("events: {e}"));
        }
    }
    if o.has("memory") {
        println!("server memory");
        if let Err(e) = memory_section(o, &mut results, &dir).await {
            results.problems.push(format!("memory: {e}"));
        }
    }
    if o.has("hololinked") {
        println!("hololinked 0.4.2 (tcp)");
        if let Err(e) = hololinked_section(o, &mut results, &dir).await {
            results.problems.push(format!("hololinked: {e}"));
        }
    }
    if o.has("http") {
        println!("http (HTTP/1.1 keep-alive over loopback tcp)");
        if let Err(e) = http_section(o, &mut results, &dir).await {
            results.problems.push(format!("http: {e}"));
        }
    }
    if o.has("persist") {
        println!("persisted property writes (SQLite, durable) against unpersisted ones, over ipc");
        match persist::section(o.quick, &o.out, &dir).await {
            Ok(lines) => {
                for line in &lines {
                    println!("{line}");
                }
                results.persist = lines;
            }
            Err(e) => results.problems.push(format!("persist: {e}")),
        }
    }
    if o.has("gateway") {
        println!("gateway (a property read through a gateway against the same read direct, loopback tcp)");
        match gateway::section(o.quick, ROUNDS).await {
            Ok(lines) => {
                for line in &lines {
                    println!("{line}");
                }
                results.gateway = lines;
            }
            Err(e) => results.problems.push(format!("gateway: {e}")),
        }
    }
    if o.has("scale") {
        println!("scaling (connections, Things, idle memory, a slow client, a burst; server in its own process, tcp)");
        let scale = scale::section(o.quick, &dir).await;
        results.problems.extend(scale.problems.iter().map(|p| format!("scale: {p}")));
        results.scale = Some(scale);
    }
    if o.has("mqtt") {
        println!("mqtt (events through Mosquitto on loopback tcp, one subscriber)");
        match mqtt::section(o.quick, ROUNDS, &dir).await {
            Ok(runs) => results.mqtt = runs,
            Err(e) => results.problems.push(format!("mqtt: {e}")),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    results
}

/// The raw baseline and thingwire on one transport. For each payload size the baseline runs right before the
/// thingwire workloads, so that a change in the machine's load between them skews the ratios as little as
/// possible; then the pairs the targets compare run again in alternating rounds.
async fn transport_section(o: &Options, results: &mut Results, transport: &str, dir: &Path) -> Result<(), String> {
    let raw = if o.has("raw") { Some(start_raw(transport, dir).await?) } else { None };
    let tw = if o.has("thingwire") { Some(start_thingwire(transport, dir, &[]).await?) } else { None };
    let handle = match &tw {
        Some(tw) => Some(ThingHandle::new(tw::connect(tw.address()).await.map_err(|e| e.to_string())?, "bench")),
        None => None,
    };
    for size in SIZES {
        if let Some(raw) = &raw {
            for op in [raw::RawOp::Echo, raw::RawOp::Fetch] {
                for mode in Mode::ALL {
                    let meta = Meta {
                        stack: "raw",
                        client: "tmq",
                        op: op.name(),
                        data: "bytes",
                        transport,
                        payload: size,
                        mode,
                    };
                    if o.selected(&meta) {
                        let work = raw_work(raw.address(), op, size, mode, o.budget(mode).for_payload(size));
                        measure(results, raw, meta, work).await;
                    }
                }
            }
        }
        if let (Some(tw), Some(handle)) = (&tw, &handle) {
            for kind in Kind::ALL {
                for data in [Data::F64, Data::Bytes] {
                    let selected: Vec<Mode> = Mode::ALL
                        .into_iter()
                        .filter(|&mode| o.selected(&tw_meta(transport, kind, data, size, mode)))
                        .collect();
                    if selected.is_empty() {
                        continue;
                    }
                    let workload = Arc::new(Workload::new(kind, data, size));
                    workload.prepare(handle).await.map_err(|e| format!("preparing {kind:?} {data:?} {size}: {e}"))?;
                    for mode in selected {
                        let work = tw_work(&workload, handle, tw.address(), mode, o.budget(mode).for_payload(size));
                        measure(results, tw, tw_meta(transport, kind, data, size, mode), work).await;
                    }
                }
            }
        }
    }
    if let (Some(raw), Some(tw), Some(handle), None) = (&raw, &tw, &handle, &o.filter) {
        // The same reads with hololinked's JSON header, alternating with the compact ones, so the gain of
        // the compact header and the speed of the JSON path are both measured in this run.
        let options = thingwire::ConnectOptions { compact_headers: false, ..Default::default() };
        let json = thingwire::Client::connect_with(tw.address(), options).await.map_err(|e| e.to_string())?;
        rounds(o, results, transport, raw, tw, [handle, &ThingHandle::new(json, "bench")]).await?;
    }
    if let Some(handle) = &handle {
        // Leave the properties small again.
        let _ = Workload::new(Kind::Read, Data::F64, 64).prepare(handle).await;
        let _ = Workload::new(Kind::Read, Data::Bytes, 64).prepare(handle).await;
    }
    drop(handle);
    if let Some(tw) = tw {
        tw.stop().await;
    }
    if let Some(raw) = raw {
        raw.stop().await;
    }
    Ok(())
}

fn tw_meta(transport: &str, kind: Kind, data: Data, size: usize, mode: Mode) -> Meta<'_> {
    Meta { stack: "thingwire", client: "rust", op: kind.name(), data: data.name(), transport, payload: size, mode }
}

async fn raw_work(address: &str, op: raw::RawOp, size: usize, mode: Mode, budget: Budget) -> Outcome {
    let ctx = thingwire::transport::context();
    match mode {
        Mode::Sequential | Mode::Pipelined64 => match raw::RawClient::connect(ctx, address, op, size) {
            Ok(mut c) if mode == Mode::Sequential => c.sequential(budget).await,
            Ok(mut c) => c.pipelined(budget, IN_FLIGHT).await,
            Err(e) => Outcome { errors: 1, first_error: Some(e), ..Default::default() },
        },
        Mode::Conn8 | Mode::Conn64 => raw::multi_connection(ctx, address, op, size, mode.connections(), budget).await,
    }
}

async fn tw_work(workload: &Arc<Workload>, handle: &ThingHandle, address: &str, mode: Mode, budget: Budget) -> Outcome {
    match mode {
        Mode::Sequential => tw::sequential(workload, handle, budget).await,
        Mode::Pipelined64 => tw::pipelined(workload, handle, budget, IN_FLIGHT).await,
        Mode::Conn8 | Mode::Conn64 => {
            tw::multi_connection(workload, address, "bench", budget, mode.connections()).await
        }
    }
}

/// The pairs the targets compare, measured again `ROUNDS` times in alternation (raw, thingwire with compact
/// headers, thingwire with JSON headers, raw, …); the targets use the median of the rounds' ratios. Each
/// header form is a [`report::Round`] of its own against the same raw records.
async fn rounds(
    o: &Options,
    results: &mut Results,
    transport: &str,
    raw: &Served,
    tw: &Served,
    [compact, json]: [&ThingHandle; 2],
) -> Result<(), String> {
    let pairs = [
        (raw::RawOp::Echo, 64, Mode::Sequential),
        (raw::RawOp::Echo, 64, Mode::Pipelined64),
        (raw::RawOp::Fetch, 1 << 20, Mode::Sequential),
    ];
    for (op, size, mode) in pairs {
        let workload = Arc::new(Workload::new(Kind::Read, Data::F64, size));
        workload.prepare(compact).await.map_err(|e| e.to_string())?;
        let round = |op_name: &str| report::Round {
            transport: transport.into(),
            raw_op: op.name().into(),
            op: op_name.into(),
            payload: size,
            mode,
            raw: Vec::new(),
            thingwire: Vec::new(),
        };
        let (mut with_compact, mut with_json) = (round("readproperty"), round(report::JSON_HEADER_OP));
        for _ in 0..ROUNDS {
            let budget = o.budget(mode).for_payload(size);
            let meta =
                Meta { stack: "raw", client: "tmq", op: op.name(), data: "bytes", transport, payload: size, mode };
            with_compact
                .raw
                .push(measure_only(results, raw, meta, raw_work(raw.address(), op, size, mode, budget)).await);
            for (handle, side) in [(compact, &mut with_compact), (json, &mut with_json)] {
                let meta = tw_meta(transport, Kind::Read, Data::F64, size, mode);
                let work = tw_work(&workload, handle, tw.address(), mode, budget);
                side.thingwire.push(measure_only(results, tw, meta, work).await);
            }
        }
        with_json.raw.clone_from(&with_compact.raw);
        results.rounds.push(with_compact);
        results.rounds.push(with_json);
    }
    Ok(())
}

async fn events_section(o: &Options, results: &mut Results, dir: &Path) -> Result<(), String> {
    let count: u64 = if o.quick { 50_000 } else { 200_000 };
    let paced: u64 = if o.quick { 300 } else { 2_000 };
    // A high-water mark that holds the whole burst, then the default (10 000).
    let big_hwm = i32::try_from(count * 2).unwrap_or(i32::MAX);
    for hwm in [Some(big_hwm), None] {
        let extra = match hwm {
            Some(h) => vec!["--event-hwm".to_owned(), h.to_string()],
            None => Vec::new(),
        };
        let served = start_thingwire("ipc", dir, &extra).await?;
        let client = tw::connect(served.address()).await.map_err(|e| e.to_string())?;
        let handle = ThingHandle::new(client, "bench");
        let sub = events::subscribe(&handle).await?;
        let hwm_value = hwm.unwrap_or(10_000);
        let (run, sub) = events::run(&handle, sub, "burst", hwm_value, count, 0).await?;
        print_event(&run);
        results.events.push(run);
        if hwm.is_some() {
            let (run, _sub) = events::run(&handle, sub, "paced 1/200 µs", hwm_value, paced, 200).await?;
            print_event(&run);
            results.events.push(run);
        }
        served.stop().await;
    }
    Ok(())
}

fn print_event(e: &events::EventRun) {
    println!(
        "  ipc    {:<24} hwm {:>7}: emitted {} at {:.0}/s, received {} at {:.0}/s, lost {}, latency p50 {:.1} µs p99 {:.1} µs",
        e.name,
        e.high_water_mark,
        e.emitted,
        e.emit_rate,
        e.received,
        e.receive_rate,
        e.lost,
        e.latency.p50_us,
        e.latency.p99_us
    );
}

/// RSS of the servers: idle, and under load with 10 Things.
async fn memory_section(o: &Options, results: &mut Results, dir: &Path) -> Result<(), String> {
    let settle = Duration::from_millis(500);
    let record = |results: &mut Results, server: &str, things: usize, state: &str, m: child::Memory| {
        println!(
            "  ipc    {server}, {things} Things, {state}: RSS {:.1} MiB, peak {:.1} MiB",
            m.rss_kib as f64 / 1024.0,
            m.peak_rss_kib as f64 / 1024.0
        );
        results.memory.push(MemoryRow {
            server: server.into(),
            things,
            state: state.into(),
            rss_kib: m.rss_kib,
            peak_rss_kib: m.peak_rss_kib,
        });
    };
    let raw = start_raw("ipc", dir).await?;
    tokio::time::sleep(settle).await;
    if let Served::Process(p) = &raw {
        record(results, "raw tmq echo", 0, "idle", p.memory());
    }
    raw.stop().await;

    let served = start_thingwire("ipc", dir, &["--things".into(), "10".into()]).await?;
    let Served::Process(process) = &served else { return Err("expected a server process".into()) };
    tokio::time::sleep(settle).await;
    record(results, "thingwire", 10, "idle", process.memory());
    let client = tw::connect(served.address()).await.map_err(|e| e.to_string())?;
    let handles: Vec<ThingHandle> = (0..10).map(|i| ThingHandle::new(client.clone(), &thing_id(i))).collect();
    for (label, size) in [("64 × 64 B reads in flight", 64), ("64 × 1 MiB reads in flight", 1 << 20)] {
        let workload = Arc::new(Workload::new(Kind::Read, Data::F64, size));
        for h in &handles {
            workload.prepare(h).await.map_err(|e| e.to_string())?;
        }
        let deadline = Instant::now() + o.budget(Mode::Pipelined64).time.max(Duration::from_millis(300));
        let tasks: Vec<_> = (0..IN_FLIGHT)
            .map(|i| {
                let (w, h) = (Arc::clone(&workload), handles[i % handles.len()].clone());
                tokio::spawn(async move {
                    while Instant::now() < deadline {
                        if w.run(&h).await.is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        let mut peak = child::Memory::default();
        while Instant::now() < deadline {
            let m = process.memory();
            if m.rss_kib > peak.rss_kib {
                peak = m;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for t in tasks {
            let _ = t.await;
        }
        let last = process.memory();
        record(
            results,
            "thingwire",
            10,
            &format!("load: {label}"),
            child::Memory { rss_kib: peak.rss_kib, peak_rss_kib: last.peak_rss_kib },
        );
    }
    for h in &handles {
        let _ = Workload::new(Kind::Read, Data::F64, 64).prepare(h).await;
    }
    tokio::time::sleep(settle).await;
    record(results, "thingwire", 10, "idle after load", process.memory());
    drop(handles);
    drop(client);
    served.stop().await;
    Ok(())
}

pub(crate) fn thing_id(i: usize) -> String {
    if i == 0 { "bench".into() } else { format!("bench-{i}") }
}

async fn hololinked_section(o: &Options, results: &mut Results, dir: &Path) -> Result<(), String> {
    let ws = workspace();
    let venv = o.venv.clone();
    let python = tokio::task::spawn_blocking(move || holo::ensure_venv(&venv)).await.map_err(|e| e.to_string())??;
    results.machine.python = std::process::Command::new(&python)
        .args(["-c", "import sys, hololinked; print(sys.version.split()[0], 'hololinked', hololinked.__version__)"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let (py_seconds, py_max) = if o.quick { (0.3, 300) } else { (1.5, 5_000) };

    // Both servers up at once (hololinked's idles at about 2 % of a CPU), so that the rounds can alternate.
    let (p, ws2) = (python.clone(), ws.clone());
    let holo = tokio::task::spawn_blocking(move || holo::start_server(&p, &ws2, "holo-bench", "bench"))
        .await
        .map_err(|e| e.to_string())??;
    let served = start_thingwire("tcp", dir, &[]).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let m = holo.memory();
    println!("  tcp    hololinked server idle: RSS {:.1} MiB", m.rss_kib as f64 / 1024.0);
    results.memory.push(MemoryRow {
        server: "hololinked".into(),
        things: 1,
        state: "idle".into(),
        rss_kib: m.rss_kib,
        peak_rss_kib: m.peak_rss_kib,
    });
    let holo = Served::Process(holo);
    python_client(results, &python, &ws, &holo, "hololinked", "holo-bench", py_seconds, py_max).await;
    python_client(results, &python, &ws, &served, "thingwire", "bench-tcp", py_seconds, py_max).await;
    let holo_handle = rust_handle(&holo, "hololinked").await?;
    let tw_handle = rust_handle(&served, "thingwire").await?;
    for op in GainOp::ALL {
        for (stack, s, h) in [("thingwire", &served, &tw_handle), ("hololinked", &holo, &holo_handle)] {
            let budget = gain_budget(o, stack, Mode::Sequential);
            measure(results, s, gain_meta(stack, op, Mode::Sequential), tw::sequential(&op, h, budget)).await;
        }
    }
    for (stack, s, h) in [("thingwire", &served, &tw_handle), ("hololinked", &holo, &holo_handle)] {
        let budget = gain_budget(o, stack, Mode::Pipelined64);
        let work = tw::pipelined(&GainOp::Read, h, budget, IN_FLIGHT);
        measure(results, s, gain_meta(stack, GainOp::Read, Mode::Pipelined64), work).await;
    }
    // The targets' pairs again, alternating.
    let rounds = ROUNDS;
    for mode in [Mode::Sequential, Mode::Pipelined64] {
        let mut round = report::Round {
            transport: "tcp".into(),
            raw_op: "hololinked".into(),
            op: GainOp::Read.name().into(),
            payload: 8,
            mode,
            raw: Vec::new(),
            thingwire: Vec::new(),
        };
        for _ in 0..rounds {
            let meta = gain_meta("hololinked", GainOp::Read, mode);
            let work = gain_work(&holo_handle, mode, gain_budget(o, "hololinked", mode));
            round.raw.push(measure_only(results, &holo, meta, work).await);
            let meta = gain_meta("thingwire", GainOp::Read, mode);
            let work = gain_work(&tw_handle, mode, gain_budget(o, "thingwire", mode));
            round.thingwire.push(measure_only(results, &served, meta, work).await);
        }
        results.rounds.push(round);
    }
    drop((holo_handle, tw_handle));
    holo.stop().await;
    served.stop().await;
    Ok(())
}

async fn rust_handle(served: &Served, stack: &str) -> Result<ThingHandle, String> {
    let client = tw::connect(served.address()).await.map_err(|e| format!("Rust client to the {stack} server: {e}"))?;
    Ok(ThingHandle::new(client, "bench"))
}

fn gain_meta(stack: &str, op: GainOp, mode: Mode) -> Meta<'_> {
    Meta { stack, client: "rust", op: op.name(), data: "f64", transport: "tcp", payload: 8, mode }
}

/// A slow server gets a time budget, not an operation budget: give it longer so that p99 means something.
fn gain_budget(o: &Options, stack: &str, mode: Mode) -> Budget {
    let b = o.budget(mode);
    if stack == "hololinked" { Budget { time: b.time * 2, warmup_ops: b.warmup_ops.min(50), ..b } } else { b }
}

async fn gain_work(handle: &ThingHandle, mode: Mode, budget: Budget) -> Outcome {
    match mode {
        Mode::Pipelined64 => tw::pipelined(&GainOp::Read, handle, budget, IN_FLIGHT).await,
        _ => tw::sequential(&GainOp::Read, handle, budget).await,
    }
}

/// hololinked's Python client against `served`.
#[allow(clippy::too_many_arguments, reason = "one call site per server; a struct would only rename them")]
async fn python_client(
    results: &mut Results,
    python: &Path,
    ws: &Path,
    served: &Served,
    stack: &str,
    server_id: &str,
    seconds: f64,
    max_ops: u64,
) {
    let (python, ws, server_id_owned, address) =
        (python.to_owned(), ws.to_owned(), server_id.to_owned(), served.address().to_owned());
    let cpu0 = served.cpu();
    let run = tokio::task::spawn_blocking(move || {
        holo::run_python_client(&python, &ws, &server_id_owned, "bench", &address, seconds, max_ops)
    })
    .await;
    let cpu1 = served.cpu();
    let json = match run {
        Ok(Ok(json)) => json,
        Ok(Err(e)) => {
            results.problems.push(format!("Python client against the {stack} server: {e}"));
            eprintln!("  ! Python client against the {stack} server: {e}");
            return;
        }
        Err(e) => {
            results.problems.push(format!("Python client against the {stack} server: {e}"));
            return;
        }
    };
    let parse = |key: &str| serde_json::from_value::<holo::PyStats>(json[key].clone()).ok();
    let all: Vec<(GainOp, Mode, holo::PyStats)> = [
        (GainOp::Read, Mode::Sequential, "read"),
        (GainOp::Write, Mode::Sequential, "write"),
        (GainOp::Add, Mode::Sequential, "add"),
        (GainOp::Read, Mode::Pipelined64, "read_64"),
    ]
    .into_iter()
    .filter_map(|(op, mode, key)| parse(key).map(|s| (op, mode, s)))
    .collect();
    // The server's CPU over the whole script (connection, TD, 4 × 50 warm-up operations included).
    let total_ops: u64 = all.iter().map(|(_, _, s)| s.ops).sum::<u64>() + 4 * 50 + 3;
    let cpu_per_op = match (cpu0, cpu1) {
        (Some(a), Some(b)) => Some((b - a).as_secs_f64() * 1e6 / total_ops as f64),
        _ => None,
    };
    for (op, mode, s) in all {
        println!(
            "  tcp    {:<10} {:<22} python client {:<13} p50 {:>8.1} µs  p99 {:>8.1} µs  {:>9.0} op/s",
            stack,
            op.name(),
            mode.label(),
            s.p50_us,
            s.p99_us,
            s.ops_per_sec
        );
        results.records.push(Record {
            stack: stack.into(),
            client: "python".into(),
            op: op.name().into(),
            data: "f64".into(),
            transport: "tcp".into(),
            payload: 8,
            mode,
            ops: s.ops,
            errors: 0,
            secs: s.secs,
            ops_per_sec: s.ops_per_sec,
            latency: stats::Latency { p50_us: s.p50_us, p99_us: s.p99_us, mean_us: s.mean_us, max_us: s.max_us },
            // Averaged over the whole script, so the same figure on each of its rows.
            server_cpu_us_per_op: cpu_per_op,
            client_cpu_us_per_op: None,
        });
    }
}

/// A server of the HTTP section.
struct HttpServer {
    /// `axum`, `thingwire`, `hololinked`.
    stack: &'static str,
    served: Served,
    base: http::Base,
}

/// This binary as an HTTP server process (`--serve axum|thingwire-http`).
async fn start_http_self(kind: &str, stack: &'static str, dir: &Path) -> Result<HttpServer, String> {
    let (kind, dir) = (kind.to_owned(), dir.to_owned());
    let process = tokio::task::spawn_blocking(move || child::self_server(&kind, "tcp", &dir, &[]))
        .await
        .map_err(|e| e.to_string())??;
    let base = http::Base::parse(&process.address)?;
    Ok(HttpServer { stack, served: Served::Process(process), base })
}

fn http_meta(stack: &str, kind: http::ClientKind, op: http::HttpOp, mode: Mode) -> Meta<'_> {
    Meta { stack, client: kind.name(), op: op.name(), data: "f64", transport: "http", payload: 8, mode }
}

async fn http_work(
    kind: http::ClientKind,
    server: &HttpServer,
    op: http::HttpOp,
    mode: Mode,
    budget: Budget,
) -> Outcome {
    let req = op.request(&server.base);
    match mode {
        Mode::Sequential => http::sequential(kind, &server.base, &req, budget).await,
        _ => http::connections(kind, &server.base, &req, budget, mode.connections()).await,
    }
}

/// The HTTP section: thingwire's HTTP binding against a bare axum handler (the limit) and against hololinked
/// 0.4.2's HTTP server, then Server-Sent Events. See `bench/src/http.rs`.
async fn http_section(o: &Options, results: &mut Results, dir: &Path) -> Result<(), String> {
    let kind = http::ClientKind::from_env();
    let mut servers = vec![start_http_self("axum", "axum", dir).await?];
    if http::BINDING {
        match start_http_self("thingwire-http", "thingwire", dir).await {
            Ok(s) => servers.push(s),
            Err(e) => results.problems.push(format!("http: thingwire's HTTP server: {e}")),
        }
    } else {
        println!("  (thingwire's HTTP binding is not in this build: --features http-binding)");
    }
    let mut holo_zmq = None;
    match start_holo_http(o, results).await {
        Ok((server, zmq)) => {
            servers.push(server);
            holo_zmq = Some(zmq);
        }
        Err(e) => results.problems.push(format!("http: hololinked's HTTP server: {e}")),
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for op in http::HttpOp::ALL {
        for mode in [Mode::Sequential, Mode::Conn64] {
            for server in &servers {
                let meta = http_meta(server.stack, kind, op, mode);
                if o.selected(&meta) {
                    let work = http_work(kind, server, op, mode, http_budget(o, server.stack, mode));
                    measure(results, &server.served, meta, work).await;
                }
            }
        }
    }
    let get = |stack: &str| servers.iter().find(|s| s.stack == stack);
    if let (Some(axum), Some(tw), None) = (get("axum"), get("thingwire"), &o.filter) {
        for op in http::HttpOp::ALL {
            http_rounds(o, results, kind, op, Mode::Sequential, axum, tw).await;
            if let Some(holo) = get("hololinked") {
                http_rounds(o, results, kind, op, Mode::Conn64, holo, tw).await;
            }
        }
    }
    for server in servers.iter().filter(|s| s.stack != "hololinked") {
        if let Err(e) = sse_burst(o, results, server).await {
            results.problems.push(format!("http: SSE from {}: {e}", server.stack));
        }
    }
    if let (Some(holo), Some(zmq)) = (get("hololinked"), &holo_zmq)
        && let Err(e) = sse_hololinked(o, results, &holo.base, zmq).await
    {
        results.problems.push(format!("http: SSE from hololinked: {e}"));
    }
    for s in servers {
        s.served.stop().await;
    }
    Ok(())
}

/// hololinked's server with its HTTP server on; the ZeroMQ address (to drive `emit`) with it.
async fn start_holo_http(o: &Options, results: &mut Results) -> Result<(HttpServer, String), String> {
    let (ws, venv) = (workspace(), o.venv.clone());
    let python = tokio::task::spawn_blocking(move || holo::ensure_venv(&venv)).await.map_err(|e| e.to_string())??;
    if results.machine.python.is_empty() {
        results.machine.python = std::process::Command::new(&python)
            .args(["-c", "import sys, hololinked; print(sys.version.split()[0], 'hololinked', hololinked.__version__)"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
    }
    let (process, zmq) =
        tokio::task::spawn_blocking(move || holo::start_http_server(&python, &ws, "holo-http-bench", http::THING))
            .await
            .map_err(|e| e.to_string())??;
    let base = http::Base::parse(&process.address)?;
    Ok((HttpServer { stack: "hololinked", served: Served::Process(process), base }, zmq))
}

/// hololinked answers in milliseconds: a time budget, longer, so that p99 means something.
fn http_budget(o: &Options, stack: &str, mode: Mode) -> Budget {
    gain_budget(o, stack, mode)
}

/// One pair of the HTTP targets, `ROUNDS` times in alternation (baseline, thingwire, baseline, …).
async fn http_rounds(
    o: &Options,
    results: &mut Results,
    kind: http::ClientKind,
    op: http::HttpOp,
    mode: Mode,
    base: &HttpServer,
    tw: &HttpServer,
) {
    let mut round = report::Round {
        transport: "http".into(),
        raw_op: base.stack.into(),
        op: op.name().into(),
        payload: 8,
        mode,
        raw: Vec::new(),
        thingwire: Vec::new(),
    };
    for _ in 0..ROUNDS {
        for (server, side) in [(base, 0), (tw, 1)] {
            let work = http_work(kind, server, op, mode, http_budget(o, server.stack, mode));
            let record = measure_only(results, &server.served, http_meta(server.stack, kind, op, mode), work).await;
            if side == 0 { round.raw.push(record) } else { round.thingwire.push(record) }
        }
    }
    results.rounds.push(round);
}

fn sse_selected(o: &Options, label: &str) -> bool {
    o.filter.as_ref().is_none_or(|f| label.contains(f.as_str()))
}

fn print_sse(e: &sse::SseRun) {
    println!(
        "  http   {:<10} SSE {:<16}: emitted {} at {:.0}/s, received {} at {:.0}/s, lost {} (server says {}), out of order {}, latency p50 {:.1} µs p99 {:.1} µs",
        e.stack,
        e.name,
        e.emitted,
        e.emit_rate,
        e.received,
        e.receive_rate,
        e.lost,
        e.server_dropped,
        e.out_of_order,
        e.latency.p50_us,
        e.latency.p99_us
    );
}

/// `tick` over SSE from thingwire's HTTP server or the bare axum one (its limit): `burst` emits from a worker
/// thread as fast as it can (faster than any subscriber reads: losses there show the server's buffer), then
/// one event every 9 µs (111 k/s), which the target's "none lost while the subscriber keeps up" is read from.
async fn sse_burst(o: &Options, results: &mut Results, server: &HttpServer) -> Result<(), String> {
    let (stack, base) = (server.stack, &server.base);
    let runs = [
        ("burst", if o.quick { 50_000 } else { 200_000 }, 0),
        // 111 k/s, so that "≥ 100 k/s, none lost" has a margin over the pacing's jitter.
        ("paced 1/9 µs", if o.quick { 20_000 } else { 100_000 }, 9),
    ];
    if !runs.iter().any(|(name, _, _)| sse_selected(o, &format!("{stack} sse {name}"))) {
        return Ok(());
    }
    let burst_path = format!("/{}/burst", http::THING);
    let burst = |count: u64, interval_us: u64, timeout: Duration| {
        let body = serde_json::json!({ "count": count, "interval_us": interval_us });
        let path = burst_path.clone();
        async move { http::post_json::<thing::BurstReport>(base, &path, &body, timeout).await }
    };
    let mut sub = sse::Subscriber::open(base, &format!("/{}/tick", http::THING)).await?;
    // Events emitted before the subscription is in place are not delivered: emit one until one arrives.
    let mut ready = false;
    for _ in 0..100 {
        burst(1, 0, Duration::from_secs(10)).await?;
        if let Ok(Ok(Some(_))) = tokio::time::timeout(Duration::from_millis(100), sub.next()).await {
            ready = true;
            break;
        }
    }
    if !ready {
        return Err("the SSE subscription never received an event".into());
    }
    sse::drain(&mut sub, Duration::from_millis(50)).await;
    for (name, count, interval_us) in runs {
        if !sse_selected(o, &format!("{stack} sse {name}")) {
            continue;
        }
        let receiver = tokio::spawn(sse::receive(sub, count, Duration::from_secs(10), Duration::from_millis(500)));
        let report = burst(count, interval_us, Duration::from_secs(120)).await;
        let (s, received) = receiver.await.map_err(|e| e.to_string())?;
        sub = s;
        let (emitted, emit_rate) = match report {
            Ok(r) => (r.emitted, r.emitted as f64 / r.secs.max(1e-9)),
            Err(e) => {
                results.problems.push(format!("http: SSE {name}: the burst action: {e}"));
                (count, 0.0)
            }
        };
        let run = sse::SseRun {
            stack: stack.into(),
            name: name.into(),
            emitted,
            received: received.count,
            lost: emitted.saturating_sub(received.count),
            out_of_order: received.out_of_order,
            emit_rate,
            receive_rate: received.rate(),
            server_dropped: received.dropped,
            latency: received.latency.summary(),
        };
        print_sse(&run);
        results.sse.push(run);
    }
    Ok(())
}

/// hololinked's `tick` over SSE, its `emit` action driven over ZeroMQ (one request per event) with 64 requests
/// in flight and with one: the rate hololinked reaches, as the context of thingwire's. Its SSE handler holds 3
/// events per subscriber and drops the oldest when the stream falls behind, so losses are its own.
async fn sse_hololinked(o: &Options, results: &mut Results, base: &http::Base, zmq: &str) -> Result<(), String> {
    let runs = [("emit loop, 64 in flight", IN_FLIGHT), ("emit loop, 1 in flight", 1)];
    if !runs.iter().any(|(name, _)| sse_selected(o, &format!("hololinked sse {name}"))) {
        return Ok(());
    }
    let count: u64 = if o.quick { 500 } else { 3_000 };
    let handle = ThingHandle::new(tw::connect(zmq).await.map_err(|e| e.to_string())?, http::THING);
    let emit = |h: ThingHandle, value: u64| async move {
        h.invoke::<serde_json::Value, _>("emit", &serde_json::json!({ "value": value }))
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let mut sub = sse::Subscriber::open(base, &format!("/{}/tick", http::THING)).await?;
    let mut ready = false;
    for _ in 0..100 {
        emit(handle.clone(), 0).await?;
        if let Ok(Ok(Some(_))) = tokio::time::timeout(Duration::from_millis(200), sub.next()).await {
            ready = true;
            break;
        }
    }
    if !ready {
        return Err("the SSE subscription never received an event".into());
    }
    for (name, in_flight) in runs {
        if !sse_selected(o, &format!("hololinked sse {name}")) {
            continue;
        }
        sse::drain(&mut sub, Duration::from_millis(200)).await;
        let receiver = tokio::spawn(sse::receive(sub, count, Duration::from_secs(10), Duration::from_secs(1)));
        let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let emitted = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let start = Instant::now();
        let deadline = start + o.budget(Mode::Sequential).time * 4;
        let tasks: Vec<_> = (0..in_flight)
            .map(|_| {
                let (h, next, emitted) = (handle.clone(), Arc::clone(&next), Arc::clone(&emitted));
                tokio::spawn(async move {
                    loop {
                        let v = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if v >= count || Instant::now() >= deadline {
                            break;
                        }
                        if emit(h.clone(), v).await.is_ok() {
                            emitted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
        let secs = start.elapsed().as_secs_f64();
        let emitted = emitted.load(std::sync::atomic::Ordering::Relaxed);
        let (s, received) = receiver.await.map_err(|e| e.to_string())?;
        sub = s;
        let run = sse::SseRun {
            stack: "hololinked".into(),
            name: name.into(),
            emitted,
            received: received.count,
            lost: emitted.saturating_sub(received.count),
            out_of_order: received.out_of_order,
            emit_rate: emitted as f64 / secs.max(1e-9),
            receive_rate: received.rate(),
            server_dropped: received.dropped,
            latency: received.latency.summary(),
        };
        print_sse(&run);
        results.sse.push(run);
    }
    Ok(())
}

/// `--serve raw|thingwire|axum|thingwire-http --transport ipc|tcp --dir DIR [--things N] [--event-hwm N]
/// [--max-queue N]`: a server process.
fn serve_main(args: &[String]) -> ! {
    let get = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let kind = get("--serve").unwrap_or_default();
    let transport = get("--transport").unwrap_or_else(|| "ipc".into());
    let dir = PathBuf::from(get("--dir").unwrap_or_else(|| std::env::temp_dir().display().to_string()));
    let things: usize = get("--things").and_then(|v| v.parse().ok()).unwrap_or(1).max(1);
    let hwm: Option<i32> = get("--event-hwm").and_then(|v| v.parse().ok());
    let max_queue: Option<usize> = get("--max-queue").and_then(|v| v.parse().ok());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let result: Result<(), String> = runtime.block_on(async {
        match kind.as_str() {
            "raw" => {
                let endpoint = match transport.as_str() {
                    "tcp" => "tcp://127.0.0.1:*".to_owned(),
                    _ => format!("ipc://{}/raw-echo.ipc", dir.display()),
                };
                let (router, bound) = raw::bind(thingwire::transport::context(), &endpoint)?;
                tokio::spawn(raw::serve(router));
                println!("READY {bound}");
                wait_for_stdin_eof().await;
                Ok(())
            }
            "thingwire" => {
                let mut builder =
                    Server::builder(format!("bench-{transport}")).shutdown_grace(Duration::from_millis(200));
                for i in 0..things {
                    builder = builder.thing(BenchThing::new(&thing_id(i)));
                }
                if let Some(h) = hwm {
                    builder = builder.event_high_water_mark(h);
                }
                if let Some(q) = max_queue {
                    builder = builder.max_queue_length(q);
                }
                let (builder, protocol) = match transport.as_str() {
                    "tcp" => (builder.tcp("127.0.0.1:0"), Protocol::Tcp),
                    _ => (builder.ipc_in(&dir), Protocol::Ipc),
                };
                let server = builder.start().await.map_err(|e| e.to_string())?;
                println!("READY {}", server.address(protocol).unwrap_or_default());
                wait_for_stdin_eof().await;
                server.shutdown().await;
                Ok(())
            }
            "axum" => http::serve_axum().await,
            "thingwire-http" => http::serve_thingwire().await,
            other => Err(format!("unknown server kind `{other}`")),
        }
    });
    match result {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("thingwire-bench --serve {kind}: {e}");
            std::process::exit(1);
        }
    }
}

pub(crate) async fn wait_for_stdin_eof() {
    let _ = tokio::task::spawn_blocking(|| {
        let mut buf = [0u8; 64];
        let mut stdin = std::io::stdin();
        while stdin.read(&mut buf).is_ok_and(|n| n > 0) {}
    })
    .await;
}
