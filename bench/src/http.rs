//! The HTTP section: the load generator, the bare axum server (the limit) and thingwire's HTTP server.
//!
//! **What is compared.** Three servers answer the same two requests, each in its own process, over HTTP/1.1
//! with keep-alive on loopback TCP:
//!
//! * `GET <base>/bench/gain` → `200`, `Content-Type: application/json`, body `1.0`;
//! * `POST <base>/bench/add` with `Content-Type: application/json` and `{"a":1,"b":2}` → `3.0` (hololinked
//!   answers `3`: its `add` adds the two JSON integers; every client checks the number, not the bytes).
//!
//! The servers: a **bare axum 0.8 handler** returning exactly thingwire's bytes with no framework logic
//! (`--serve axum`: the limit of an axum/hyper server on this machine), **thingwire's HTTP binding** serving the
//! bench Thing (`--serve thingwire-http`, behind the cargo feature `http-binding`), and **hololinked 0.4.2's
//! tornado HTTP server** serving `tests/python/hololinked_server.py`'s `InteropThing`.
//!
//! **The load generator** is a minimal keep-alive HTTP/1.1 client ([`Conn`]): the request is prepared once as
//! bytes, written with one `write`, and the response is parsed with `httparse` (what hyper itself uses) from a
//! reused buffer, with `Content-Length` and chunked bodies, and a reconnect when the server says
//! `Connection: close`. Why not hyper's client: hyper 1's client connection (`hyper::client::conn::http1`, which
//! `THINGWIRE_BENCH_HTTP_CLIENT=hyper` selects, as a cross-check) runs the connection as a task of its own fed
//! through a channel, two more task wake-ups per request. Against the bare handler, back to back on this 2-CPU
//! machine, it measured a sequential p50 of 37–85 µs where the minimal client measured 22–23 µs, and cost
//! 27–60 µs of client CPU per sequential request (minimal: 13) and 8.6 µs at 64 connections (minimal:
//! 6.6–7.2). Its 64-connection throughput was about the same. Every record carries the client's CPU per
//! request (`client_cpu_us_per_op`: this process, read from `/proc` like the server's), because client and
//! server share the two CPUs: at 64 connections the load generator uses about as much CPU per request as the
//! bare axum server (7 µs against 8), so the limit's throughput is bounded by the two CPUs shared between
//! them, and a server's figure by its own cost plus the client's.
//!
//! **Modes.** *Sequential*: one connection, one request at a time (p50/p99 of the round trip, op/s).
//! *64 connections*: 64 connections, one request in flight on each (op/s, p50/p99). Each connection is opened
//! and warmed up before the clock starts. The servers' CPU per request is read from `/proc` as elsewhere.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::stats::{Budget, Outcome};
use crate::thing::{Tick, emit_loop};

/// The Thing every HTTP server serves under this id.
pub const THING: &str = "bench";

/// A server's base URL, split: where to connect, the `Host` header, and the path prefix (`""` or `/api`).
#[derive(Debug, Clone)]
pub struct Base {
    pub addr: SocketAddr,
    pub host: String,
    pub prefix: String,
}

impl Base {
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| format!("not an http:// URL: `{url}`"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let addr = authority
            .to_socket_addrs()
            .map_err(|e| format!("`{url}`: {e}"))?
            .next()
            .ok_or_else(|| format!("`{url}` resolves to no address"))?;
        Ok(Self { addr, host: authority.to_owned(), prefix: path.trim_end_matches('/').to_owned() })
    }
}

/// The two measured operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpOp {
    /// `GET /bench/gain` → `1.0`.
    Read,
    /// `POST /bench/add` `{"a":1,"b":2}` → `3.0`.
    Add,
}

impl HttpOp {
    pub const ALL: [HttpOp; 2] = [HttpOp::Read, HttpOp::Add];

    /// The same names as the ZeroMQ comparison's.
    pub fn name(self) -> &'static str {
        match self {
            HttpOp::Read => "readproperty gain",
            HttpOp::Add => "invokeaction add",
        }
    }

    /// The request, and the number its reply must hold.
    pub fn request(self, base: &Base) -> Req {
        match self {
            HttpOp::Read => Req::get(base, &format!("/{THING}/gain"), 1.0),
            HttpOp::Add => Req::post(base, &format!("/{THING}/add"), br#"{"a":1,"b":2}"#, 3.0),
        }
    }
}

/// A prepared request: its bytes for the minimal client, its parts for hyper, and the expected number.
#[derive(Debug, Clone)]
pub struct Req {
    pub bytes: Vec<u8>,
    pub post: bool,
    pub path: String,
    pub host: String,
    pub body: Bytes,
    pub expect: f64,
}

