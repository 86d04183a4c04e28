//! The server's limits, each with its clear error (documented in `docs/bad-input.md`):
//!
//! | limit | builder | default | excess gets |
//! |---|---|---|---|
//! | message size (all frames) | `max_message_size` | 64 MiB (at least 1 KiB) | `INVALID_MESSAGE` "the message is N bytes, over this server's limit of L bytes" |
//! | one frame, hard cap | 4 × `max_message_size` (libzmq `MAXMSGSIZE`, TCP and IPC only) | 256 MiB | libzmq drops the connection: no reply |
//! | frames per message | `max_frames` | 16 (at least 5) | `INVALID_MESSAGE` "the message has N frames, over this server's limit of L (a hololinked message has 5)" |
//! | requests per Thing queue | `max_queue_length` | 4096 | `EXCEPTION` `RuntimeError` "the server is busy: …; retry later" |
//! | requests in flight per client | `max_in_flight_per_client` | 256 | `EXCEPTION` `RuntimeError` "client `id` has N requests in flight (limit N): …" |
//! | subscribers per TCP/IPC transport | `max_subscribers` | 1024 | the connection's handshake is refused (ZAP 400 "subscriber limit reached"); `Client::subscribe` fails with `ClientError::Unauthorized` (`AuthRefusal::Refused { status: 400 }`) |
//! | events queued per subscriber | `event_high_water_mark` | 10 000 | dropped for that subscriber (its sequence numbers show the gap); the server never blocks |

use std::time::Duration;

use serde_json::{Value, json};
use thingwire::transport::Protocol;

use crate::common::sync::{self, Gated};
use crate::common::{Frames, RawClient, Reply, Sensor, serve_on, to_bytes};

