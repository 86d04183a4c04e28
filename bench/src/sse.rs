//! Server-Sent Events over HTTP/1.1: one subscriber reading `GET <base>/bench/tick` (`text/event-stream`),
//! counting the events, their order and losses by the sequence number each carries.
//!
//! thingwire's `tick` carries `Tick { seq, t_ns }` (emitted by the threaded `burst` action, so the latency
//! `receipt − t_ns` is measured too); hololinked's `InteropThing` carries `{"value": n}` (pushed by its `emit`
//! action, one request per event), read as the sequence number.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::http::{Base, BodyStream, Conn};
use crate::stats::{Latency, Samples};
use crate::thing::now_ns;

/// What one run showed.
#[derive(Debug, Clone, Serialize)]
pub struct SseRun {
    /// The server: `thingwire` or `hololinked`.
    pub stack: String,
    /// `burst` (emitted in a tight loop), `paced …`, or `emit loop` (hololinked: 64 `emit` requests in flight).
    pub name: String,
    /// Events emitted.
    pub emitted: u64,
    /// Events the subscriber received.
    pub received: u64,
    /// emitted − received.
    pub lost: u64,
    /// Events that arrived with a lower sequence number than one before them.
    pub out_of_order: u64,
    /// Emit rate, events/s.
    pub emit_rate: f64,
    /// Receive rate: (received − 1) ÷ (last receipt − first receipt), events/s.
    pub receive_rate: f64,
    /// Drops the server announced in comment lines (`: 12 events dropped: …`, thingwire's binding).
    pub server_dropped: u64,
    /// emit → receipt (thingwire's `t_ns`; empty for hololinked, whose events carry no time).
    pub latency: Latency,
}

/// One SSE stream.
pub struct Subscriber {
    stream: BodyStream,
    buf: Vec<u8>,
    /// Parsed up to here.
    at: usize,
    /// The data of the event being read.
    data: Vec<u8>,
    has_data: bool,
    /// Events the server said it dropped (`: <n> events dropped…` comment lines).
    pub dropped: u64,
}

impl Subscriber {
    /// Opens `GET <base><path>` and waits for the response head (status 200 and an event stream).
    pub async fn open(base: &Base, path: &str) -> Result<Self, String> {
        let conn = Conn::connect(base.addr).await?;
        let request = format!(
            "GET {}{path} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n",
            base.prefix, base.host
        );
        let open = conn.open_stream(request.as_bytes());
        let (status, stream) = tokio::time::timeout(Duration::from_secs(10), open)
            .await
            .map_err(|_| format!("GET {path}: no response head within 10 s"))??;
        if status != 200 {
            return Err(format!("GET {path}: status {status}"));
        }
        Ok(Self { stream, buf: Vec::with_capacity(256 * 1024), at: 0, data: Vec::new(), has_data: false, dropped: 0 })
    }

    /// The data of the next event; `None` at the end of the stream. Fields other than `data` are ignored.
    pub async fn next(&mut self) -> Result<Option<&[u8]>, String> {
        loop {
            if self.parse_event() {
                return Ok(Some(&self.data));
            }
            // Keep the unparsed tail only.
            if self.at == self.buf.len() {
                self.buf.clear();
                self.at = 0;
            } else if self.at > 128 * 1024 {
                self.buf.drain(..self.at);
                self.at = 0;
            }
            if !self.stream.read(&mut self.buf).await? {
                return Ok(None);
            }
        }
    }

    /// Consumes complete lines; true when an event ended (its data is in `self.data`).
    fn parse_event(&mut self) -> bool {
        while let Some(nl) = self.buf[self.at..].iter().position(|&b| b == b'\n') {
            let line = &self.buf[self.at..self.at + nl];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            self.at += nl + 1;
            if line.is_empty() {
                if self.has_data {
                    self.has_data = false;
                    return true;
                }
                continue;
            }
            if let Some(comment) = line.strip_prefix(b":") {
                self.dropped += dropped_count(comment);
            } else if let Some(value) = line.strip_prefix(b"data:") {
                let value = value.strip_prefix(b" ").unwrap_or(value);
                if self.has_data {
                    self.data.push(b'\n');
                } else {
                    self.data.clear();
                    self.has_data = true;
                }
                self.data.extend_from_slice(value);
            }
        }
        false
    }
}

/// `n` from a comment ` <n> events dropped…`, else 0.
fn dropped_count(comment: &[u8]) -> u64 {
    let text = std::str::from_utf8(comment).unwrap_or("").trim_start();
    match text.split_once(' ') {
        Some((n, rest)) if rest.starts_with("events dropped") => n.parse().unwrap_or(0),
        _ => 0,
    }
}

/// An event's data: thingwire's `Tick` or hololinked's `{"value": n}`.
#[derive(Debug, Deserialize)]
struct Data {
    seq: Option<u64>,
    value: Option<u64>,
    t_ns: Option<u64>,
}

/// What [`receive`] counted.
pub struct Received {
    pub count: u64,
    pub out_of_order: u64,
    pub first: Option<Instant>,
    pub last: Option<Instant>,
    pub latency: Samples,
    pub bad: u64,
    /// Drops the server announced during the run.
    pub dropped: u64,
}

impl Received {
    pub fn rate(&self) -> f64 {
        match (self.first, self.last) {
            (Some(a), Some(b)) if self.count > 1 => (self.count - 1) as f64 / (b - a).as_secs_f64().max(1e-9),
            _ => 0.0,
        }
    }
}

/// Receives until `count` events arrived, or none came for `idle` (the first may take `first_wait`).
pub async fn receive(mut sub: Subscriber, count: u64, first_wait: Duration, idle: Duration) -> (Subscriber, Received) {
    let mut r = Received {
        count: 0,
        out_of_order: 0,
        first: None,
        last: None,
        latency: Samples::with_capacity(count.min(1_000_000) as usize),
        bad: 0,
        dropped: 0,
    };
    let dropped_before = sub.dropped;
    let mut next_seq = 0u64;
    while r.count < count {
        let wait = if r.count == 0 { first_wait } else { idle };
        match tokio::time::timeout(wait, sub.next()).await {
            Ok(Ok(Some(data))) => {
                let now = Instant::now();
                let Ok(d) = serde_json::from_slice::<Data>(data) else {
                    r.bad += 1;
                    continue;
                };
                r.first.get_or_insert(now);
                r.last = Some(now);
                r.count += 1;
                let seq = d.seq.or(d.value).unwrap_or(next_seq);
                if seq < next_seq {
                    r.out_of_order += 1;
                }
                next_seq = seq + 1;
                if let Some(t) = d.t_ns {
                    r.latency.push(Duration::from_nanos(now_ns().saturating_sub(t)));
                }
            }
            Ok(Ok(None)) | Ok(Err(_)) | Err(_) => break,
        }
    }
    r.dropped = sub.dropped - dropped_before;
    (sub, r)
}

/// Drains whatever arrives until nothing has for `idle`.
pub async fn drain(sub: &mut Subscriber, idle: Duration) {
    while let Ok(Ok(Some(_))) = tokio::time::timeout(idle, sub.next()).await {}
}