impl Req {
    pub fn get(base: &Base, path: &str, expect: f64) -> Self {
        let path = format!("{}{path}", base.prefix);
        let bytes = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", base.host).into_bytes();
        Self { bytes, post: false, path, host: base.host.clone(), body: Bytes::new(), expect }
    }

    /// A POST with a JSON body (hololinked's HTTP server requires the content type).
    pub fn post(base: &Base, path: &str, body: &[u8], expect: f64) -> Self {
        let path = format!("{}{path}", base.prefix);
        let mut bytes = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            base.host,
            body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(body);
        Self { bytes, post: true, path, host: base.host.clone(), body: Bytes::copy_from_slice(body), expect }
    }
}

/// Which client drives the loops: the minimal one (default) or hyper's (`THINGWIRE_BENCH_HTTP_CLIENT=hyper`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    Minimal,
    Hyper,
}

impl ClientKind {
    pub fn from_env() -> Self {
        match std::env::var("THINGWIRE_BENCH_HTTP_CLIENT").as_deref() {
            Ok("hyper") => ClientKind::Hyper,
            _ => ClientKind::Minimal,
        }
    }

    /// The `client` field of the records.
    pub fn name(self) -> &'static str {
        match self {
            ClientKind::Minimal => "http1",
            ClientKind::Hyper => "hyper",
        }
    }
}

/// A response's status line and framing.
struct Head {
    status: u16,
    /// `Content-Length`, when given.
    length: Option<usize>,
    chunked: bool,
    close: bool,
}

/// The minimal keep-alive HTTP/1.1 client connection.
pub struct Conn {
    addr: SocketAddr,
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// A chunked body, decoded.
    body: Vec<u8>,
    /// The server said `Connection: close`: reconnect before the next request.
    closed: bool,
}

const READ_SIZE: usize = 64 * 1024;

impl Conn {
    pub async fn connect(addr: SocketAddr) -> Result<Self, String> {
        let stream = TcpStream::connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Self { addr, stream, buf: vec![0; READ_SIZE], start: 0, end: 0, body: Vec::new(), closed: false })
    }

    /// Sends `request` and reads the whole response: its status and body.
    pub async fn call(&mut self, request: &[u8]) -> Result<(u16, &[u8]), String> {
        if self.closed {
            *self = Self::connect(self.addr).await?;
        }
        self.stream.write_all(request).await.map_err(|e| format!("write: {e}"))?;
        let head = self.head().await?;
        self.closed = head.close;
        if head.chunked {
            self.body.clear();
            let mut decoder = Chunked::default();
            while !decoder.done {
                let used = decoder.decode(&self.buf[self.start..self.end], &mut self.body)?;
                self.start += used;
                if !decoder.done {
                    self.fill().await?;
                }
            }
            return Ok((head.status, &self.body));
        }
        let length = match head.length {
            Some(n) => n,
            None if head.status == 204 || head.status == 304 => 0,
            None => return Err(format!("status {}: a response without a length", head.status)),
        };
        while self.end - self.start < length {
            self.fill().await?;
        }
        let body = self.start..self.start + length;
        self.start += length;
        Ok((head.status, &self.buf[body]))
    }

    /// Sends `request` and returns the response's status and body as a stream (for Server-Sent Events).
    pub async fn open_stream(mut self, request: &[u8]) -> Result<(u16, BodyStream), String> {
        self.stream.write_all(request).await.map_err(|e| format!("write: {e}"))?;
        let head = self.head().await?;
        let status = head.status;
        let left = if head.chunked { None } else { head.length };
        Ok((status, BodyStream { conn: self, chunked: head.chunked, decoder: Chunked::default(), left }))
    }

    /// Reads until a complete response head is buffered, parses it and consumes it.
    async fn head(&mut self) -> Result<Head, String> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buf[self.start..self.end]) {
                Ok(httparse::Status::Complete(n)) => {
                    let status = response.code.unwrap_or(0);
                    let mut head = Head { status, length: None, chunked: false, close: false };
                    for h in response.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            head.length = std::str::from_utf8(h.value).ok().and_then(|v| v.trim().parse().ok());
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                            head.chunked = h.value.windows(7).any(|w| w.eq_ignore_ascii_case(b"chunked"));
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            head.close = h.value.windows(5).any(|w| w.eq_ignore_ascii_case(b"close"));
                        }
                    }
                    self.start += n;
                    // 1xx responses (100 Continue) precede the real one.
                    if (100..200).contains(&status) {
                        continue;
                    }
                    return Ok(head);
                }
                Ok(httparse::Status::Partial) => self.fill().await?,
                Err(e) => return Err(format!("bad response head: {e}")),
            }
        }
    }

    /// Reads more bytes into the buffer (compacting it first); an error at end of stream.
    async fn fill(&mut self) -> Result<(), String> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.end == self.buf.len() {
                self.buf.resize(self.buf.len() * 2, 0);
            }
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await.map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            self.closed = true;
            return Err("the server closed the connection".into());
        }
        self.end += n;
        Ok(())
    }
}

