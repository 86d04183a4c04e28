//! The baseline: a tmq ROUTER that echoes (or sends back N bytes), driven by tmq DEALERs. The same sockets,
//! options and async plumbing thingwire uses, with no protocol: the limit of our stack.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tmq::{AsZmqSocket, FromZmqSocket};

use crate::stats::{Budget, Outcome, Samples};

/// Request prefix asking the server for `<decimal size>` bytes instead of an echo.
const FETCH: &[u8] = b"FETCH ";

/// Binds a ROUTER at `endpoint` (`tcp://127.0.0.1:*` allowed) with thingwire's socket options; returns it
/// and the bound endpoint.
pub fn bind(ctx: &zmq::Context, endpoint: &str) -> Result<(tmq::router::Router, String), String> {
    let socket = ctx.socket(zmq::ROUTER).map_err(|e| e.to_string())?;
    socket.set_identity(b"raw-echo").map_err(|e| e.to_string())?;
    socket.set_router_mandatory(true).map_err(|e| e.to_string())?;
    socket.set_linger(0).map_err(|e| e.to_string())?;
    socket.set_rcvhwm(100_000).map_err(|e| e.to_string())?;
    socket.set_sndhwm(100_000).map_err(|e| e.to_string())?;
    socket.bind(endpoint).map_err(|e| format!("binding {endpoint}: {e}"))?;
    let bound =
        socket.get_last_endpoint().map_err(|e| e.to_string())?.map_err(|_| "endpoint is not UTF-8".to_owned())?;
    let router = tmq::router::Router::from_zmq_socket(socket).map_err(|e| e.to_string())?;
    Ok((router, bound))
}

/// Serves until the socket fails: echoes `[peer, "", payload]` back, or answers `FETCH <n>` with `n` bytes
/// (copied from a prepared buffer, as a server copies its data into a message).
pub async fn serve(mut router: tmq::router::Router) {
    let mut blob: Vec<u8> = Vec::new();
    while let Some(Ok(multipart)) = router.next().await {
        let mut frames: Vec<zmq::Message> = multipart.0.into();
        if let Some(size) = frames.last().and_then(|f| f.strip_prefix(FETCH)).and_then(parse_size) {
            if blob.len() < size {
                blob = (0..size).map(|i| i as u8).collect();
            }
            if let Some(last) = frames.last_mut() {
                *last = zmq::Message::from(&blob[..size]);
            }
        }
        if let Err(e) = router.get_socket().send_multipart(frames, zmq::DONTWAIT) {
            eprintln!("raw echo: reply not sent: {e}");
        }
    }
}

fn parse_size(digits: &[u8]) -> Option<usize> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// What a raw client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawOp {
    /// `payload` bytes up, the same back.
    Echo,
    /// A few bytes up, `payload` bytes back: the raw transfer time of a property read.
    Fetch,
}

impl RawOp {
    pub fn name(self) -> &'static str {
        match self {
            RawOp::Echo => "echo",
            RawOp::Fetch => "fetch",
        }
    }
}

/// One DEALER connection.
pub struct RawClient {
    dealer: tmq::dealer::Dealer,
    request: Vec<u8>,
    expect: usize,
}

impl RawClient {
    pub fn connect(ctx: &zmq::Context, endpoint: &str, op: RawOp, payload: usize) -> Result<Self, String> {
        let socket = ctx.socket(zmq::DEALER).map_err(|e| e.to_string())?;
        socket.set_linger(0).map_err(|e| e.to_string())?;
        socket.set_rcvhwm(100_000).map_err(|e| e.to_string())?;
        socket.set_sndhwm(100_000).map_err(|e| e.to_string())?;
        socket.connect(endpoint).map_err(|e| format!("connecting to {endpoint}: {e}"))?;
        let dealer = tmq::dealer::Dealer::from_zmq_socket(socket).map_err(|e| e.to_string())?;
        let request = match op {
            RawOp::Echo => (0..payload).map(|i| (i * 7) as u8).collect(),
            RawOp::Fetch => [FETCH, payload.to_string().as_bytes()].concat(),
        };
        Ok(Self { dealer, request, expect: payload })
    }

