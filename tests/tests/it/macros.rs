//! A Thing written only with the macros, served over tcp and ipc, driven end to end by its generated client
//! and by hololinked 0.4.2's Python client.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thingwire::prelude::*;

/// Data of the `tick` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Tick {
    /// The value given to `emit`.
    pub value: i64,
}

/// A device error with its own type name on the wire.
#[derive(Debug)]
pub struct DeviceError(String);

impl std::fmt::Display for DeviceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "device says: {}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Internal,
    External,
}

/// A sensor written with the macros.
#[thing(title = "Macro sensor")]
pub struct MacroSensor {
    id: String,
    /// Amplifier gain
    #[property(minimum = 0.1, maximum = 100, observable, default = 1.0)]
    gain: f64,
    /// Serial number
    #[property(read_only)]
    serial: String,
    #[property]
    mode: String,
    #[property(min_items = 1, max_items = 4)]
    channels: Vec<u8>,
    #[property(rename = "trigger")]
    trigger_mode: Mode,
    /// Something happened
    #[event]
    tick: Event<Tick>,
    side_effects: Arc<AtomicU32>,
    temperature: f64,
}

impl MacroSensor {
    pub fn new(id: &str) -> Self {
        Self {
            id: id.into(),
            gain: 1.0,
            serial: "SN-001".into(),
            mode: "internal".into(),
            channels: vec![1],
            trigger_mode: Mode::Internal,
            tick: Event::new(),
            side_effects: Arc::new(AtomicU32::new(0)),
            temperature: 21.5,
        }
    }
}

#[thing]
impl MacroSensor {
    /// Adds two numbers.
    #[action(safe, idempotent)]
    fn add(&self, a: f64, b: f64) -> f64 {
        a + b
    }

    /// Always fails with a ValueError.
    #[action]
    fn fail(&self, message: String) -> Result<(), ThingError> {
        Err(ThingError::value_error(message))
    }

    /// Fails with a user error type.
    #[action]
    fn broken(&mut self) -> Result<u32, DeviceError> {
        Err(DeviceError("overheated".into()))
    }

    /// Sleeps, concurrently with the queue.
    #[action(concurrent)]
    async fn sleep(&self, seconds: f64) {
        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    }

    /// Publishes `tick`.
    #[action]
    fn emit(&mut self, value: i64) -> Result<(), ThingError> {
        self.tick.emit(&Tick { value }).map_err(|e| ThingError::runtime(e.to_string()))
    }