/// An incremental decoder of `Transfer-Encoding: chunked`.
#[derive(Debug, Default)]
struct Chunked {
    /// Data bytes left in the current chunk.
    left: usize,
    /// After a chunk's data: its CRLF is next.
    crlf: bool,
    /// After the last chunk: trailers until an empty line.
    trailers: bool,
    done: bool,
}

impl Chunked {
    /// Decodes what `input` holds into `out`; returns how many input bytes it used.
    fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, String> {
        let mut at = 0;
        while !self.done && at < input.len() {
            if self.left > 0 {
                let n = self.left.min(input.len() - at);
                out.extend_from_slice(&input[at..at + n]);
                at += n;
                self.left -= n;
                if self.left == 0 {
                    self.crlf = true;
                }
                continue;
            }
            // A line: the CRLF after data, a size line, or a trailer line.
            let Some(nl) = input[at..].iter().position(|&b| b == b'\n') else { break };
            let line = &input[at..at + nl];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            at += nl + 1;
            if self.crlf {
                if !line.is_empty() {
                    return Err("chunked body: data longer than its chunk size".into());
                }
                self.crlf = false;
            } else if self.trailers {
                if line.is_empty() {
                    self.done = true;
                }
            } else {
                let hex = line.split(|&b| b == b';').next().unwrap_or(b"");
                let hex = std::str::from_utf8(hex).map_err(|_| "chunked body: bad size line")?.trim();
                let size = usize::from_str_radix(hex, 16).map_err(|_| format!("chunked body: bad size `{hex}`"))?;
                if size == 0 {
                    self.trailers = true;
                } else {
                    self.left = size;
                }
            }
        }
        Ok(at)
    }
}

/// A response body read as it arrives.
pub struct BodyStream {
    conn: Conn,
    chunked: bool,
    decoder: Chunked,
    /// Identity bodies: bytes left, when a length was given.
    left: Option<usize>,
}