    fn send(&self) -> Result<(), String> {
        // A fresh message per request, as any client builds one from its data.
        let frames: [&[u8]; 2] = [b"", &self.request];
        self.dealer.get_socket().send_multipart(frames, zmq::DONTWAIT).map_err(|e| format!("send: {e}"))
    }

    async fn recv(&mut self) -> Result<(), String> {
        match self.dealer.next().await {
            Some(Ok(m)) => {
                let got = m.iter().last().map(|f| f.len()).unwrap_or(0);
                if got == self.expect { Ok(()) } else { Err(format!("reply of {got} bytes, expected {}", self.expect)) }
            }
            Some(Err(e)) => Err(format!("recv: {e}")),
            None => Err("socket closed".into()),
        }
    }

    async fn round_trip(&mut self) -> Result<(), String> {
        self.send()?;
        self.recv().await
    }

    /// One request in flight at a time.
    pub async fn sequential(&mut self, budget: Budget) -> Outcome {
        for _ in 0..budget.warmup_ops {
            if let Err(e) = self.round_trip().await {
                return Outcome { errors: 1, first_error: Some(e), ..Default::default() };
            }
        }
        let mut out = Outcome {
            samples: Samples::with_capacity(budget.max_ops.min(200_000) as usize),
            warmup: budget.warmup_ops,
            ..Default::default()
        };
        let start = Instant::now();
        let deadline = start + budget.time;
        while out.ops() < budget.max_ops && Instant::now() < deadline {
            let t = Instant::now();
            match self.round_trip().await {
                Ok(()) => out.samples.push(t.elapsed()),
                Err(e) => {
                    out.errors += 1;
                    out.first_error.get_or_insert(e);
                    break;
                }
            }
        }
        out.elapsed = start.elapsed();
        out
    }

    /// `window` requests in flight on this one connection (the server answers in order).
    pub async fn pipelined(&mut self, budget: Budget, window: usize) -> Outcome {
        for _ in 0..budget.warmup_ops {
            if let Err(e) = self.round_trip().await {
                return Outcome { errors: 1, first_error: Some(e), ..Default::default() };
            }
        }
        let mut out = Outcome {
            samples: Samples::with_capacity(budget.max_ops.min(500_000) as usize),
            warmup: budget.warmup_ops,
            ..Default::default()
        };
        let mut in_flight: VecDeque<Instant> = VecDeque::with_capacity(window);
        let mut sent = 0u64;
        let start = Instant::now();
        let deadline = start + budget.time;
        loop {
            while in_flight.len() < window && sent < budget.max_ops && Instant::now() < deadline {
                if let Err(e) = self.send() {
                    out.errors += 1;
                    out.first_error.get_or_insert(e);
                    break;
                }
                in_flight.push_back(Instant::now());
                sent += 1;
            }
            let Some(t) = in_flight.pop_front() else { break };
            match tokio::time::timeout(Duration::from_secs(10), self.recv()).await {
                Ok(Ok(())) => out.samples.push(t.elapsed()),
                Ok(Err(e)) => {
                    out.errors += 1;
                    out.first_error.get_or_insert(e);
                }
                Err(_) => {
                    out.errors += in_flight.len() as u64 + 1;
                    out.first_error.get_or_insert_with(|| "no reply within 10 s".into());
                    break;
                }
            }
        }
        out.elapsed = start.elapsed();
        out
    }
}

/// `connections` DEALERs, one request in flight on each.
pub async fn multi_connection(
    ctx: &zmq::Context,
    endpoint: &str,
    op: RawOp,
    payload: usize,
    connections: usize,
    budget: Budget,
) -> Outcome {
    let per = Budget { max_ops: budget.max_ops.div_ceil(connections as u64), ..budget };
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let client = RawClient::connect(ctx, endpoint, op, payload);
        tasks.push(tokio::spawn(async move {
            match client {
                Ok(mut c) => c.sequential(per).await,
                Err(e) => Outcome { errors: 1, first_error: Some(e), ..Default::default() },
            }
        }));
    }
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