async fn read_serial(c: &mut RawClient) -> Reply {
    c.op("sensor", Some("serial"), "readproperty", Value::Null).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_message_gets_invalid_message_naming_size_and_limit() {
    let (server, address) = serve_on(
        Protocol::Tcp,
        "limit-size",
        vec![Box::new(|b: thingwire::ServerBuilder| b.thing(Sensor::new("sensor")).max_message_size(4096))],
    )
    .await;
    let mut c = RawClient::connect(&address, server.id()).await;
    let h = c.header("OPERATION", "sensor", Some("echo"), "invokeaction", json!({}));
    let id = h["messageID"].clone();
    let header = to_bytes(&h);
    // Exactly at the limit (the server counts every frame, its client-identity frame too): served.
    let overhead = c.id.len() + header.len() + br#"{"value":""}"#.len();
    let at_limit = to_bytes(&json!({"value": "x".repeat(4096 - overhead)}));
    assert_eq!(c.id.len() + header.len() + at_limit.len(), 4096);
    let r = c.exchange(h.clone(), at_limit, vec![]).await;
    assert_eq!(r.kind, "REPLY", "a message of exactly the limit is served: {r:?}");
    // One byte over: refused, naming both numbers; frame 4 counts too.
    let h2 = c.header("OPERATION", "sensor", Some("echo"), "invokeaction", json!({}));
    let id2 = h2["messageID"].clone();
    let payload = to_bytes(&json!({"value": "x"}));
    let pre = vec![0u8; 4097 - (c.id.len() + to_bytes(&h2).len() + payload.len())];
    let r = c.exchange(h2, payload, pre).await;
    assert_eq!((r.kind.as_str(), &r.header["messageID"]), ("INVALID_MESSAGE", &id2), "{r:?}");
    r.assert_error_shape("ValueError", "the message is 4097 bytes, over this server's limit of 4096 bytes");
    assert_ne!(id, id2);
    // Far over (but under the 4x hard cap): still the clear error.
    let h3 = c.header("OPERATION", "sensor", Some("echo"), "invokeaction", json!({}));
    let r = c.exchange(h3, to_bytes(&json!({"value": "x".repeat(12_000)})), vec![]).await;
    assert_eq!(r.kind, "INVALID_MESSAGE");
    assert!(r.error_message().contains("over this server's limit of 4096 bytes"), "{}", r.error_message());
    assert_eq!(read_serial(&mut c).await.payload, json!("SN-001"), "the server still serves");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_beyond_the_hard_cap_drops_the_connection_not_the_server() {
    let (server, address) = serve_on(
        Protocol::Tcp,
        "limit-hard-cap",
        vec![Box::new(|b: thingwire::ServerBuilder| b.thing(Sensor::new("sensor")).max_message_size(1024))],
    )
    .await;
    let mut c = RawClient::connect(&address, server.id()).await;
    // libzmq's MAXMSGSIZE (4 x max_message_size) refuses the frame while reading it: the connection is
    // dropped and nothing is answered — the documented exception to "every bad input gets a reply".
    let h = c.header("OPERATION", "sensor", Some("echo"), "invokeaction", json!({}));
    c.send(&h, to_bytes(&json!({"value": "x".repeat(5000)}))).await;
    assert!(c.recv_timeout(Duration::from_millis(500)).await.is_none(), "no reply to a frame over the hard cap");
    // Other clients are served; so is this one once it reconnects (a new client stands in for it).
    let mut other = RawClient::connect(&address, server.id()).await;
    assert_eq!(read_serial(&mut other).await.payload, json!("SN-001"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_message_size_has_a_floor_of_1_kib() {
    let (server, address) = serve_on(
        Protocol::Inproc,
        "limit-floor",
        vec![Box::new(|b: thingwire::ServerBuilder| b.thing(Sensor::new("sensor")).max_message_size(10))],
    )
    .await;
    let mut c = RawClient::connect(&address, server.id()).await;
    assert_eq!(read_serial(&mut c).await.payload, json!("SN-001"), "a 10-byte limit is raised to 1 KiB");
    let h = c.header("OPERATION", "sensor", Some("echo"), "invokeaction", json!({}));
    let r = c.exchange(h, to_bytes(&json!({"value": "x".repeat(2000)})), vec![]).await;
    assert!(r.error_message().contains("over this server's limit of 1024 bytes"), "{r:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_busy_and_recovers() {
    let (server, address) = serve_on(
        Protocol::Inproc,
        "limit-queue",
        vec![Box::new(|b: thingwire::ServerBuilder| b.thing(Sensor::new("sensor")).max_queue_length(2))],
    )
    .await;
    let mut c = RawClient::connect(&address, server.id()).await;
    // `slow` occupies the queue for a second; the requests below all arrive while it runs (the socket task
    // handles them in arrival order, each in microseconds).
    let slow = c.header("OPERATION", "sensor", Some("slow"), "invokeaction", json!({}));
    c.send(&slow, to_bytes(&json!({"seconds": 1.0}))).await;
    let waiting = c.header("OPERATION", "sensor", Some("record"), "invokeaction", json!({}));
    c.send(&waiting, to_bytes(&json!({"n": 1}))).await;
    let mut refused = Vec::new();
    for n in 2..6 {
        let h = c.header("OPERATION", "sensor", Some("record"), "invokeaction", json!({}));
        refused.push(h["messageID"].clone());
        c.send(&h, to_bytes(&json!({"n": n}))).await;
    }
    // A property read queues behind a busy queue, so it is refused too.
    let read = c.header("OPERATION", "sensor", Some("serial"), "readproperty", json!({}));
    refused.push(read["messageID"].clone());
    c.send(&read, b"null".to_vec()).await;
    let mut busy = 0;
    let mut answered = Vec::new();
    while answered.len() < 2 {
        let r = Reply::parse(&c.recv().await);
        if refused.contains(&r.header["messageID"]) {
            // The running `slow` and the waiting `record`: the count says that the running one is included.
            r.assert_exception(
                "RuntimeError",
                "the server is busy: the queue of `sensor` holds 2 requests, the running one included (limit 2); \
                 retry later",
            );
            busy += 1;
        } else {
            assert_eq!(r.kind, "REPLY", "{r:?}");
            answered.push(r.header["messageID"].clone());
        }
    }
    assert_eq!(busy, refused.len(), "every request over the limit was refused at once, before the queue ran");
    assert_eq!(answered, [slow["messageID"].clone(), waiting["messageID"].clone()], "the two admitted ran in order");
    // Only the admitted `record` ran.
    let order = c.op("sensor", Some("order"), "readproperty", Value::Null).await;
    assert_eq!(order.payload, json!([1]));
    // The queue is empty again: requests are admitted.
    assert_eq!(read_serial(&mut c).await.payload, json!("SN-001"));
    let r = c.op("sensor", Some("record"), "invokeaction", json!({"n": 7})).await;
    assert_eq!(r.kind, "REPLY");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_gets_at_most_the_high_water_mark() {
    const HWM: i32 = 50;
    const EVENTS: u64 = 20_000;
    let (server, address) = serve_on(
        Protocol::Inproc,
        "limit-hwm",
        vec![Box::new(|b: thingwire::ServerBuilder| b.thing(Sensor::new("sensor")).event_high_water_mark(HWM))],
    )
    .await;
    let events = server.addresses()[0].events.clone();
    let sub = thingwire::transport::context().socket(zmq::SUB).expect("SUB");
    sub.set_rcvhwm(HWM).expect("rcvhwm");
    sub.connect(&events).expect("connect");
    sub.set_subscribe(b"sensor/tick").expect("subscribe");
    // Wait until the subscription has reached the publisher (bounded).
    let mut subscribed = false;
    for _ in 0..200 {
        server.publisher().publish("sensor/tick", &json!({"value": -1})).expect("publish");
        if sub.poll(zmq::POLLIN, 10).expect("poll") > 0 {
            subscribed = true;
            break;
        }
    }
    assert!(subscribed, "the subscription reached the publisher");
    while sub.recv_multipart(zmq::DONTWAIT).is_ok() {}
    // A burst the subscriber does not read: publishing never blocks, the server keeps serving.
    let before = server.publisher().published();
    for n in 0..EVENTS {
        server.publisher().publish("sensor/tick", &json!({"value": n})).expect("publishing never blocks");
    }
    assert_eq!(server.publisher().published() - before, EVENTS);
    let mut c = RawClient::connect(&address, server.id()).await;
    assert_eq!(read_serial(&mut c).await.payload, json!("SN-001"));
    // What was kept for it is bounded by the send and receive high-water marks (inproc pipes add them).
    let mut received = 0u64;
    while let Ok(frames) = sub.recv_multipart(zmq::DONTWAIT) {
        assert_eq!(frames.len(), 5, "an event has 5 frames");
        received += 1;
    }
    let bound = 2 * HWM as u64 + 10;
    assert!(received > 0, "the subscriber got the first events");
    assert!(received <= bound, "a slow subscriber holds at most ~2 x HWM events, got {received} of {EVENTS}");
    server.shutdown().await;
}

/// A request with `frames` frames as the server sees them (the client's identity included): a valid
/// `readproperty serial` in frames 1–4, then `x` frames.
fn with_frames(c: &mut RawClient, seen: usize) -> (Frames, Value) {
    let h = c.header("OPERATION", "sensor", Some("serial"), "readproperty", json!({}));
    let mut frames: Frames = vec![c.server_id.clone().into_bytes(), vec![], to_bytes(&h), b"null".to_vec(), vec![]];
    frames.resize(seen, b"x".to_vec());
    (frames, h["messageID"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_frames_get_invalid_message_naming_count_and_limit() {
    let (server, address) = serve_on(
        Protocol::Tcp,
        "limit-frames",
        vec![Box::new(|b: thingwire::ServerBuilder| {
            b.thing(Sensor::new("sensor")).max_frames(8).max_message_size(4096)
        })],
    )
    .await;
    let mut c = RawClient::connect(&address, server.id()).await;
    // At the limit: still the usual frame-count error, not the limit's.
    let (frames, id) = with_frames(&mut c, 8);
    c.send_frames(frames).await;
    let r = Reply::parse(&c.recv().await);
    assert_eq!((r.kind.as_str(), &r.header["messageID"]), ("INVALID_MESSAGE", &id), "{r:?}");
    r.assert_error_shape("ValueError", "does not match the number of message parts 8");
    // One over, and far over: the limit's error, with the messageID read from the header.
    for seen in [9usize, 100_000] {
        let (frames, id) = with_frames(&mut c, seen);
        c.send_frames(frames).await;
        let r = Reply::parse(&c.recv().await);
        assert_eq!((r.kind.as_str(), &r.header["messageID"]), ("INVALID_MESSAGE", &id), "{seen} frames: {r:?}");
        r.assert_error_shape(
            "ValueError",
            &format!("the message has {seen} frames, over this server's limit of 8 (a hololinked message has 5)"),
        );
    }
    // Within the frame limit but over the size limit (the frames past it are dropped while reading): the
    // size is still counted exactly.
    let (mut frames, id) = with_frames(&mut c, 7);
    frames[5] = vec![b'y'; 3000];
    frames[6] = vec![b'z'; 3000];
    let size: usize = frames[1..].iter().map(Vec::len).sum::<usize>() + c.id.len();
    c.send_frames(frames).await;
    let r = Reply::parse(&c.recv().await);
    assert_eq!((r.kind.as_str(), &r.header["messageID"]), ("INVALID_MESSAGE", &id), "{r:?}");
    r.assert_error_shape("ValueError", &format!("the message is {size} bytes, over this server's limit of 4096 bytes"));
    assert_eq!(read_serial(&mut c).await.payload, json!("SN-001"), "the server still serves");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_frames_has_a_floor_of_5() {
    let (server, address) = serve_on(
        Protocol::Inproc,
        "limit-frames-floor",
        vec![Box::new(|b: thingwire::ServerBuilder| b.thing(Sensor::new("sensor")).max_frames(1))],
    )
    .await;
    let mut c = RawClient::connect(&address, server.id()).await;
    assert_eq!(read_serial(&mut c).await.payload, json!("SN-001"), "a limit of 1 is raised to 5");
    let (frames, _) = with_frames(&mut c, 6);
    c.send_frames(frames).await;
    let r = Reply::parse(&c.recv().await);
    r.assert_error_shape("ValueError", "the message has 6 frames, over this server's limit of 5");
    server.shutdown().await;
}

/// Sends `hold_shared` (a concurrent action that waits at the test's gate, without an execution timeout);
/// returns its messageID.
async fn send_hold(c: &mut RawClient) -> Value {
    let h = c.header("OPERATION", "gated", Some("hold_shared"), "invokeaction", json!({"serverExecutionContext": {}}));
    c.send(&h, b"{}".to_vec()).await;
    h["messageID"].clone()
}

/// Receives `n` replies, whatever their order: messageID → reply.
async fn replies(c: &mut RawClient, n: usize) -> std::collections::HashMap<String, Reply> {
    let mut out = std::collections::HashMap::new();
    for _ in 0..n {
        let r = Reply::parse(&c.recv().await);
        out.insert(r.header["messageID"].as_str().expect("id").to_owned(), r);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_in_flight_limit_is_refused_and_its_slots_come_back() {
    let (gate, turnstile) = sync::gate();
    let (signal, mut signals) = sync::signal();
    let (server, address) = serve_on(
        Protocol::Tcp,
        "limit-in-flight",
        vec![Box::new(move |b: thingwire::ServerBuilder| {
            b.thing(Sensor::new("sensor")).thing(Gated::new(turnstile, signal)).max_in_flight_per_client(3)
        })],
    )
    .await;
    let mut c = RawClient::connect(&address, server.id()).await;
    let mut other = RawClient::connect(&address, server.id()).await;
    for round in 0..2 {
        // Three concurrent actions run side by side until the gate opens: the client's three slots are
        // taken, so its next request — even a property read — is refused at once (the first answer it gets),
        // while another client is served.
        let admitted = [send_hold(&mut c).await, send_hold(&mut c).await, send_hold(&mut c).await];
        for _ in 0..3 {
            signals.expect("hold_shared").await;
        }
        let h = c.header("OPERATION", "sensor", Some("serial"), "readproperty", json!({}));
        let refused = h["messageID"].clone();
        c.send(&h, b"null".to_vec()).await;
        assert_eq!(read_serial(&mut other).await.payload, json!("SN-001"), "round {round}: other clients are served");
        let r = Reply::parse(&c.recv().await);
        assert_eq!(r.header["messageID"], refused, "round {round}: {r:?}");
        r.assert_exception(
            "RuntimeError",
            &format!(
                "client `{}` has 3 requests in flight (limit 3): wait for their replies before sending more",
                c.id
            ),
        );
        gate.let_through(3);
        let got = replies(&mut c, 3).await;
        for id in &admitted {
            assert_eq!(got[id.as_str().expect("id")].kind, "REPLY", "round {round}: admitted requests are served");
        }
        // Every reply gave its slot back: the next round is admitted in full again.
    }
    assert_eq!(read_serial(&mut c).await.payload, json!("SN-001"), "the server still serves");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oneway_requests_and_timeouts_give_their_in_flight_slots_back() {
    let (server, address) = serve_on(
        Protocol::Inproc,
        "limit-in-flight-oneway",
        vec![Box::new(|b: thingwire::ServerBuilder| b.thing(Sensor::new("sensor")).max_in_flight_per_client(2))],
    )
    .await;
    let mut c = RawClient::connect(&address, server.id()).await;
    // A oneway request gets no reply; its slot comes back when the server is done with it. Each round holds
    // two slots at most (the oneway `record` and the answered one behind it in the queue); a slot kept by
    // a oneway request would refuse the answered `record` of the second round.
    for n in 0..5u32 {
        let h = c.header(
            "OPERATION",
            "sensor",
            Some("record"),
            "invokeaction",
            json!({"serverExecutionContext": {"oneway": true}}),
        );
        c.send(&h, to_bytes(&json!({"n": n}))).await;
        let r = c.op("sensor", Some("record"), "invokeaction", json!({"n": 100 + n})).await;
        assert_eq!(r.kind, "REPLY", "round {n}: {r:?}");
    }
    let order = c.op("sensor", Some("order"), "readproperty", Value::Null).await;
    assert_eq!(order.payload, json!([0, 100, 1, 101, 2, 102, 3, 103, 4, 104]), "every oneway request ran");
    // A TIMEOUT gives the slot back too, even though the threaded action goes on running.
    for _ in 0..3 {
        let h = c.header(
            "OPERATION",
            "sensor",
            Some("block"),
            "invokeaction",
            json!({"serverExecutionContext": {"executionTimeout": 0.05}}),
        );
        let r = c.exchange(h, to_bytes(&json!({"seconds": 0.5})), vec![]).await;
        assert_eq!(r.kind, "TIMEOUT", "{r:?}");
    }
    assert_eq!(read_serial(&mut c).await.payload, json!("SN-001"), "three timed-out requests hold no slot");
    server.shutdown().await;
}

/// Watches a SUB socket's handshake: `Ok(())` when it succeeded, `Err(status)` when ZAP refused it.
struct HandshakeWatch {
    pair: zmq::Socket,
}

impl HandshakeWatch {
    fn new(sub: &zmq::Socket) -> Self {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let endpoint = format!("inproc://limits-watch-{}", N.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let events = zmq::SocketEvent::HANDSHAKE_SUCCEEDED as i32 | zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as i32;
        sub.monitor(&endpoint, events).expect("monitor");
        let pair = thingwire::transport::context().socket(zmq::PAIR).expect("PAIR");
        pair.connect(&endpoint).expect("connect monitor");
        Self { pair }
    }

    /// The outcome of the first handshake (waits up to 5 s).
    fn outcome(&self) -> Result<(), u32> {
        assert!(self.pair.poll(zmq::POLLIN, 5000).expect("poll") > 0, "the handshake ended within 5 s");
        let frames = self.pair.recv_multipart(0).expect("event");
        let event = u16::from_le_bytes([frames[0][0], frames[0][1]]);
        let value = u32::from_le_bytes([frames[0][2], frames[0][3], frames[0][4], frames[0][5]]);
        if event == zmq::SocketEvent::HANDSHAKE_SUCCEEDED as u16 { Ok(()) } else { Err(value) }
    }
}

/// A subscriber to `sensor/tick` on `events`, with its handshake watched.
fn subscriber(events: &str) -> (zmq::Socket, HandshakeWatch) {
    let sub = thingwire::transport::context().socket(zmq::SUB).expect("SUB");
    sub.set_linger(0).expect("linger");
    let watch = HandshakeWatch::new(&sub);
    sub.set_subscribe(b"sensor/tick").expect("subscribe");
    sub.connect(events).expect("connect");
    (sub, watch)
}

/// Whether `sub` receives the events published now (bounded: 200 tries, 10 ms each).
fn receives(server: &thingwire::Server, sub: &zmq::Socket) -> bool {
    for _ in 0..200 {
        server.publisher().publish("sensor/tick", &json!({"value": 0})).expect("publish");
        if sub.poll(zmq::POLLIN, 10).expect("poll") > 0 {
            while sub.recv_multipart(zmq::DONTWAIT).is_ok() {}
            return true;
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_past_the_limit_are_refused_and_slots_come_back() {
    for protocol in [Protocol::Tcp, Protocol::Ipc] {
        let (server, address) = serve_on(
            protocol,
            &format!("limit-subscribers-{}", protocol.as_str().to_lowercase()),
            vec![Box::new(|b: thingwire::ServerBuilder| b.thing(Sensor::new("sensor")).max_subscribers(2))],
        )
        .await;
        let events = server.addresses()[0].events.clone();
        let (first, watch) = subscriber(&events);
        assert_eq!(watch.outcome(), Ok(()), "{protocol:?}: the first subscriber is let in");
        let (second, watch) = subscriber(&events);
        assert_eq!(watch.outcome(), Ok(()), "{protocol:?}: the second subscriber is let in");
        assert!(receives(&server, &first) && receives(&server, &second), "{protocol:?}: both get events");
        // The third: its handshake is refused with ZAP status 400.
        let (third, watch) = subscriber(&events);
        assert_eq!(watch.outcome(), Err(400), "{protocol:?}: the third subscriber is refused");
        drop(third);
        // thingwire's client says so instead of subscribing to silence.
        let client = thingwire::Client::connect(&address).await.expect("client");
        match client.subscribe::<serde_json::Value>("sensor", "tick").await {
            Err(thingwire::ClientError::Unauthorized {
                reason: thingwire::error::AuthRefusal::Refused { status: 400 },
                ..
            }) => {}
            other => panic!("{protocol:?}: a subscription past the limit fails with Unauthorized (400): {other:?}"),
        }
        let refused = thingwire::client::Subscription::<serde_json::Value>::connect(
            thingwire::transport::context(),
            &events,
            "sensor/tick",
        )
        .await
        .expect_err("past the limit");
        assert!(refused.to_string().contains("max_subscribers"), "{protocol:?}: the error names the limit: {refused}");
        drop(client);
        // Requests are served as before.
        let mut c = RawClient::connect(&address, server.id()).await;
        assert_eq!(read_serial(&mut c).await.payload, json!("SN-001"));
        // When a subscriber leaves, its slot comes back (once the server has seen the disconnection, so a
        // new subscriber may be refused a few times first: bounded retries).
        drop(first);
        let mut admitted = None;
        for _ in 0..50 {
            let (sub, watch) = subscriber(&events);
            if watch.outcome().is_ok() {
                admitted = Some(sub);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let admitted = admitted.unwrap_or_else(|| panic!("{protocol:?}: a subscriber is let in once one left"));
        assert!(receives(&server, &admitted), "{protocol:?}: the new subscriber gets events");
        assert!(receives(&server, &second), "{protocol:?}: the remaining one still does");
        server.shutdown().await;
    }
}
