//! Latency samples, loop budgets and the record every measurement produces.

use std::time::{Duration, Instant};

use serde::Serialize;

/// How long one measurement may run: it stops at whichever comes first, `max_ops` operations or `time`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Budget {
    /// Upper bound on measured operations.
    pub max_ops: u64,
    /// Upper bound on the measured time (operations in flight at the deadline still complete).
    #[serde(with = "secs")]
    pub time: Duration,
    /// Unmeasured operations first (connection set-up, allocator and cache warm-up).
    pub warmup_ops: u64,
}

mod secs {
    pub fn serialize<S: serde::Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

impl Budget {
    /// The same budget with an operation cap scaled down for large payloads.
    pub fn for_payload(self, payload: usize) -> Self {
        let max_ops = if payload >= 1 << 20 { self.max_ops.min(5_000) } else { self.max_ops };
        let warmup_ops = if payload >= 1 << 20 { self.warmup_ops.min(10) } else { self.warmup_ops };
        Self { max_ops, warmup_ops, ..self }
    }

    /// The deadline of a run starting now.
    pub fn deadline(&self) -> Instant {
        Instant::now() + self.time
    }
}

/// Round-trip times in nanoseconds.
#[derive(Debug, Default, Clone)]
pub struct Samples(pub Vec<u64>);

impl Samples {
    pub fn with_capacity(n: usize) -> Self {
        Self(Vec::with_capacity(n))
    }

    pub fn push(&mut self, d: Duration) {
        self.0.push(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// p50, p99 and mean, in microseconds (nearest-rank percentiles).
    pub fn summary(mut self) -> Latency {
        if self.0.is_empty() {
            return Latency::default();
        }
        self.0.sort_unstable();
        let n = self.0.len();
        let rank = |q: f64| {
            let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
            self.0[i] as f64 / 1000.0
        };
        let mean = self.0.iter().map(|&x| x as f64).sum::<f64>() / n as f64 / 1000.0;
        Latency { p50_us: rank(0.50), p99_us: rank(0.99), mean_us: mean, max_us: self.0[n - 1] as f64 / 1000.0 }
    }
}

/// A latency distribution's summary, in microseconds.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Latency {
    pub p50_us: f64,
    pub p99_us: f64,
    pub mean_us: f64,
    pub max_us: f64,
}

/// How requests were issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// One request in flight, one connection.
    Sequential,
    /// 64 requests in flight on one connection.
    Pipelined64,
    /// 8 connections, one request in flight on each.
    Conn8,
    /// 64 connections, one request in flight on each (the HTTP section).
    Conn64,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Sequential, Mode::Pipelined64, Mode::Conn8];

    pub fn label(self) -> &'static str {
        match self {
            Mode::Sequential => "sequential",
            Mode::Pipelined64 => "64 in flight",
            Mode::Conn8 => "8 connections",
            Mode::Conn64 => "64 connections",
        }
    }

    /// Connections the mode opens.
    pub fn connections(self) -> usize {
        match self {
            Mode::Sequential | Mode::Pipelined64 => 1,
            Mode::Conn8 => 8,
            Mode::Conn64 => 64,
        }
    }
}

/// One measurement: a workload on a stack over a transport in one mode.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// The server: `raw`, `thingwire`, `hololinked`; in the HTTP section also `axum` (the bare handler).
    pub stack: String,
    /// The client: `tmq` (raw), `rust` (thingwire's), `python` (hololinked's); over HTTP `http1` (the
    /// minimal keep-alive client) or `hyper`.
    pub client: String,
    /// `echo`, `fetch`, `readproperty`, `writeproperty`, `invokeaction echo`, …
    pub op: String,
    /// `bytes`, `Vec<f64>`, `f64`.
    pub data: String,
    /// `inproc`, `ipc`, `tcp`; `http` (HTTP/1.1 over loopback TCP).
    pub transport: String,
    /// Payload size in bytes (the data, before encoding).
    pub payload: usize,
    pub mode: Mode,
    /// Measured operations (completed, including failed ones).
    pub ops: u64,
    /// Failed operations (any failure is also printed).
    pub errors: u64,
    /// Measured wall time.
    pub secs: f64,
    /// Completed operations per second.
    pub ops_per_sec: f64,
    #[serde(flatten)]
    pub latency: Latency,
    /// CPU time the server process spent per operation (server in its own process only).
    pub server_cpu_us_per_op: Option<f64>,
    /// CPU time this benchmark process (the clients) spent per operation, when the server runs in its own
    /// process: what the load generator itself costs.
    pub client_cpu_us_per_op: Option<f64>,
}

/// What a measured loop returns before it becomes a [`Record`].
#[derive(Debug, Default)]
pub struct Outcome {
    pub samples: Samples,
    pub errors: u64,
    /// Unmeasured operations run first (the server's CPU time covers them too).
    pub warmup: u64,
    pub elapsed: Duration,
    pub first_error: Option<String>,
}

impl Outcome {
    pub fn ops(&self) -> u64 {
        self.samples.len() as u64 + self.errors
    }

    pub fn merge(&mut self, other: Outcome) {
        self.samples.extend(other.samples);
        self.errors += other.errors;
        self.warmup += other.warmup;
        self.elapsed = self.elapsed.max(other.elapsed);
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// Size label: `64 B`, `1 KiB`, `1 MiB`.
pub fn size_label(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} B")
    }
}
