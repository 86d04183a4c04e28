//! Every operation and message type, on inproc, ipc and tcp, driven frame by frame by a raw tmq client.

use std::time::Duration;

use serde_json::{Value, json};
use thingwire::transport::Protocol;

use crate::common::{RawClient, Reply, sensor_server, to_bytes};

async fn exercise(protocol: Protocol) {
    let (server, address) = sensor_server(protocol).await;
    let mut c = RawClient::connect(&address, server.id()).await;

    // readproperty: routed to our senderID, from the server id, JSON by default.
    let r = c.op("sensor", Some("gain"), "readproperty", Value::Null).await;
    assert_eq!((r.kind.as_str(), &r.payload), ("REPLY", &json!(1.0)));
    assert_eq!(r.header["receiverID"], c.id.as_str());
    assert_eq!(r.header["senderID"], server.id());
    assert_eq!(r.header["payloadContentType"], "application/json");

    // writeproperty, then read back.
    let r = c.op("sensor", Some("gain"), "writeproperty", json!(2.5)).await;
    assert_eq!((r.kind.as_str(), &r.payload, &r.raw_payload[..]), ("REPLY", &Value::Null, &b"null"[..]));
    assert_eq!(c.op("sensor", Some("gain"), "readproperty", Value::Null).await.payload, json!(2.5));

    // Bad writes and names.
    c.op("sensor", Some("gain"), "writeproperty", json!(1000))
        .await
        .assert_exception("ValueError", "between 0.1 and 100");
    c.op("sensor", Some("gain"), "writeproperty", json!("loud")).await.assert_exception("TypeError", "invalid type");
    c.op("sensor", Some("serial"), "writeproperty", json!("x")).await.assert_exception("AttributeError", "read-only");
    c.op("sensor", Some("gian"), "readproperty", Value::Null).await.assert_exception("KeyError", "did you mean `gain`");
    c.op("sensor", Some("gain"), "deleteproperty", Value::Null)
        .await
        .assert_exception("NotImplementedError", "deleteproperty");
    c.op("sensor", Some("gain"), "fly", Value::Null)
        .await
        .assert_exception("NotImplementedError", "unknown operation `fly`");
    c.op("sensor", Some("tick"), "subscribeevent", Value::Null)
        .await
        .assert_exception("NotImplementedError", "event publisher");

    // Several properties at once.
    let r = c.op("sensor", Some("gain,mode"), "readmultipleproperties", Value::Null).await;
    assert_eq!(r.payload, json!({"gain": 2.5, "mode": "internal"}));
    let r = c.op("sensor", None, "readallproperties", Value::Null).await;
    assert_eq!(r.payload["serial"], "SN-001");
    assert_eq!(r.payload.as_object().map(|o| o.len()), Some(6), "{:?}", r.payload);
    let r = c.op("sensor", None, "writemultipleproperties", json!({"gain": 3.0, "mode": "external"})).await;
    assert_eq!(r.kind, "REPLY");
    assert_eq!(
        c.op("sensor", Some("gain,mode"), "readmultipleproperties", Value::Null).await.payload,
        json!({"gain": 3.0, "mode": "external"})
    );
    let r =
        c.op("sensor", None, "writemultipleproperties", json!({"gain": 1000, "serial": "x", "mode": "internal"})).await;
    r.assert_exception("ValueError", "2 of the properties could not be written");
    let notes = r.payload["exception"]["notes"].as_array().expect("notes list");
    assert!(notes.iter().any(|n| n.as_str().is_some_and(|n| n.starts_with("gain:"))), "{notes:?}");
    assert!(notes.iter().any(|n| n.as_str().is_some_and(|n| n.starts_with("serial:"))), "{notes:?}");
    assert_eq!(
        c.op("sensor", Some("mode"), "readproperty", Value::Null).await.payload,
        json!("internal"),
        "the valid entry was written"
    );
    c.op("sensor", None, "writemultipleproperties", json!({"gain": 8.0, "nope": 1}))
        .await
        .assert_exception("KeyError", "no property `nope`");
    assert_eq!(
        c.op("sensor", Some("gain"), "readproperty", Value::Null).await.payload,
        json!(3.0),
        "nothing written when a name is unknown"
    );

    // The hidden actions hololinked's client uses for several properties.
    let r = c.op("sensor", Some("_get_properties"), "invokeaction", json!({"names": ["gain", "serial"]})).await;
    assert_eq!(r.payload, json!({"gain": 3.0, "serial": "SN-001"}));
    let r = c.op("sensor", Some("_set_properties"), "invokeaction", json!({"gain": 4.0, "mode": "internal"})).await;
    assert_eq!(r.kind, "REPLY");
    assert_eq!(c.op("sensor", Some("gain"), "readproperty", Value::Null).await.payload, json!(4.0));

    // Actions: keyword, positional, mixed; errors.
    assert_eq!(c.op("sensor", Some("add"), "invokeaction", json!({"a": 1, "b": 2})).await.payload, json!(3.0));
    assert_eq!(c.op("sensor", Some("add"), "invokeaction", json!({"__args__": [1, 2]})).await.payload, json!(3.0));
    assert_eq!(c.op("sensor", Some("add"), "invokeaction", json!({"__args__": [1], "b": 5})).await.payload, json!(6.0));
    c.op("sensor", Some("add"), "invokeaction", json!({"a": 1}))
        .await
        .assert_exception("TypeError", "missing required argument `b`");
    c.op("sensor", Some("add"), "invokeaction", json!({"a": 1, "c": 2}))
        .await
        .assert_exception("TypeError", "unexpected argument `c`");
    c.op("sensor", Some("fail"), "invokeaction", json!({"message": "boom"}))
        .await
        .assert_exception("ValueError", "boom");
    c.op("sensor", Some("ad"), "invokeaction", json!({})).await.assert_exception("KeyError", "did you mean `add`");
    c.op("sensor", Some("panic"), "invokeaction", Value::Null)
        .await
        .assert_exception("RuntimeError", "panicked: sensor exploded");
    assert_eq!(
        c.op("sensor", Some("gain"), "readproperty", Value::Null).await.payload,
        json!(4.0),
        "still serving after a panic"
    );
    assert_eq!(
        c.op("sensor", Some("echo"), "invokeaction", json!({"value": {"x": [1, "y"]}})).await.payload,
        json!({"x": [1, "y"]})
    );

    // Unknown thing: INVALID_MESSAGE, as hololinked.
    let r = c.op("senor", Some("gain"), "readproperty", Value::Null).await;
    assert_eq!(r.kind, "INVALID_MESSAGE");
    r.assert_error_shape("ValueError", "did you mean `sensor`");

    // The Thing Description, for this transport, answered outside the queue.
    let r = c
        .op(
            "sensor",
            Some("get_thing_description"),
            "invokeaction",
            json!({"protocol": protocol.as_str(), "ignore_errors": false, "skip_names": []}),
        )
        .await;
    assert_eq!(r.kind, "REPLY");
    assert_eq!(r.payload["id"], format!("urn:thingwire:{}:sensor", server.id()));
    let href = r.payload["properties"]["gain"]["forms"][0]["href"].as_str().expect("href");
    assert_eq!(href, address, "the form href is the address a client connects to");
    let forms = r.payload["properties"]["gain"]["forms"].as_array().expect("forms");
    let ops = |ct: &str| -> Vec<&str> {
        forms.iter().filter(|f| f["contentType"].as_str() == Some(ct)).map(|f| f["op"].as_str().expect("op")).collect()
    };
    assert_eq!(ops("application/json"), ["readproperty", "writeproperty", "observeproperty"]);
    assert_eq!(ops("application/msgpack"), ["readproperty", "writeproperty", "observeproperty"]);
    assert_eq!(forms[0]["contentType"], "application/json", "hololinked's client takes the first form: JSON");
    // hololinked's client addresses the Thing by its TD id.
    let urn = r.payload["id"].as_str().expect("id").to_owned();
    assert_eq!(c.op(&urn, Some("gain"), "readproperty", Value::Null).await.payload, json!(4.0));
    // Built-in actions.
    assert_eq!(c.op("sensor", Some("ping"), "invokeaction", Value::Null).await.kind, "REPLY");
    let tm = c.op("sensor", Some("get_thing_model"), "invokeaction", Value::Null).await.payload;
    assert_eq!(tm["@type"], "tm:ThingModel");
    assert!(tm["properties"]["gain"].get("forms").is_none(), "a Thing Model has no forms");
    assert_eq!(r.payload["properties"]["serial"]["readOnly"], true);
    let r = c.op("sensor", Some("get_thing_description"), "invokeaction", json!({"skip_names": ["add"]})).await;
    assert!(r.payload["actions"].get("add").is_none() && r.payload["actions"].get("fail").is_some());
    let other = if protocol == Protocol::Tcp { "IPC" } else { "TCP" };
    let r = c.op("sensor", Some("get_thing_description"), "invokeaction", json!({"protocol": other})).await;
    r.assert_exception("ValueError", &format!("does not serve {other}"));

    // msgpack both ways.
    let mut h = c.header(
        "OPERATION",
        "sensor",
        Some("gain"),
        "writeproperty",
        json!({"payloadContentType": "application/msgpack"}),
    );
    let r = c.exchange(h.clone(), rmp_serde::to_vec(&5.5f64).expect("mp"), vec![]).await;
    assert_eq!(r.kind, "REPLY");
    assert_eq!(r.header["payloadContentType"], "application/msgpack");
    h = c.header(
        "OPERATION",
        "sensor",
        Some("gain"),
        "readproperty",
        json!({"payloadContentType": "application/msgpack"}),
    );
    let r = c.exchange(h, vec![0xc0], vec![]).await;
    assert_eq!(rmp_serde::from_slice::<f64>(&r.raw_payload).expect("msgpack f64"), 5.5);
    h = c.header(
        "OPERATION",
        "sensor",
        None,
        "readallproperties",
        json!({"payloadContentType": "application/msgpack"}),
    );
    let r = c.exchange(h, vec![0xc0], vec![]).await;
    let all: Value = rmp_serde::from_slice(&r.raw_payload).expect("msgpack map");
    assert_eq!(all["gain"], json!(5.5));

    // Bytes in frame 4, both ways.
    let h = c.header(
        "OPERATION",
        "sensor",
        Some("echo_bytes"),
        "invokeaction",
        json!({"preencodedPayloadContentType": "application/octet-stream"}),
    );
    let r = c.exchange(h, b"null".to_vec(), vec![0, 1, 2, 255]).await;
    assert_eq!((r.kind.as_str(), &r.payload, &r.preserialized[..]), ("REPLY", &Value::Null, &[0u8, 1, 2, 255][..]));

    // Execution logs come back with the result, in hololinked's shape.
    let h = c.header(
        "OPERATION",
        "sensor",
        Some("log"),
        "invokeaction",
        json!({"thingExecutionContext": {"fetchExecutionLogs": true}}),
    );
    let r = c.exchange(h, to_bytes(&json!({"message": "hello"})), vec![]).await;
    assert_eq!(r.payload["return_value"], json!(5));
    let logs = r.payload["execution_logs"].as_array().expect("logs");
    assert!(
        logs.iter().any(|l| l
            .as_str()
            .is_some_and(|l| l.contains("INFO") && l.contains("logging hello") && l.contains("length=5"))),
        "{logs:?}"
    );
    assert!(logs.iter().any(|l| l.as_str().is_some_and(|l| l.contains("second line"))), "{logs:?}");
    let h = c.header(
        "OPERATION",
        "sensor",
        Some("fail"),
        "invokeaction",
        json!({"thingExecutionContext": {"fetch_execution_logs": true}}),
    );
    let r = c.exchange(h, to_bytes(&json!({"message": "x"})), vec![]).await;
    r.assert_exception("ValueError", "x");
    assert!(r.payload["execution_logs"].is_array(), "logs ride along with the error");

    // Oneway: no reply; the write still happens.
    let h = c.header(
        "OPERATION",
        "sensor",
        Some("gain"),
        "writeproperty",
        json!({"serverExecutionContext": {"oneway": true}}),
    );
    c.send(&h, b"7.0".to_vec()).await;
    // The next message answers the read sent after it: a reply to the oneway write would come first.
    let read = c.header("OPERATION", "sensor", Some("gain"), "readproperty", json!({}));
    c.send(&read, b"null".to_vec()).await;
    let r = Reply::parse(&c.recv().await);
    assert_eq!(
        (&r.header["messageID"], &r.payload),
        (&read["messageID"], &json!(7.0)),
        "a oneway request gets no reply"
    );

    // Remote EXIT is refused by default; the server keeps serving.
    let h = c.header("EXIT", "", Some(""), "", json!({}));
    let r = c.exchange(h, b"null".to_vec(), vec![]).await;
    r.assert_exception("PermissionError", "remote EXIT is disabled");
    assert_eq!(c.op("sensor", Some("serial"), "readproperty", Value::Null).await.payload, json!("SN-001"));

    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_over_inproc() {
    exercise(Protocol::Inproc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_over_ipc() {
    exercise(Protocol::Ipc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_over_tcp() {
    exercise(Protocol::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_server_serves_many_things_over_all_transports_at_once() {
    use crate::common::{Sensor, scratch_dir};
    let server = thingwire::Server::builder("multi")
        .thing(Sensor::new("a"))
        .thing(Sensor::new("b"))
        .tcp("127.0.0.1:0")
        .ipc_in(scratch_dir("multi"))
        .inproc()
        .start()
        .await
        .expect("starts");
    assert_eq!(server.thing_ids(), ["a", "b"]);
    let client = thingwire::Client::connect(server.address(Protocol::Tcp).expect("tcp")).await.expect("connect");
    let listed = client.list_things().await.expect("list");
    let listed: Vec<(&str, &str)> = listed.iter().map(|t| (t.id.as_str(), t.td_id.as_str())).collect();
    assert_eq!(listed, [("a", "urn:thingwire:multi:a"), ("b", "urn:thingwire:multi:b")]);
    let mut clients = Vec::new();
    for p in [Protocol::Tcp, Protocol::Ipc, Protocol::Inproc] {
        clients.push(RawClient::connect(server.address(p).expect("bound"), "multi").await);
    }
    // A write on one transport is seen on the others: one Thing, many transports.
    clients[0].op("a", Some("gain"), "writeproperty", json!(9.0)).await;
    for c in &mut clients {
        assert_eq!(c.op("a", Some("gain"), "readproperty", Value::Null).await.payload, json!(9.0));
        assert_eq!(c.op("b", Some("gain"), "readproperty", Value::Null).await.payload, json!(1.0));
    }
    let duplicate =
        thingwire::Server::builder("dup").thing(Sensor::new("a")).thing(Sensor::new("a")).inproc().start().await;
    assert!(matches!(duplicate, Err(thingwire::ServerError::DuplicateThing(ref id)) if id == "a"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_exit_stops_the_server_only_when_enabled() {
    let server = thingwire::Server::builder("exit-ok")
        .thing(crate::common::Sensor::new("sensor"))
        .inproc()
        .allow_remote_exit(true)
        .start()
        .await
        .expect("starts");
    let mut c = RawClient::connect("inproc://exit-ok", "exit-ok").await;
    let h = c.header("EXIT", "", Some(""), "", json!({}));
    c.send_frames(vec![b"exit-ok".to_vec(), vec![], to_bytes(&h), b"null".to_vec(), vec![]]).await;
    tokio::time::timeout(Duration::from_secs(5), server.stopped()).await.expect("EXIT stops the server");
    server.shutdown().await;
}
