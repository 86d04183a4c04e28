//! Malformed input: each case gets its documented answer, and the next request is still served.
//!
//! | input | answer |
//! |---|---|
//! | header frame not UTF-8, not JSON, not an object, missing or mistyped required keys | `INVALID_MESSAGE` to the sending socket, with the salvaged `messageID` when there is one |
//! | a frame count other than 5 (2, 3, 4, 6, 50 as the server sees them) | `INVALID_MESSAGE` ("message length 5 does not match …") |
//! | a message larger than `max_message_size` | `INVALID_MESSAGE` naming the size and the limit |
//! | a payload that does not decode as its content type, or an unsupported content type | `EXCEPTION` |
//! | unknown thing | `INVALID_MESSAGE` |
//!
//! A ROUTER client cannot make the server see fewer than 2 frames (the server's ROUTER adds the identity and
//! the client must send at least one frame), so 0 and 1 are covered by the codec's unit tests.

use serde_json::{Value, json};
use thingwire::transport::Protocol;

use crate::common::{Frames, RawClient, Reply, Sensor, sensor_server, serve_on, thing, to_bytes};

async fn still_serves(c: &mut RawClient) {
    let r = c.op("sensor", Some("serial"), "readproperty", Value::Null).await;
    assert_eq!((r.kind.as_str(), &r.payload), ("REPLY", &json!("SN-001")), "the server still serves");
}