impl BodyStream {
    /// Appends the next bytes of the body to `out`; `Ok(false)` at its end.
    pub async fn read(&mut self, out: &mut Vec<u8>) -> Result<bool, String> {
        loop {
            let c = &mut self.conn;
            if self.chunked {
                if self.decoder.done {
                    return Ok(false);
                }
                let before = out.len();
                let used = self.decoder.decode(&c.buf[c.start..c.end], out)?;
                c.start += used;
                if out.len() > before {
                    return Ok(true);
                }
            } else {
                if self.left == Some(0) {
                    return Ok(false);
                }
                let n = (c.end - c.start).min(self.left.unwrap_or(usize::MAX));
                if n > 0 {
                    out.extend_from_slice(&c.buf[c.start..c.start + n]);
                    c.start += n;
                    self.left = self.left.map(|l| l - n);
                    return Ok(true);
                }
            }
            match c.fill().await {
                Ok(()) => {}
                Err(_) if !self.chunked && self.left.is_none() => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }
}

/// hyper 1's client connection (`THINGWIRE_BENCH_HTTP_CLIENT=hyper`).
pub struct HyperConn {
    addr: SocketAddr,
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl HyperConn {
    pub async fn connect(addr: SocketAddr) -> Result<Self, String> {
        let stream = TcpStream::connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP/1.1 handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self { addr, sender })
    }

    async fn call(&mut self, req: &Req) -> Result<(u16, Bytes), String> {
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let mut builder = hyper::Request::builder()
            .method(if req.post { hyper::Method::POST } else { hyper::Method::GET })
            .uri(req.path.as_str())
            .header(hyper::header::HOST, req.host.as_str());
        if req.post {
            builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let request = builder.body(Full::new(req.body.clone())).map_err(|e| e.to_string())?;
        let response = self.sender.send_request(request).await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((status, body))
    }
}

/// A connection of either client.
pub enum AnyConn {
    Minimal(Conn),
    Hyper(HyperConn),
}

impl AnyConn {
    pub async fn connect(kind: ClientKind, addr: SocketAddr) -> Result<Self, String> {
        Ok(match kind {
            ClientKind::Minimal => AnyConn::Minimal(Conn::connect(addr).await?),
            ClientKind::Hyper => AnyConn::Hyper(HyperConn::connect(addr).await?),
        })
    }

    fn kind(&self) -> ClientKind {
        match self {
            AnyConn::Minimal(_) => ClientKind::Minimal,
            AnyConn::Hyper(_) => ClientKind::Hyper,
        }
    }

    fn addr(&self) -> SocketAddr {
        match self {
            AnyConn::Minimal(c) => c.addr,
            AnyConn::Hyper(c) => c.addr,
        }
    }

    /// One request; an error unless the status is 200 and the body is the expected number.
    pub async fn call(&mut self, req: &Req) -> Result<(), String> {
        match self {
            AnyConn::Minimal(c) => {
                let (status, body) = c.call(&req.bytes).await?;
                check(status, body, req.expect)
            }
            AnyConn::Hyper(c) => {
                let (status, body) = c.call(req).await?;
                check(status, &body, req.expect)
            }
        }
    }
}

fn check(status: u16, body: &[u8], expect: f64) -> Result<(), String> {
    let value = std::str::from_utf8(body).ok().and_then(|s| s.trim().parse::<f64>().ok());
    if status == 200 && value == Some(expect) {
        Ok(())
    } else {
        let shown = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        Err(format!("status {status}, body `{shown}` (expected 200 and {expect})"))
    }
}

async fn warm_up(conn: &mut AnyConn, req: &Req, ops: u64) -> Result<(), String> {
    for _ in 0..ops {
        conn.call(req).await?;
    }
    Ok(())
}

/// One connection's measured loop, until `deadline` or `max_ops` requests over all loops sharing `issued`.
async fn worker(mut conn: AnyConn, req: Arc<Req>, issued: Arc<AtomicU64>, max_ops: u64, deadline: Instant) -> Outcome {
    let mut out = Outcome::default();
    let start = Instant::now();
    while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < max_ops {
        let t = Instant::now();
        match conn.call(&req).await {
            Ok(()) => out.samples.push(t.elapsed()),
            Err(e) => {
                out.errors += 1;
                out.first_error.get_or_insert(e);
                if out.errors > 10 {
                    break;
                }
                // A failed exchange leaves the connection in an unknown state: start a new one.
                match AnyConn::connect(conn.kind(), conn.addr()).await {
                    Ok(c) => conn = c,
                    Err(_) => break,
                }
            }
        }
    }
    out.elapsed = start.elapsed();
    out
}

/// One connection, one request at a time.
pub async fn sequential(kind: ClientKind, base: &Base, req: &Req, budget: Budget) -> Outcome {
    let mut conn = match AnyConn::connect(kind, base.addr).await {
        Ok(c) => c,
        Err(e) => return Outcome { errors: 1, first_error: Some(e), ..Default::default() },
    };
    if let Err(e) = warm_up(&mut conn, req, budget.warmup_ops).await {
        return Outcome { errors: 1, first_error: Some(e), ..Default::default() };
    }
    let mut out =
        worker(conn, Arc::new(req.clone()), Arc::new(AtomicU64::new(0)), budget.max_ops, budget.deadline()).await;
    out.warmup = budget.warmup_ops;
    out
}

/// `connections` connections, one request in flight on each. All are opened and warmed up first.
pub async fn connections(kind: ClientKind, base: &Base, req: &Req, budget: Budget, connections: usize) -> Outcome {
    let per = budget.warmup_ops.div_ceil(connections as u64).max(1);
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        let mut conn = match AnyConn::connect(kind, base.addr).await {
            Ok(c) => c,
            Err(e) => return Outcome { errors: 1, first_error: Some(e), ..Default::default() },
        };
        if let Err(e) = warm_up(&mut conn, req, per).await {
            return Outcome { errors: 1, first_error: Some(e), ..Default::default() };
        }
        conns.push(conn);
    }
    let req = Arc::new(req.clone());
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = budget.deadline();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|c| tokio::spawn(worker(c, Arc::clone(&req), Arc::clone(&issued), budget.max_ops, deadline)))
        .collect();
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
    out.elapsed = start.elapsed();
    out.warmup = per * connections as u64;
    out
}

/// A POST answered with JSON (the `burst` action), on a fresh connection of the minimal client, with a timeout.
pub async fn post_json<T: serde::de::DeserializeOwned>(
    base: &Base,
    path: &str,
    body: &serde_json::Value,
    timeout: Duration,
) -> Result<T, String> {
    let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    let req = Req::post(base, path, &body, f64::NAN);
    let call = async {
        let mut conn = Conn::connect(base.addr).await?;
        let (status, body) = conn.call(&req.bytes).await?;
        if status != 200 {
            return Err(format!("POST {path}: status {status}: {}", String::from_utf8_lossy(body)));
        }
        serde_json::from_slice(body).map_err(|e| format!("POST {path}: {e}: {}", String::from_utf8_lossy(body)))
    };
    tokio::time::timeout(timeout, call).await.map_err(|_| format!("POST {path}: no reply within {timeout:?}"))?
}

/// `--serve axum`: the bare axum server, on a loopback port; prints `READY http://127.0.0.1:<port>`.
///
/// Its `gain` and `add` handlers return exactly the bytes thingwire's binding returns for the same requests,
/// with no framework logic: no routing by Thing, no lookup, no (de)serialisation (the action's body is received
/// whole, as any server must, and not parsed). HTTP/1.1 and h2c on one port, as the binding serves them.
///
/// `GET /bench/tick` and `POST /bench/burst` are the limit of Server-Sent Events the same way: `burst` runs
/// [`emit_loop`] on a blocking thread into a tokio broadcast channel (room for the whole burst), each
/// subscriber's stream serialises the `Tick` to JSON and axum's `Sse` frames it as `data: …`.
pub async fn serve_axum() -> Result<(), String> {
    use axum::http::header::CONTENT_TYPE;
    use axum::response::sse::{Event, Sse};
    use axum::routing::{get, post};
    use tokio::sync::broadcast;
    const JSON: [(axum::http::HeaderName, &str); 1] = [(CONTENT_TYPE, "application/json")];
    let (ticks, _) = broadcast::channel::<Tick>(1 << 18);
    let subscribe = ticks.clone();
    let tick = get(move || {
        let stream = futures::stream::unfold(subscribe.subscribe(), |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(t) => {
                        let data = serde_json::to_string(&t).unwrap_or_default();
                        return Some((Ok::<_, std::convert::Infallible>(Event::default().data(data)), rx));
                    }
                    // A subscriber that fell behind loses the oldest: its sequence numbers show it.
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        async move { Sse::new(stream) }
    });
    let burst = post(move |body: Bytes| {
        let ticks = ticks.clone();
        async move {
            #[derive(serde::Deserialize)]
            struct Args {
                count: u64,
                interval_us: u64,
            }
            let Ok(args) = serde_json::from_slice::<Args>(&body) else {
                return (axum::http::StatusCode::BAD_REQUEST, JSON, Bytes::new());
            };
            let report =
                tokio::task::spawn_blocking(move || emit_loop(args.count, args.interval_us, |t| ticks.send(t).is_ok()))
                    .await;
            match report.ok().and_then(|r| serde_json::to_vec(&r).ok()) {
                Some(body) => (axum::http::StatusCode::OK, JSON, Bytes::from(body)),
                None => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, JSON, Bytes::new()),
            }
        }
    });
    let app = axum::Router::new()
        .route(&format!("/{THING}/gain"), get(|| async { (JSON, Bytes::from_static(b"1.0")) }))
        .route(&format!("/{THING}/add"), post(|_body: Bytes| async { (JSON, Bytes::from_static(b"3.0")) }))
        .route(&format!("/{THING}/tick"), tick)
        .route(&format!("/{THING}/burst"), burst);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // axum 0.8's `serve` leaves Nagle's algorithm on; a request/response server turns it off.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    println!("READY http://{addr}");
    let shutdown = crate::wait_for_stdin_eof();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await.map_err(|e| e.to_string())
}

/// Whether this build has thingwire's HTTP binding (the cargo feature `http-binding`).
pub const BINDING: bool = cfg!(feature = "http-binding");

/// `--serve thingwire-http`: the bench Thing served by thingwire's HTTP binding; prints `READY <base URL>`.
///
/// **The one place that uses the binding's API.** Switch it on with the bench crate's feature `http-binding`
/// once `Server::builder(..).http(addr)` and `Server::http_base_url()` exist.
#[cfg(feature = "http-binding")]
pub async fn serve_thingwire() -> Result<(), String> {
    let server = thingwire::Server::builder("bench-http")
        .thing(crate::thing::BenchThing::new(THING))
        .http("127.0.0.1:0")
        .shutdown_grace(Duration::from_millis(200))
        .start()
        .await
        .map_err(|e| e.to_string())?;
    let base = server.http_base_url().ok_or("the server has no HTTP base URL")?;
    println!("READY {base}");
    crate::wait_for_stdin_eof().await;
    server.shutdown().await;
    Ok(())
}

#[cfg(not(feature = "http-binding"))]
pub async fn serve_thingwire() -> Result<(), String> {
    Err("this build has no HTTP binding (build thingwire-bench with --features http-binding)".into())
}
