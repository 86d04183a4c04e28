//! The codec against real hololinked 0.4.2 traffic: every captured header decodes, and response and event
//! headers re-encode byte for byte.

use serde_json::Value;
use thingwire::protocol::{ErrorPayload, EventHeader, MessageType, RequestHeader, ResponseHeader, TimeoutKind};

struct Message {
    title: String,
    direction: String,
    frames: Vec<Vec<u8>>,
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

fn capture() -> Vec<Message> {
    let text = include_str!("../../vectors/hololinked-0.4.2-capture.json");
    let raw: Vec<Value> = serde_json::from_str(text).expect("capture json");
    raw.into_iter()
        .map(|m| Message {
            title: m["title"].as_str().expect("title").to_owned(),
            direction: m["direction"].as_str().expect("direction").to_owned(),
            frames: m["frames"]
                .as_array()
                .expect("frames")
                .iter()
                .map(|f| hex(f["hex"].as_str().expect("hex")))
                .collect(),
        })
        .collect()
}

/// Frame index of the header: 2 for ROUTER-side views, 1 for the DEALER's 4-frame messages.
fn header_index(m: &Message) -> usize {
    if m.direction.contains("DEALER") || (m.frames.len() == 4 && m.title.contains("DEALER")) { 1 } else { 2 }
}

fn is_request(m: &Message) -> bool {
    m.direction.starts_with("client->server") || m.direction == "send"
}

fn is_reply(m: &Message) -> bool {
    m.direction.starts_with("server->client") || m.direction == "recv"
}

#[test]
fn every_captured_request_header_decodes() {
    let mut decoded = 0;
    for m in capture().iter().filter(|m| is_request(m)) {
        let frame = &m.frames[header_index(m)];
        let result = RequestHeader::decode(frame);
        if m.title.contains("missing required field messageID") {
            let err = result.expect_err("a header without messageID must fail");
            assert!(err.to_string().contains("messageID"), "{err}");
            continue;
        }
        let h = result.unwrap_or_else(|e| panic!("{}: {e}", m.title));
        assert!(!h.message_id.is_empty(), "{}", m.title);
        if m.title.contains("EXIT") {
            assert_eq!(h.kind(), MessageType::Exit);
        }
        if m.title.contains("snake_case") {
            assert!(h.server_execution_context.execution_timeout.is_some(), "{}", m.title);
        }
        if m.title.starts_with("readallproperties") {
            assert_eq!(h.objekt, None, "objekt null is kept apart from \"\"");
        }
        decoded += 1;
    }
    assert!(decoded >= 35, "only {decoded} request headers found");
}

#[test]
fn every_captured_reply_header_round_trips_byte_for_byte() {
    let mut checked = 0;
    for m in capture().iter().filter(|m| is_reply(m)) {
        let frame = &m.frames[header_index(m)];
        let h = ResponseHeader::decode(frame).unwrap_or_else(|e| panic!("{}: {e}", m.title));
        assert_eq!(h.encode(), *frame, "{}: re-encoded header differs", m.title);
        let payload = &m.frames[header_index(m) + 1];
        match h.kind() {
            Some(MessageType::Exception) | Some(MessageType::InvalidMessage) => {
                let e: ErrorPayload = serde_json::from_slice(payload).unwrap_or_else(|e| panic!("{}: {e}", m.title));
                assert!(!e.exception.traceback.is_empty(), "{}", m.title);
                assert!(!e.exception.kind.is_empty(), "{}", m.title);
            }
            Some(MessageType::Timeout) => {
                let word: String = serde_json::from_slice(payload).expect("timeout payload");
                assert!(TimeoutKind::from_wire(&word).is_some(), "{}: {word}", m.title);
            }
            Some(_) => {}
            None => panic!("{}: unknown message type {}", m.title, h.message_type),
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} replies found");
}

#[test]
fn captured_events_round_trip_byte_for_byte() {
    let events: Vec<Message> = capture().into_iter().filter(|m| m.direction == "PUB->SUB").collect();
    assert!(!events.is_empty());
    for m in &events {
        let h = EventHeader::decode(&m.frames[2]).unwrap_or_else(|e| panic!("{}: {e}", m.title));
        assert_eq!(h.encode(), m.frames[2], "{}", m.title);
        assert_eq!(h.event_id.as_bytes(), &m.frames[0][..], "eventID equals the topic");
        assert!(m.frames[1].is_empty());
    }
}

#[test]
fn our_reply_header_matches_the_captured_handshake_reply() {
    let all = capture();
    let reply = all.iter().find(|m| m.title == "HANDSHAKE reply").expect("captured");
    let captured = ResponseHeader::decode(&reply.frames[2]).expect("decodes");
    let ours = ResponseHeader {
        message_type: "HANDSHAKE".into(),
        message_id: captured.message_id.clone(),
        receiver_id: captured.receiver_id.clone(),
        sender_id: captured.sender_id.clone(),
        payload_content_type: "application/json".into(),
        preencoded_payload_content_type: "text/plain".into(),
    };
    assert_eq!(ours.encode(), reply.frames[2]);
    assert_eq!(reply.frames[3], b"null");
}
