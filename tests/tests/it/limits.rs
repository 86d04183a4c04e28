//! The server's limits, each with its clear error (documented in `docs/bad-input.md`):
//!
//! | limit | builder | default | excess gets |
//! |---|---|---|---|
//! | message size (all frames) | `max_message_size` | 64 MiB (at least 1 KiB) | `INVALID_MESSAGE` "the message is N bytes, over this server's limit of L bytes" |
//! | one frame, hard cap | 4 × `max_message_size` (libzmq `MAXMSGSIZE`, TCP and IPC only) | 256 MiB | libzmq drops the connection: no reply |
//! | requests per Thing queue | `max_queue_length` | 4096 | `EXCEPTION` `RuntimeError` "the server is busy: …; retry later" |
//! | events queued per subscriber | `event_high_water_mark` | 10 000 | dropped for that subscriber (its sequence numbers show the gap); the server never blocks |

use std::time::Duration;

use serde_json::{Value, json};
use thingwire::transport::Protocol;

use crate::common::{RawClient, Reply, Sensor, serve_on, to_bytes};

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
            r.assert_exception("RuntimeError", "the server is busy");
            assert!(r.error_message().contains("(limit 2); retry later"), "{}", r.error_message());
            assert!(r.error_message().contains("`sensor`"), "names the Thing: {}", r.error_message());
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
