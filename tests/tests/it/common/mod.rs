//! Shared test fixtures: the hand-written `Sensor` Thing, servers on each transport, and a raw tmq client
//! that speaks the wire protocol frame by frame (as hololinked's client does: a ROUTER addressing the
//! server by its id).

pub mod broker;
pub mod browser;
pub mod node;
pub mod python;
pub mod sensor;
pub mod sync;
pub mod tdd;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use thingwire::transport::Protocol;
use thingwire::{Server, Thing};

pub use sensor::Sensor;

/// Asks the `sensor` Thing to emit ticks until `ticks` yields one (bounded: 50 tries, 100 ms each): a fresh
/// subscription may miss the first events while it connects. `None` when none arrived.
pub async fn first_tick(
    client: &thingwire::Client,
    ticks: &mut thingwire::Subscription<sensor::Tick>,
) -> Option<sensor::Tick> {
    for n in 0..50 {
        client.invoke::<(), _>("sensor", "emit", &json!({"value": n})).await.expect("emit");
        if let Ok(Some(tick)) = tokio::time::timeout(Duration::from_millis(100), ticks.next()).await {
            return Some(tick.expect("decodes").data);
        }
    }
    None
}

/// Frames as sent or received, as byte vectors.
pub type Frames = Vec<Vec<u8>>;

