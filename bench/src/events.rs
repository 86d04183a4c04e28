//! Events: how many `tick`s per second one subscriber receives over IPC when a Thing emits as fast as it can,
//! how many are lost at a given PUB high-water mark, and how long one takes from `emit` to receipt.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Serialize;
use thingwire::{Subscription, ThingHandle};

use crate::stats::{Latency, Samples};
use crate::thing::{BurstReport, Tick, now_ns};

/// What one burst showed.
#[derive(Debug, Clone, Serialize)]
pub struct EventRun {
    /// What was run: `burst` (tight loop) or `paced`.
    pub name: String,
    /// The server's PUB high-water mark.
    pub high_water_mark: i32,
    /// Events emitted.
    pub emitted: u64,
    /// Events received by the subscriber.
    pub received: u64,
    /// emitted - received.
    pub lost: u64,
    /// Events that arrived out of order or twice.
    pub out_of_order: u64,
    /// Emit rate of the emitting loop, events/s.
    pub emit_rate: f64,
    /// Receive rate: received / (last receipt - first receipt), events/s.
    pub receive_rate: f64,
    /// emit → receipt (wall clock, both processes on this machine).
    pub latency: Latency,
}

#[derive(Serialize)]
struct BurstArgs {
    count: u64,
    interval_us: u64,
}

/// Subscribes and waits until the subscription works (events emitted before that are not delivered).
pub async fn subscribe(handle: &ThingHandle) -> Result<Subscription<Tick>, String> {
    let mut sub = handle.subscribe::<Tick>("tick").await.map_err(|e| e.to_string())?;
    for _ in 0..100 {
        handle
            .invoke::<BurstReport, _>("burst", &BurstArgs { count: 1, interval_us: 0 })
            .await
            .map_err(|e| e.to_string())?;
        if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(100), sub.next()).await {
            // Drain anything else in flight.
            while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(50), sub.next()).await {}
            return Ok(sub);
        }
    }
    Err("the subscription never received an event".into())
}

/// Emits `count` events (one every `interval_us`, or as fast as possible) and receives them.
pub async fn run(
    handle: &ThingHandle,
    sub: Subscription<Tick>,
    name: &str,
    high_water_mark: i32,
    count: u64,
    interval_us: u64,
) -> Result<(EventRun, Subscription<Tick>), String> {
    let receiver = tokio::spawn(receive(sub, count));
    let report = handle
        .with_timeout(Duration::from_secs(120))
        .invoke::<BurstReport, _>("burst", &BurstArgs { count, interval_us })
        .await
        .map_err(|e| e.to_string())?;
    let (sub, received) = receiver.await.map_err(|e| e.to_string())?;
    let run = EventRun {
        name: name.to_owned(),
        high_water_mark,
        emitted: report.emitted,
        received: received.count,
        lost: report.emitted.saturating_sub(received.count),
        out_of_order: received.out_of_order,
        emit_rate: report.emitted as f64 / report.secs.max(1e-9),
        receive_rate: match (received.first, received.last) {
            (Some(a), Some(b)) if received.count > 1 => (received.count - 1) as f64 / (b - a).as_secs_f64().max(1e-9),
            _ => 0.0,
        },
        latency: received.latency.summary(),
    };
    Ok((run, sub))
}

struct Received {
    count: u64,
    out_of_order: u64,
    first: Option<Instant>,
    last: Option<Instant>,
    latency: Samples,
}

/// Receives until `count` events arrived or none came for half a second.
async fn receive(mut sub: Subscription<Tick>, count: u64) -> (Subscription<Tick>, Received) {
    let mut r = Received {
        count: 0,
        out_of_order: 0,
        first: None,
        last: None,
        latency: Samples::with_capacity(count.min(1_000_000) as usize),
    };
    let mut next_seq = 0u64;
    let idle = Duration::from_millis(500);
    while r.count < count {
        match tokio::time::timeout(idle, sub.next()).await {
            Ok(Some(Ok(event))) => {
                let now = Instant::now();
                let t = now_ns();
                r.first.get_or_insert(now);
                r.last = Some(now);
                r.count += 1;
                if event.data.seq < next_seq {
                    r.out_of_order += 1;
                }
                next_seq = event.data.seq + 1;
                r.latency.push(Duration::from_nanos(t.saturating_sub(event.data.t_ns)));
            }
            Ok(Some(Err(e))) => {
                eprintln!("events: bad event: {e}");
            }
            Ok(None) | Err(_) => break,
        }
    }
    (sub, r)
}
