//! The Thing every thingwire measurement drives, written with the macros as a user would.
//!
//! `gain` and `add` mirror `tests/python/hololinked_server.py`, so hololinked's Python client runs the same
//! operations against either server.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thingwire::prelude::*;

/// Data of the `tick` event: a sequence number and the emitter's wall clock, to measure loss and latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Tick {
    /// 0, 1, 2, … within one burst.
    pub seq: u64,
    /// Nanoseconds since the Unix epoch when the event was emitted.
    pub t_ns: u64,
}

/// What `burst` did.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
pub struct BurstReport {
    /// Events emitted.
    pub emitted: u64,
    /// Emits that returned an error.
    pub failed: u64,
    /// Time the emitting loop took.
    pub secs: f64,
}

/// Wall clock in nanoseconds (shared by processes on one machine).
pub fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// Emits `count` ticks through `emit` (false: it failed), as fast as possible (`interval_us` 0) or one every
/// `interval_us` microseconds: the loop of `burst`, shared with the bare axum server's SSE endpoint.
pub fn emit_loop(count: u64, interval_us: u64, mut emit: impl FnMut(Tick) -> bool) -> BurstReport {
    let start = Instant::now();
    let mut failed = 0;
    for seq in 0..count {
        if interval_us > 0 {
            let due = start + Duration::from_micros(interval_us.saturating_mul(seq));
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        if !emit(Tick { seq, t_ns: now_ns() }) {
            failed += 1;
        }
    }
    BurstReport { emitted: count, failed, secs: start.elapsed().as_secs_f64() }
}

/// The benchmark Thing.
#[thing(title = "Benchmark thing")]
pub struct BenchThing {
    id: String,
    /// A bounded number, as `gain` of the hololinked interop Thing.
    #[property(minimum = 0.1, maximum = 100)]
    gain: f64,
    /// Numbers, read and written with payloads of every size.
    #[property]
    values: Vec<f64>,
    /// Raw bytes, read and written with payloads of every size.
    #[property]
    blob: Bytes,
    /// Emitted by `burst`.
    #[event]
    tick: Event<Tick>,
}

impl BenchThing {
    pub fn new(id: &str) -> Self {
        Self { id: id.into(), gain: 1.0, values: vec![0.0; 8], blob: Bytes(vec![0; 64]), tick: Event::new() }
    }
}

#[thing]
impl BenchThing {
    /// Adds two numbers (as the hololinked interop Thing's `add`).
    #[action]
    fn add(&self, a: f64, b: f64) -> f64 {
        a + b
    }

    /// Returns its argument.
    #[action]
    fn echo(&self, values: Vec<f64>) -> Vec<f64> {
        values
    }

    /// Returns its argument, raw bytes in the preserialized frame both ways.
    #[action]
    fn echo_bytes(&self, data: Bytes) -> Bytes {
        data
    }

    /// Emits `count` `tick` events from a worker thread, as fast as possible (`interval_us` 0) or one every
    /// `interval_us` microseconds.
    #[action(threaded)]
    fn burst(&self, count: u64, interval_us: u64) -> BurstReport {
        emit_loop(count, interval_us, |tick| self.tick.emit(&tick).is_ok())
    }
}