    /// Sleeps in the queue, then counts a side effect.
    #[action(execution_timeout = "10s")]
    async fn slow(&mut self, seconds: f64) -> u32 {
        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
        self.side_effects.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Blocks a worker thread.
    #[action(threaded)]
    fn block(&self, seconds: f64) -> String {
        std::thread::sleep(Duration::from_secs_f64(seconds));
        "done".into()
    }

    /// Scales values; `factor` defaults to 2, `offset` may be left out.
    #[action]
    fn scale(
        &self,
        #[param(min_items = 1)] values: Vec<f64>,
        #[param(minimum = 0, default = 2.0)] factor: f64,
        offset: Option<f64>,
    ) -> Vec<f64> {
        values.iter().map(|v| v * factor + offset.unwrap_or(0.0)).collect()
    }

    /// Echoes raw bytes through the preserialized frame.
    #[action(rename = "echo_bytes")]
    fn echo(&self, data: Bytes) -> Bytes {
        data
    }

    /// Side effects counted so far.
    #[property]
    fn side_effects(&self) -> u32 {
        self.side_effects.load(Ordering::SeqCst)
    }

    /// Temperature setpoint in °C.
    #[property(minimum = -20, maximum = 80, unit = "°C")]
    fn setpoint(&self) -> f64 {
        self.temperature
    }

    #[property(setter)]
    fn set_setpoint(&mut self, value: f64) -> Result<(), DeviceError> {
        if value == 13.0 {
            return Err(DeviceError("unlucky".into()));
        }
        self.temperature = value;
        Ok(())
    }
}

async fn serve(protocol: thingwire::Protocol) -> (Server, String) {
    let builder =
        Server::builder(format!("macro-{}", protocol.as_str().to_lowercase())).thing(MacroSensor::new("sensor"));
    let builder = match protocol {
        thingwire::Protocol::Tcp => builder.tcp("127.0.0.1:0"),
        thingwire::Protocol::Ipc => builder.ipc_in(crate::common::scratch_dir("macro")),
        thingwire::Protocol::Inproc => builder.inproc(),
    };
    let server = builder.start().await.expect("starts");
    let address = server.address(protocol).expect("bound").to_owned();
    (server, address)
}

async fn drive_with_generated_client(address: &str) {
    let sensor = MacroSensorClient::connect(address, "sensor").await.expect("connect");
    // Properties: read, write, bounds, read-only, renamed, enum, getter/setter.
    assert_eq!(sensor.gain().await.expect("gain"), 1.0);
    sensor.set_gain(2.5).await.expect("set gain");
    assert_eq!(sensor.gain().await.expect("gain"), 2.5);
    let err = sensor.set_gain(1000.0).await.expect_err("out of range");
    let remote = err.remote().expect("remote error");
    assert_eq!(remote.kind, "ValueError");
    assert!(remote.message.contains("property `gain` must be at most 100"), "{}", remote.message);
    assert_eq!(sensor.serial().await.expect("serial"), "SN-001");
    sensor.set_channels(vec![1, 2, 3]).await.expect("channels");
    let err = sensor.set_channels(vec![]).await.expect_err("too few");
    assert!(err.remote().expect("remote").message.contains("at least 1 items"), "{err}");
    sensor.set_trigger_mode(Mode::External).await.expect("trigger");
    assert_eq!(sensor.trigger_mode().await.expect("trigger"), Mode::External);
    sensor.set_mode("external".into()).await.expect("mode");
    assert_eq!(sensor.setpoint().await.expect("setpoint"), 21.5);
    sensor.set_setpoint(30.0).await.expect("setpoint");
    assert_eq!(sensor.setpoint().await.expect("setpoint"), 30.0);
    let err = sensor.set_setpoint(99.0).await.expect_err("bound on a setter");
    assert!(err.remote().expect("remote").message.contains("at most 80"), "{err}");
    let err = sensor.set_setpoint(13.0).await.expect_err("user error in a setter");
    assert_eq!(err.remote().expect("remote").kind, "DeviceError");

    // Actions.
    assert_eq!(sensor.add(1.0, 2.0).await.expect("add"), 3.0);
    let err = sensor.fail("boom".into()).await.expect_err("fails");
    assert_eq!(
        (err.remote().expect("remote").kind.as_str(), err.remote().expect("remote").message.as_str()),
        ("ValueError", "boom")
    );
    let err = sensor.broken().await.expect_err("user error");
    let remote = err.remote().expect("remote");
    assert_eq!((remote.kind.as_str(), remote.message.as_str()), ("DeviceError", "device says: overheated"));
    assert_eq!(sensor.scale(vec![1.0, 2.0], 3.0, Some(1.0)).await.expect("scale"), vec![4.0, 7.0]);
    let err = sensor.scale(vec![1.0], -1.0, None).await.expect_err("negative factor");
    assert!(err.remote().expect("remote").message.contains("argument `factor` of `scale` must be at least 0"), "{err}");
    let err = sensor.scale(vec![], 1.0, None).await.expect_err("empty values");
    assert!(err.remote().expect("remote").message.contains("argument `values`"), "{err}");
    assert_eq!(sensor.echo(Bytes(vec![9, 8, 7])).await.expect("bytes").0, vec![9, 8, 7]);
    assert_eq!(sensor.block(0.01).await.expect("threaded"), "done");
    assert_eq!(sensor.slow(0.01).await.expect("slow"), 1);

    // Both timeouts, through per-call options.
    let short = sensor.with_options(thingwire::CallOptions {
        execution_timeout: Some(Duration::from_millis(100)),
        ..Default::default()
    });
    let err = short.slow(1.0).await.expect_err("execution timeout");
    assert!(
        matches!(err, ClientError::ServerTimeout { kind: thingwire::protocol::TimeoutKind::Execution, .. }),
        "{err:?}"
    );
    let mut occupying = std::pin::pin!(sensor.slow(0.5));
    // Its first poll sends it, so the `add` below goes out after it on the same connection and waits behind it
    // in the queue.
    assert!(futures::poll!(occupying.as_mut()).is_pending());
    let impatient = sensor.with_options(thingwire::CallOptions {
        invocation_timeout: Some(Duration::from_millis(100)),
        ..Default::default()
    });
    let err = impatient.add(1.0, 1.0).await.expect_err("invocation timeout");
    assert!(
        matches!(err, ClientError::ServerTimeout { kind: thingwire::protocol::TimeoutKind::Invocation, .. }),
        "{err:?}"
    );
    occupying.await.expect("the occupying call finished");
    assert_eq!(
        sensor.side_effects().await.expect("count"),
        2,
        "the timed-out `slow` was cancelled before its side effect"
    );
    let err = sensor.with_timeout(Duration::from_millis(50)).sleep(1.0).await.expect_err("client deadline");
    assert!(matches!(err, ClientError::Timeout { .. }), "{err:?}");

    // Events and observable changes.
    let mut ticks = sensor.tick().subscribe().await.expect("subscribe");
    let mut changes = sensor.gain_changes().await.expect("subscribe changes");
    let mut got_tick = None;
    for n in 0..50 {
        sensor.emit(n).await.expect("emit");
        if let Ok(Some(t)) = tokio::time::timeout(Duration::from_millis(100), ticks.next()).await {
            got_tick = Some(t.expect("decodes").data);
            break;
        }
    }
    assert!(matches!(got_tick, Some(Tick { .. })), "a tick arrived");
    let mut got_change = None;
    for n in 0..50 {
        sensor.set_gain(3.0 + f64::from(n)).await.expect("set");
        if let Ok(Some(c)) = tokio::time::timeout(Duration::from_millis(100), changes.next()).await {
            got_change = Some(c.expect("decodes").data);
            break;
        }
    }
    assert!(got_change.is_some_and(|g| g >= 3.0), "a change arrived: {got_change:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_client_drives_a_macro_thing_over_tcp() {
    let (server, address) = serve(thingwire::Protocol::Tcp).await;
    drive_with_generated_client(&address).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_client_drives_a_macro_thing_over_ipc() {
    let (server, address) = serve(thingwire::Protocol::Ipc).await;
    drive_with_generated_client(&address).await;
    server.shutdown().await;
}

/// `values` as a packed array of `application/x-thingwire-msgpack`: ext 32 of type `F`, little-endian doubles.
fn packed(values: &[f64]) -> Vec<u8> {
    let mut out = vec![0xc9];
    out.extend_from_slice(&u32::try_from(values.len() * 8).expect("fits").to_be_bytes());
    out.push(b'F');
    out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thingwire_peers_send_bulk_numbers_packed_and_hololinked_peers_never_see_it() {
    use serde_json::json;
    let (server, address) = serve(thingwire::Protocol::Tcp).await;

    // On the wire: the HANDSHAKE reply names the packed content type in frame 4, as JSON.
    let mut raw = crate::common::RawClient::connect(&address, "macro-tcp").await;
    let header = raw.header("HANDSHAKE", "", Some(""), "", json!({}));
    let hello = raw.exchange(header, b"null".to_vec(), vec![]).await;
    assert_eq!((hello.kind.as_str(), &hello.payload), ("HANDSHAKE", &json!(null)));
    assert_eq!(hello.header["preencodedPayloadContentType"], "application/json");
    let info: serde_json::Value = serde_json::from_slice(&hello.preserialized).expect("frame 4 is JSON");
    assert_eq!(info["server"], "thingwire");
    assert_eq!(info["contentTypes"], json!(["application/x-thingwire-msgpack"]));

    // A request in the packed content type gets a `Vec<f64>` back packed; the same request in plain msgpack
    // (what hololinked's client sends) gets rmp-serde's array.
    let args = rmp_serde::to_vec_named(&json!({"values": [1.0, 2.5], "factor": 2.0})).expect("args");
    for (ct, expected) in [
        ("application/x-thingwire-msgpack", packed(&[2.0, 5.0])),
        ("application/msgpack", rmp_serde::to_vec(&vec![2.0f64, 5.0]).expect("plain")),
    ] {
        let header =
            raw.header("OPERATION", "sensor", Some("scale"), "invokeaction", json!({"payloadContentType": ct}));
        let reply = raw.exchange(header, args.clone(), vec![]).await;
        assert_eq!(reply.kind, "REPLY", "{ct}: {:?}", reply.payload);
        assert_eq!(reply.header["payloadContentType"], ct);
        assert_eq!(reply.raw_payload, expected, "{ct}");
        assert_eq!(reply.payload, json!([2.0, 5.0]));
    }
    // Packed arguments are read too; a ragged packed array is refused with the reason.
    let mut packed_args = vec![0x81];
    packed_args.extend(rmp_serde::to_vec("values").expect("key"));
    packed_args.extend(packed(&[4.0]));
    let header = raw.header(
        "OPERATION",
        "sensor",
        Some("scale"),
        "invokeaction",
        json!({"payloadContentType": "application/x-thingwire-msgpack"}),
    );
    let reply = raw.exchange(header.clone(), packed_args.clone(), vec![]).await;
    assert_eq!(reply.payload, json!([8.0]));
    let mut ragged = vec![0x81];
    ragged.extend(rmp_serde::to_vec("values").expect("key"));
    ragged.extend([0xc7, 4, b'F', 1, 2, 3, 4]);
    let mut header = header;
    header["messageID"] = json!("ragged-1");
    let reply = raw.exchange(header, ragged, vec![]).await;
    assert!(reply.kind == "EXCEPTION" || reply.kind == "INVALID_MESSAGE", "{reply:?}");
    assert!(reply.error_message().contains("not a whole number of 8-byte doubles"), "{}", reply.error_message());

    // The client learns it from the handshake and uses it unless told not to; the results are the same.
    let client = Client::connect(&address).await.expect("connect");
    let info = client.server_info().expect("a thingwire server says what it is");
    assert_eq!((info.server.as_str(), info.version.as_str()), ("thingwire", env!("CARGO_PKG_VERSION")));
    assert!(client.packed_arrays());
    let plain_options = thingwire::ConnectOptions { packed_arrays: false, ..Default::default() };
    let plain = Client::connect_with(&address, plain_options).await.expect("connect");
    assert!(!plain.packed_arrays() && plain.server_info().is_some());
    let values: Vec<f64> = (0..100_000).map(|i| f64::from(i) * 0.25 - 7.0).collect();
    for c in [&client, &plain] {
        let scaled: Vec<f64> =
            c.invoke("sensor", "scale", &json!({"values": values, "factor": 1.0})).await.expect("scale");
        assert_eq!(scaled, values);
    }
    server.shutdown().await;
}

/// A compact request from a raw ROUTER client (frames `[server id, header + payload, …]`); the reply's frames
/// after the routing id.
async fn compact_exchange(raw: &mut crate::common::RawClient, frames: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut message = vec![raw.server_id.clone().into_bytes()];
    message.extend(frames);
    raw.send_frames(message).await;
    let mut reply = raw.recv().await;
    assert_eq!(reply.remove(0), raw.server_id.as_bytes(), "routed from the server");
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thingwire_peers_use_compact_headers_and_json_peers_keep_json() {
    use serde_json::json;
    use thingwire::protocol::compact::{CompactReply, OutgoingCompactRequest};
    use thingwire::protocol::{ContentType, MessageType};
    let (server, address) = serve(thingwire::Protocol::Tcp).await;
    let mut raw = crate::common::RawClient::connect(&address, "macro-tcp").await;
    let header = raw.header("HANDSHAKE", "", Some(""), "", json!({}));
    let hello = raw.exchange(header, b"null".to_vec(), vec![]).await;
    let info: serde_json::Value = serde_json::from_slice(&hello.preserialized).expect("frame 4 is JSON");
    assert_eq!(info["headers"], json!(["x-thingwire-compact/1"]), "the handshake offers compact headers");

    let json = ContentType::Json;
    let request = |id: u64, name: &'static str, operation: &'static str| OutgoingCompactRequest {
        kind: MessageType::Operation,
        message_id: id,
        thing_id: "sensor",
        name: Some(name),
        operation,
        content_type: &json,
        invocation_timeout: None,
        execution_timeout: None,
        oneway: false,
        fetch_logs: false,
        preserialized: false,
    };
    let decode = |frames: &[Vec<u8>]| {
        let h = CompactReply::decode(&frames[0]).expect("a compact reply");
        assert_eq!(h.frames(), frames.len(), "the frames the header announces");
        let payload = match &h.inline_payload {
            Some(range) => frames[0][range.clone()].to_vec(),
            None => frames[1].clone(),
        };
        let value: serde_json::Value = serde_json::from_slice(&payload).expect("a JSON payload");
        (h, value)
    };

    // A read: one frame each way after the routing id.
    let (frame, inline) = request(7, "gain", "readproperty").encode(b"null").expect("encode");
    assert!(inline && frame.len() < 40, "a {} byte request", frame.len());
    let reply = compact_exchange(&mut raw, vec![frame]).await;
    assert_eq!(reply.len(), 1, "header and payload in one frame");
    let (h, value) = decode(&reply);
    assert_eq!((h.kind, h.message_id, value), (MessageType::Reply, 7, json!(1.0)));
    // A JSON request on the same connection is answered in JSON (the five frames `Reply::parse` checks).
    let read = raw.op("sensor", Some("gain"), "readproperty", json!(null)).await;
    assert_eq!((read.kind.as_str(), read.payload), ("REPLY", json!(1.0)));

    // Arguments over 16 KiB travel in a frame of their own, and so does the answer.
    let values: Vec<f64> = (0..4000).map(f64::from).collect();
    let args = serde_json::to_vec(&json!({"values": values, "factor": 0.5})).expect("args");
    let (frame, inline) = request(8, "scale", "invokeaction").encode(&args).expect("encode");
    assert!(!inline, "{} bytes of arguments go in their own frame", args.len());
    let reply = compact_exchange(&mut raw, vec![frame, args]).await;
    let (h, value) = decode(&reply);
    assert!(h.inline_payload.is_none() && h.message_id == 8);
    assert_eq!(value, json!(values.iter().map(|v| v * 0.5).collect::<Vec<_>>()));
    // Raw bytes come last and go back last.
    let mut echo = request(9, "echo_bytes", "invokeaction");
    echo.preserialized = true;
    let (frame, _) = echo.encode(b"null").expect("encode");
    let reply = compact_exchange(&mut raw, vec![frame, b"\x00\x01raw".to_vec()]).await;
    let (h, _) = decode(&reply);
    assert!(h.preserialized && h.kind == MessageType::Reply, "{h:?}");
    assert_eq!(reply.last().expect("raw bytes"), b"\x00\x01raw");
    // Timeouts are in the header; an expired one answers TIMEOUT.
    let mut sleep = request(10, "sleep", "invokeaction");
    sleep.execution_timeout = Some(Duration::from_millis(50));
    let (frame, _) = sleep.encode(br#"{"seconds": 5}"#).expect("encode");
    let (h, value) = decode(&compact_exchange(&mut raw, vec![frame]).await);
    assert_eq!((h.kind, h.message_id, value), (MessageType::Timeout, 10, json!("execution")));

    // Refusals say what was wrong, in the compact form when the id can be read...
    let error_of = |value: &serde_json::Value| value["exception"]["message"].as_str().unwrap_or("").to_owned();
    let (frame, _) = request(11, "gain", "readproperty").encode(b"null").expect("encode");
    let (h, value) = decode(&compact_exchange(&mut raw, vec![frame[..20].to_vec()]).await);
    assert_eq!((h.kind, h.message_id), (MessageType::InvalidMessage, 11));
    assert!(error_of(&value).contains("ends inside the thing id"), "{value}");
    let mut unknown = request(12, "gain", "readproperty");
    unknown.thing_id = "nobody";
    let (frame, _) = unknown.encode(b"null").expect("encode");
    let (h, value) = decode(&compact_exchange(&mut raw, vec![frame]).await);
    assert_eq!(h.kind, MessageType::InvalidMessage);
    assert!(error_of(&value).contains("nobody"), "{value}");
    let (frame, _) = request(13, "gain", "readproperty").encode(b"null").expect("encode");
    let (h, value) = decode(&compact_exchange(&mut raw, vec![frame, b"unannounced".to_vec()]).await);
    assert_eq!((h.kind, h.message_id), (MessageType::InvalidMessage, 13));
    assert!(error_of(&value).contains("announces 1 frames"), "{value}");
    // ...and in JSON for a version this server does not read.
    let (mut frame, _) = request(14, "gain", "readproperty").encode(b"null").expect("encode");
    frame[1] = 9;
    let reply = compact_exchange(&mut raw, vec![frame]).await;
    let mut with_route = vec![raw.server_id.clone().into_bytes()];
    with_route.extend(reply);
    let refused = crate::common::Reply::parse(&with_route);
    assert_eq!(refused.kind, "INVALID_MESSAGE");
    assert!(refused.error_message().contains("version 9"), "{}", refused.error_message());

    // The client uses them when the server offers them, unless told not to; the answers are the same.
    let client = Client::connect(&address).await.expect("connect");
    assert!(client.compact_headers(), "a thingwire server offers compact headers");
    let json_options = thingwire::ConnectOptions { compact_headers: false, ..Default::default() };
    let json_client = Client::connect_with(&address, json_options).await.expect("connect");
    assert!(!json_client.compact_headers());
    for c in [&client, &json_client] {
        assert_eq!(c.read_property::<f64>("sensor", "gain").await.expect("read"), 1.0);
        let options = thingwire::CallOptions::default();
        let bytes: thingwire::Bytes =
            c.invoke_bytes("sensor", "echo_bytes", b"abc".to_vec(), &(), &options).await.expect("echo");
        assert_eq!(&bytes[..], b"abc");
    }
    server.shutdown().await;
}

#[test]
fn descriptor_reflects_the_attributes() {
    use thingwire::DescribeThing;
    let d = MacroSensor::thing_descriptor();
    assert_eq!(d.title, "Macro sensor");
    assert_eq!(d.description, Some("A sensor written with the macros."));
    let names: Vec<&str> = d.properties.iter().map(|p| p.name).collect();
    assert_eq!(names, ["gain", "serial", "mode", "channels", "trigger", "side_effects", "setpoint"]);
    let gain = d.property("gain").expect("gain").1;
    assert!(gain.observable && !gain.read_only);
    assert_eq!(gain.description, Some("Amplifier gain"));
    assert!(d.property("side_effects").expect("getter").1.read_only, "a getter without setter is read-only");
    assert!(!d.property("setpoint").expect("getter").1.read_only);
    assert_eq!(d.property("setpoint").expect("setpoint").1.unit, Some("°C"));
    let actions: Vec<(&str, thingwire::ExecutionMode)> = d.actions.iter().map(|a| (a.name, a.mode)).collect();
    assert!(actions.contains(&("sleep", thingwire::ExecutionMode::Concurrent)));
    assert!(actions.contains(&("block", thingwire::ExecutionMode::Threaded)));
    assert!(actions.contains(&("echo_bytes", thingwire::ExecutionMode::Queued)));
    assert_eq!(d.action("slow").expect("slow").execution_timeout, Some(Duration::from_secs(10)));
    assert!(d.action("add").is_some_and(|a| a.safe && a.idempotent));
    assert_eq!(d.events.iter().map(|e| e.name).collect::<Vec<_>>(), ["tick"]);

    let td = thingwire::td::ThingDescription::new(d, "srv", "sensor").to_json();
    assert_eq!(td["properties"]["gain"]["minimum"], serde_json::json!(0.1));
    assert_eq!(td["properties"]["gain"]["maximum"], serde_json::json!(100));
    assert_eq!(td["properties"]["gain"]["default"], serde_json::json!(1.0));
    assert_eq!(td["properties"]["channels"]["maxItems"], serde_json::json!(4));
    assert_eq!(td["properties"]["trigger"]["enum"], serde_json::json!(["internal", "external"]));
    let scale = &td["actions"]["scale"]["input"];
    assert_eq!(scale["required"], serde_json::json!(["values"]));
    assert_eq!(scale["properties"]["factor"]["default"], serde_json::json!(2.0));
    assert_eq!(scale["properties"]["factor"]["minimum"], serde_json::json!(0));
    assert_eq!(td["actions"]["add"]["output"]["type"], "number");
    assert_eq!(td["events"]["tick"]["data"]["properties"]["value"]["type"], "integer");
}
