//! `--only gateway` (issue 18): a property read through a gateway against the same read straight from its
//! backend, in the same run, alternating; then one gateway in front of 20 backend servers with 10 Things each.
//!
//! Everything runs in this process over loopback TCP (the gateway's real-world link), on the benchmark's runtime:
//! the client, the gateway and the backends share the machine's cores, as they do on one lab PC; on separate
//! PCs the gateway has its cores to itself.
//!
//! Targets: sequential p50 through the gateway ≤ 1.5 × direct p50 + one loopback hop (a raw ZeroMQ echo round
//! trip of 64 B, measured here); 64-in-flight throughput through the gateway ≥ 70 % of direct.

use std::sync::Arc;
use std::time::Duration;

use thingwire::remote::Backend;
use thingwire::{Protocol, Server, ThingHandle};

use crate::raw;
use crate::stats::{Budget, Outcome};
use crate::thing::BenchThing;
use crate::tw::{self, Data, Kind, Op, Workload};

/// The medians of one measure, direct and through the gateway.
struct Pair {
    direct: Vec<f64>,
    gateway: Vec<f64>,
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn checked(out: Outcome, what: &str) -> Result<Outcome, String> {
    match (&out.first_error, out.errors) {
        (Some(e), n) if n > 0 => Err(format!("{what}: {n} errors, the first: {e}")),
        _ => Ok(out),
    }
}

fn throughput(out: &Outcome) -> f64 {
    out.samples.len() as f64 / out.elapsed.as_secs_f64().max(1e-9)
}

/// A thingwire server on a free loopback port serving `things` bench Things.
async fn backend(id: &str, things: impl IntoIterator<Item = String>) -> Result<Server, String> {
    let mut builder = Server::builder(id).tcp("127.0.0.1:0");
    for thing in things {
        builder = builder.thing(BenchThing::new(&thing));
    }
    builder.start().await.map_err(|e| format!("backend {id}: {e}"))
}

async fn gateway(id: &str, backends: &[&Server]) -> Result<Server, String> {
    let mut builder = Server::builder(id).tcp("127.0.0.1:0");
    for b in backends {
        builder = builder.backend(Backend::new(b.address(Protocol::Tcp).ok_or("no tcp address")?));
    }
    builder.start().await.map_err(|e| format!("gateway {id}: {e}"))
}

fn tcp(server: &Server) -> Result<String, String> {
    server.address(Protocol::Tcp).map(str::to_owned).ok_or_else(|| "no tcp address".into())
}

/// A read of one Thing among many, round robin: the scale run's operation.
#[derive(Clone)]
pub(crate) struct Spread {
    pub(crate) handles: Arc<Vec<ThingHandle>>,
    pub(crate) next: Arc<std::sync::atomic::AtomicUsize>,
    pub(crate) workload: Arc<Workload>,
}

impl Op for Spread {
    async fn call(&self, _: &ThingHandle) -> Result<(), String> {
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.handles.len();
        self.workload.run(&self.handles[i]).await
    }
}

/// Runs the section; its lines for the report, or what went wrong.
pub async fn section(quick: bool, rounds: usize) -> Result<Vec<String>, String> {
    let time = if quick { Duration::from_millis(500) } else { Duration::from_secs(2) };
    let budget = Budget { max_ops: u64::MAX, time, warmup_ops: 200 };
    let workload = Arc::new(Workload::new(Kind::Read, Data::F64, 64));
    let mut lines = Vec::new();

    // The loopback hop: a raw ZeroMQ echo of 64 B over TCP.
    let (router, raw_address) = raw::bind(thingwire::transport::context(), "tcp://127.0.0.1:*")?;
    let echo = tokio::spawn(raw::serve(router));
    let mut raw_client = raw::RawClient::connect(thingwire::transport::context(), &raw_address, raw::RawOp::Echo, 64)?;
    let mut hops = Vec::new();
    for _ in 0..rounds {
        hops.push(checked(raw_client.sequential(budget).await, "raw echo")?.samples.summary().p50_us);
    }
    drop(raw_client);
    echo.abort();
    let hop = median(&hops);

    // One backend, one Thing: direct and through a gateway, alternating.
    let back = backend("bench-backend", ["bench".to_owned()]).await?;
    let gw = gateway("bench-gateway", &[&back]).await?;
    let direct = ThingHandle::new(tw::connect(&tcp(&back)?).await.map_err(|e| e.to_string())?, "bench");
    let through = ThingHandle::new(tw::connect(&tcp(&gw)?).await.map_err(|e| e.to_string())?, "bench");
    workload.prepare(&direct).await.map_err(|e| e.to_string())?;
    let mut p50 = Pair { direct: Vec::new(), gateway: Vec::new() };
    let mut p99 = Pair { direct: Vec::new(), gateway: Vec::new() };
    let mut rate = Pair { direct: Vec::new(), gateway: Vec::new() };
    let mut cpu = Pair { direct: Vec::new(), gateway: Vec::new() };
    let me = std::process::id();
    for round in 0..rounds {
        let order = if round % 2 == 0 { [false, true] } else { [true, false] };
        for via_gateway in order {
            let handle = if via_gateway { &through } else { &direct };
            let what = if via_gateway { "through the gateway" } else { "direct" };
            let seq = checked(tw::sequential(&workload, handle, budget).await, what)?.samples.summary();
            let before = crate::child::cpu_time(me);
            let piped = checked(tw::pipelined(&workload, handle, budget, 64).await, what)?;
            let used = crate::child::cpu_time(me).saturating_sub(before);
            let per_op = used.as_secs_f64() * 1e6 / (piped.samples.len() as f64 + budget.warmup_ops as f64);
            let (a, b, c, d) = if via_gateway {
                (&mut p50.gateway, &mut p99.gateway, &mut rate.gateway, &mut cpu.gateway)
            } else {
                (&mut p50.direct, &mut p99.direct, &mut rate.direct, &mut cpu.direct)
            };
            a.push(seq.p50_us);
            b.push(seq.p99_us);
            c.push(throughput(&piped));
            d.push(per_op);
        }
    }
    drop((direct, through));
    gw.shutdown().await;
    back.shutdown().await;
    let (d50, g50) = (median(&p50.direct), median(&p50.gateway));
    let (d99, g99) = (median(&p99.direct), median(&p99.gateway));
    let (drate, grate) = (median(&rate.direct), median(&rate.gateway));
    let bound = 1.5 * d50 + hop;
    let verdict = |ok: bool| if ok { "met" } else { "missed" };
    lines.push(format!("  readproperty Vec<f64> 64 B over tcp, {rounds} alternating rounds of {time:?} each, medians"));
    lines.push(format!("  loopback hop (raw ZeroMQ echo 64 B) p50 {hop:>8.1} µs"));
    lines.push(format!(
        "  direct       sequential p50 {d50:>8.1} µs  p99 {d99:>8.1} µs   64 in flight {drate:>9.0} op/s"
    ));
    lines.push(format!(
        "  via gateway  sequential p50 {g50:>8.1} µs  p99 {g99:>8.1} µs   64 in flight {grate:>9.0} op/s"
    ));
    lines.push(format!(
        "  sequential p50: {g50:.1} vs 1.5 × {d50:.1} + {hop:.1} = {bound:.1} µs (target: at most; {})",
        verdict(g50 <= bound)
    ));
    lines.push(format!(
        "  64 in flight: {:.0} % of direct (target ≥ 70 %: {})",
        100.0 * grate / drate,
        verdict(grate >= 0.7 * drate)
    ));
    let (dcpu, gcpu) = (median(&cpu.direct), median(&cpu.gateway));
    lines.push(format!(
        "  CPU per read, 64 in flight, whole process (client + gateway + backend): direct {dcpu:.1} µs, via gateway \
         {gcpu:.1} µs ({:.2}×)",
        gcpu / dcpu
    ));

    // Scale: 20 backends × 10 Things behind one gateway.
    let (servers, per) = if quick { (5, 4) } else { (20, 10) };
    let mut backends = Vec::with_capacity(servers);
    for s in 0..servers {
        backends.push(backend(&format!("bench-pc-{s}"), (0..per).map(|t| format!("pc{s}-thing{t}"))).await?);
    }
    let started = std::time::Instant::now();
    let gw = gateway("bench-lab-gateway", &backends.iter().collect::<Vec<_>>()).await?;
    let gateway_start = started.elapsed();
    let front = tw::connect(&tcp(&gw)?).await.map_err(|e| e.to_string())?;
    let mut through = Vec::new();
    let mut straight = Vec::new();
    for (s, b) in backends.iter().enumerate() {
        let client = tw::connect(&tcp(b)?).await.map_err(|e| e.to_string())?;
        for t in 0..per {
            let id = format!("pc{s}-thing{t}");
            through.push(ThingHandle::new(front.clone(), &id));
            straight.push(ThingHandle::new(client.clone(), &id));
        }
    }
    for h in &straight {
        workload.prepare(h).await.map_err(|e| e.to_string())?;
    }
    let mut scale = Pair { direct: Vec::new(), gateway: Vec::new() };
    let mut scale_p99 = Pair { direct: Vec::new(), gateway: Vec::new() };
    for round in 0..rounds {
        let order = if round % 2 == 0 { [false, true] } else { [true, false] };
        for via_gateway in order {
            let handles = if via_gateway { through.clone() } else { straight.clone() };
            let first = handles[0].clone();
            let op = Spread { handles: Arc::new(handles), next: Arc::default(), workload: Arc::clone(&workload) };
            let what = if via_gateway { "scale, through the gateway" } else { "scale, direct" };
            let out = checked(tw::pipelined(&op, &first, budget, 64).await, what)?;
            let rate = throughput(&out);
            let p99 = out.samples.summary().p99_us;
            if via_gateway {
                scale.gateway.push(rate);
                scale_p99.gateway.push(p99);
            } else {
                scale.direct.push(rate);
                scale_p99.direct.push(p99);
            }
        }
    }
    drop((through, straight, front));
    gw.shutdown().await;
    for b in backends {
        b.shutdown().await;
    }
    let (sd, sg) = (median(&scale.direct), median(&scale.gateway));
    lines.push(format!(
        "  scale: {servers} backends × {per} Things ({} Things) behind one gateway (started in {:.0} ms), reads spread \
         round robin, 64 in flight",
        servers * per,
        gateway_start.as_secs_f64() * 1e3
    ));
    lines.push(format!(
        "    direct (one connection per backend) {sd:>9.0} op/s  p99 {:>8.1} µs",
        median(&scale_p99.direct)
    ));
    lines.push(format!(
        "    through the gateway                 {sg:>9.0} op/s  p99 {:>8.1} µs   ({:.0} % of direct)",
        median(&scale_p99.gateway),
        100.0 * sg / sd
    ));
    Ok(lines)
}