async fn expect_invalid(c: &mut RawClient, body: Frames, message_id: &str, text: &str) {
    let mut frames = vec![c.server_id.clone().into_bytes()];
    frames.extend(body);
    c.send_frames(frames).await;
    let reply = Reply::parse(&c.recv().await);
    assert_eq!(reply.kind, "INVALID_MESSAGE", "{reply:?}");
    assert_eq!(reply.header["messageID"], message_id);
    assert_eq!(reply.header["receiverID"], c.id.as_str(), "answered to the sending socket");
    reply.assert_error_shape("ValueError", text);
    still_serves(c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_headers_get_invalid_message() {
    let (server, address) = sensor_server(Protocol::Tcp).await;
    let mut c = RawClient::connect(&address, server.id()).await;
    let good = c.header("OPERATION", "sensor", Some("gain"), "readproperty", json!({}));
    let mut without_id = good.clone();
    without_id.as_object_mut().expect("obj").remove("messageID");
    let mut mistyped = good.clone();
    mistyped["senderID"] = json!(42);
    let mut bad_ctx = good.clone();
    bad_ctx["serverExecutionContext"] = json!({"executionTimeout": "soon"});
    let id = good["messageID"].as_str().expect("id").to_owned();
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        (vec![0xff, 0xfe, 0x00], "", "not UTF-8"),
        (b"{not json".to_vec(), "", "not valid JSON"),
        (b"[1,2,3]".to_vec(), "", "wrong shape"),
        (vec![], "", "empty"),
        (to_bytes(&without_id), "", "messageID"),
        (to_bytes(&mistyped), &id, "wrong shape"),
        (to_bytes(&bad_ctx), &id, "wrong shape"),
    ];
    for (header, message_id, text) in cases {
        expect_invalid(&mut c, vec![vec![], header, b"null".to_vec(), vec![]], message_id, text).await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_frame_counts_get_invalid_message() {
    let (server, address) = sensor_server(Protocol::Ipc).await;
    let mut c = RawClient::connect(&address, server.id()).await;
    // Body frames after the routing frame; the server sees one more (the identity).
    for body_frames in [1usize, 2, 3, 5, 49] {
        let h = c.header("OPERATION", "sensor", Some("gain"), "readproperty", json!({}));
        let id = h["messageID"].as_str().expect("id").to_owned();
        let mut body: Frames = vec![vec![], to_bytes(&h), b"null".to_vec(), vec![]];
        body.resize(body_frames, b"x".to_vec());
        if body_frames > 4 {
            body.truncate(4);
            body.extend(std::iter::repeat_n(b"extra".to_vec(), body_frames - 4));
        }
        let seen = body_frames + 1;
        let expected_id = if seen >= 3 { id.as_str() } else { "" };
        // Past `max_frames` (default 16) the limit's own error comes first.
        let text = if seen > 16 {
            format!("the message has {seen} frames, over this server's limit of 16")
        } else {
            format!("number of message parts {seen}")
        };
        expect_invalid(&mut c, body, expected_id, &text).await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_messages_and_lying_payloads() {
    let (server, address) = serve_on(
        Protocol::Tcp,
        "small",
        vec![Box::new(|b: thingwire::ServerBuilder| b.thing(Sensor::new("sensor")).max_message_size(4096))],
    )
    .await;
    let mut c = RawClient::connect(&address, server.id()).await;

    let h = c.header("OPERATION", "sensor", Some("echo"), "invokeaction", json!({}));
    let big = to_bytes(&json!({"value": "x".repeat(8000)}));
    let id = h["messageID"].as_str().expect("id").to_owned();
    expect_invalid(&mut c, vec![vec![], to_bytes(&h), big, vec![]], &id, "over this server's limit of 4096 bytes")
        .await;

    // JSON declared, msgpack sent.
    let h = c.header("OPERATION", "sensor", Some("gain"), "writeproperty", json!({}));
    c.exchange(h, rmp_serde::to_vec(&2.0f64).expect("mp"), vec![])
        .await
        .assert_exception("TypeError", "expected value");
    // msgpack declared, JSON sent: `{` reads as the msgpack integer 123, not keyword arguments.
    let h = c.header(
        "OPERATION",
        "sensor",
        Some("add"),
        "invokeaction",
        json!({"payloadContentType": "application/msgpack"}),
    );
    let r = c.exchange(h, to_bytes(&json!({"a": 1, "b": 2})), vec![]).await;
    r.assert_exception("TypeError", "expected an object of keyword arguments");
    // Bytes that are no msgpack at all (0xc1 is never used).
    let h = c.header(
        "OPERATION",
        "sensor",
        Some("gain"),
        "writeproperty",
        json!({"payloadContentType": "application/msgpack"}),
    );
    assert_eq!(c.exchange(h, vec![0xc1], vec![]).await.kind, "EXCEPTION");
    // An empty payload frame where JSON is declared (hololinked: "Input data was truncated").
    let h = c.header("OPERATION", "sensor", Some("add"), "invokeaction", json!({}));
    c.exchange(h, vec![], vec![]).await.assert_exception("TypeError", "EOF");
    // Pickle is never deserialized.
    let h = c.header(
        "OPERATION",
        "sensor",
        Some("gain"),
        "writeproperty",
        json!({"payloadContentType": "application/x-pickle"}),
    );
    c.exchange(h, b"\x80\x04K\x01.".to_vec(), vec![])
        .await
        .assert_exception("ValueError", "unsupported payload content type");
    // Deeply nested JSON is refused by the decoder's recursion limit, not by a stack overflow.
    let deep = format!("{{\"value\": {}1{}}}", "[".repeat(1000), "]".repeat(1000));
    let h = c.header("OPERATION", "sensor", Some("echo"), "invokeaction", json!({}));
    let r = c.exchange(h, deep.into_bytes(), vec![]).await;
    assert_eq!(r.kind, "EXCEPTION");
    still_serves(&mut c).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lenient_header_shapes_are_accepted() {
    let (server, address) = serve_on(Protocol::Inproc, "lenient", vec![thing(Sensor::new("sensor"))]).await;
    let mut c = RawClient::connect(&address, server.id()).await;
    let cases = [
        json!({"serverExecutionContext": null, "thingExecutionContext": null}),
        json!({"serverExecutionContext": {}, "thingExecutionContext": {}}),
        json!({"serverExecutionContext": {"invokation_timeout": 5.0, "execution_timeout": 5.0}}),
        json!({"messageType": "FOO"}),
        json!({"receiverID": "someone-else"}),
        json!({"unknownKey": [1, 2]}),
        json!({"serverExecutionContext": null, "thingExecutionContext": null, "payloadContentType": null, "preencodedPayloadContentType": null}),
    ];
    for extra in cases {
        let h = c.header("OPERATION", "sensor", Some("serial"), "readproperty", extra.clone());
        let r = c.exchange(h, b"null".to_vec(), vec![]).await;
        assert_eq!((r.kind.as_str(), &r.payload), ("REPLY", &json!("SN-001")), "{extra}");
    }
    // The minimal header: only the four required keys.
    let id = "minimal-1";
    let h = json!({"messageType": "OPERATION", "messageID": id, "senderID": c.id, "receiverID": c.server_id});
    let r = c.exchange(h, b"null".to_vec(), vec![]).await;
    // thingID defaults to "": unknown thing.
    assert_eq!(r.kind, "INVALID_MESSAGE");
    server.shutdown().await;
}