/// A folder under the workspace's `target/` for this test run (IPC sockets, scratch files).
/// `s` as one URL path segment: every byte but RFC 3986's unreserved characters percent-encoded (a TD id in a
/// Thing Directory's `/things/<id>`, as a client must send it).
pub fn path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn scratch_dir(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-scratch").join(format!(
        "{}-{}-{}",
        name,
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Starts a server with `things` on one transport; returns it and its request address.
pub async fn serve_on(
    protocol: Protocol,
    server_id: &str,
    things: Vec<Box<dyn FnOnce(thingwire::ServerBuilder) -> thingwire::ServerBuilder>>,
) -> (Server, String) {
    let mut builder = Server::builder(server_id);
    for add in things {
        builder = add(builder);
    }
    builder = match protocol {
        Protocol::Tcp => builder.tcp("127.0.0.1:0"),
        Protocol::Ipc => builder.ipc_in(scratch_dir("ipc")),
        Protocol::Inproc => builder.inproc(),
    };
    let server = builder.start().await.expect("server starts");
    let address = server.address(protocol).expect("bound").to_owned();
    (server, address)
}

/// A `Sensor` server on `protocol`, with a unique server id.
pub async fn sensor_server(protocol: Protocol) -> (Server, String) {
    static N: AtomicU32 = AtomicU32::new(0);
    let id = format!("srv-{}-{}", protocol.as_str().to_lowercase(), N.fetch_add(1, Ordering::Relaxed));
    serve_on(protocol, &id, vec![thing(Sensor::new("sensor"))]).await
}

/// Adds a Thing to a builder (for [`serve_on`]).
pub fn thing<T: Thing>(t: T) -> Box<dyn FnOnce(thingwire::ServerBuilder) -> thingwire::ServerBuilder> {
    Box::new(move |b| b.thing(t))
}

pub const ALL_TRANSPORTS: [Protocol; 3] = [Protocol::Inproc, Protocol::Ipc, Protocol::Tcp];

/// A raw ROUTER client, addressing the server by id exactly as hololinked's client does.
pub struct RawClient {
    socket: tmq::router::Router,
    pub id: String,
    pub server_id: String,
    counter: u32,
}

impl RawClient {
    pub async fn connect(address: &str, server_id: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let id = format!("raw-client-{}", N.fetch_add(1, Ordering::Relaxed));
        let socket = tmq::router(thingwire::transport::context())
            .set_identity(id.as_bytes())
            .set_linger(0)
            .connect(address)
            .expect("connect");
        let mut client = Self { socket, id, server_id: server_id.to_owned(), counter: 0 };
        client.handshake().await;
        client
    }

    /// Sends handshakes until one is answered (ROUTER-to-ROUTER drops messages until the peer is known).
    async fn handshake(&mut self) {
        for _ in 0..100 {
            let header = self.header("HANDSHAKE", "", Some(""), "", json!({}));
            let id = header["messageID"].as_str().expect("id").to_owned();
            self.send_frames(vec![
                self.server_id.clone().into_bytes(),
                vec![],
                to_bytes(&header),
                b"null".to_vec(),
                vec![],
            ])
            .await;
            if let Some(reply) = self.recv_timeout(Duration::from_millis(100)).await {
                let h: Value = serde_json::from_slice(&reply[2]).expect("header json");
                assert_eq!(h["messageType"], "HANDSHAKE");
                if h["messageID"] == id.as_str() {
                    return;
                }
            }
        }
        panic!("no handshake reply from {}", self.server_id);
    }

    /// A request header with defaults; `extra` keys are merged in (use `null` values to remove keys).
    pub fn header(
        &mut self,
        message_type: &str,
        thing: &str,
        objekt: Option<&str>,
        operation: &str,
        extra: Value,
    ) -> Value {
        self.counter += 1;
        let mut h = json!({
            "messageType": message_type,
            "messageID": format!("{}-{}", self.id, self.counter),
            "senderID": self.id,
            "receiverID": self.server_id,
            "serverExecutionContext": {"invokationTimeout": 5, "executionTimeout": 5, "oneway": false},
            "thingExecutionContext": {"fetchExecutionLogs": false},
            "thingID": thing,
            "objekt": objekt,
            "operation": operation,
            "payloadContentType": "application/json",
            "preencodedPayloadContentType": "text/plain",
        });
        if let Value::Object(extra) = extra {
            for (k, v) in extra {
                if v.is_null() && k != "objekt" {
                    h.as_object_mut().expect("object").remove(&k);
                } else {
                    h[k] = v;
                }
            }
        }
        h
    }

    /// Sends a request without waiting for its reply.
    pub async fn send(&mut self, header: &Value, payload: Vec<u8>) {
        self.send_frames(vec![self.server_id.clone().into_bytes(), vec![], to_bytes(header), payload, vec![]]).await;
    }

    pub async fn send_frames(&mut self, frames: Frames) {
        let multipart: Vec<zmq::Message> = frames.into_iter().map(zmq::Message::from).collect();
        self.socket.send(multipart).await.expect("send");
    }

    pub async fn recv_timeout(&mut self, timeout: Duration) -> Option<Frames> {
        match tokio::time::timeout(timeout, self.socket.next()).await {
            Ok(Some(Ok(m))) => Some(m.iter().map(|f| f.to_vec()).collect()),
            Ok(other) => panic!("socket failed: {other:?}"),
            Err(_) => None,
        }
    }

    /// Receives the next message or fails the test after 5 s.
    pub async fn recv(&mut self) -> Frames {
        self.recv_timeout(Duration::from_secs(5)).await.expect("a reply within 5 s")
    }

    /// Sends an operation with a JSON payload and returns (messageType, decoded payload, frame 4).
    pub async fn op(&mut self, thing: &str, objekt: Option<&str>, operation: &str, payload: Value) -> Reply {
        let header = self.header("OPERATION", thing, objekt, operation, json!({}));
        self.exchange(header, to_bytes(&payload), vec![]).await
    }

    /// Sends a request with the given header and payload frames; waits for the reply with the same id.
    pub async fn exchange(&mut self, header: Value, payload: Vec<u8>, preserialized: Vec<u8>) -> Reply {
        let id = header["messageID"].clone();
        self.send_frames(vec![self.server_id.clone().into_bytes(), vec![], to_bytes(&header), payload, preserialized])
            .await;
        loop {
            let frames = self.recv().await;
            let reply = Reply::parse(&frames);
            if reply.header["messageID"] == id {
                return reply;
            }
        }
    }
}

/// A decoded reply.
#[derive(Debug, Clone)]
pub struct Reply {
    pub header: Value,
    pub kind: String,
    pub payload: Value,
    pub raw_payload: Vec<u8>,
    pub preserialized: Vec<u8>,
}

impl Reply {
    pub fn parse(frames: &Frames) -> Self {
        assert_eq!(frames.len(), 5, "a reply has 5 frames: {frames:?}");
        assert!(frames[1].is_empty(), "frame 1 is the empty delimiter");
        let header: Value = serde_json::from_slice(&frames[2]).expect("reply header is JSON");
        let keys: Vec<&str> = header.as_object().expect("object").keys().map(String::as_str).collect();
        for k in &keys {
            assert!(
                [
                    "messageType",
                    "messageID",
                    "receiverID",
                    "senderID",
                    "payloadContentType",
                    "preencodedPayloadContentType"
                ]
                .contains(k),
                "unexpected response header key {k}: hololinked's client rejects it"
            );
        }
        let ct = header["payloadContentType"].as_str().unwrap_or("application/json");
        let payload = if ct == "application/msgpack" {
            rmp_serde::from_slice(&frames[3]).expect("msgpack payload")
        } else if ct == "application/x-thingwire-msgpack" {
            thingwire::protocol::decode(&frames[3], &thingwire::protocol::ContentType::ThingwireMsgpack)
                .expect("packed msgpack payload")
        } else {
            serde_json::from_slice(&frames[3]).expect("JSON payload (never an empty frame)")
        };
        Self {
            kind: header["messageType"].as_str().unwrap_or_default().to_owned(),
            header,
            payload,
            raw_payload: frames[3].clone(),
            preserialized: frames[4].clone(),
        }
    }

    /// The exception `type`, for EXCEPTION/INVALID_MESSAGE replies.
    pub fn error_type(&self) -> &str {
        self.payload["exception"]["type"].as_str().unwrap_or_default()
    }

    pub fn error_message(&self) -> &str {
        self.payload["exception"]["message"].as_str().unwrap_or_default()
    }

    /// Asserts this is an EXCEPTION of `kind` whose message contains `text`, in hololinked's shape.
    #[track_caller]
    pub fn assert_exception(&self, kind: &str, text: &str) {
        assert_eq!(self.kind, "EXCEPTION", "{self:?}");
        self.assert_error_shape(kind, text);
    }

    #[track_caller]
    pub fn assert_error_shape(&self, kind: &str, text: &str) {
        assert_eq!(self.error_type(), kind, "{self:?}");
        assert!(self.error_message().contains(text), "`{}` should contain `{text}`", self.error_message());
        let tb = self.payload["exception"]["traceback"].as_array().expect("traceback list");
        assert!(!tb.is_empty(), "hololinked's client needs a non-empty traceback");
        assert!(self.payload["exception"].get("notes").is_some(), "notes key present");
    }
}

pub fn to_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("json")
}
