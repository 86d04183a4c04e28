//! The minimal runtime client against a thingwire server: typed calls, typed errors, pipelining.

use std::time::Duration;

use thingwire::transport::Protocol;
use thingwire::{CallOptions, Client, ClientError};

use crate::common::{ALL_TRANSPORTS, sensor_server, sync};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_calls_and_errors_on_every_transport() {
    for protocol in ALL_TRANSPORTS {
        let (server, address) = sensor_server(protocol).await;
        let client = Client::connect(&address).await.expect("connect");
        assert_eq!(client.server_id(), server.id(), "learnt from the handshake");
        assert_eq!(client.read_property::<f64>("sensor", "gain").await.expect("read"), 1.0);
        client.write_property("sensor", "gain", &2.5).await.expect("write");
        assert_eq!(client.read_property::<f64>("sensor", "gain").await.expect("read"), 2.5);
        let sum: f64 = client.invoke("sensor", "add", &serde_json::json!({"a": 2, "b": 3})).await.expect("add");
        assert_eq!(sum, 5.0);
        match client.write_property("sensor", "gain", &1000.0).await {
            Err(ClientError::Remote(e)) => {
                assert_eq!(e.kind, "ValueError");
                assert!(e.message.contains("between"), "{}", e.message);
                assert!(!e.traceback.is_empty());
            }
            other => panic!("expected a remote ValueError, got {other:?}"),
        }
        let options = CallOptions { execution_timeout: Some(Duration::from_millis(100)), ..CallOptions::default() };
        let r: Result<(), _> =
            client.invoke_with("sensor", "slow", &serde_json::json!({"seconds": 1.0}), &options).await;
        assert!(
            matches!(r, Err(ClientError::ServerTimeout { kind: thingwire::protocol::TimeoutKind::Execution, .. })),
            "{r:?}"
        );
        let options = CallOptions { timeout: Some(Duration::from_millis(100)), ..CallOptions::default() };
        let r: Result<(), _> =
            client.invoke_with("sensor", "sleep", &serde_json::json!({"seconds": 1.0}), &options).await;
        assert!(matches!(r, Err(ClientError::Timeout { .. })), "client-side deadline: {r:?}");
        let json = CallOptions { content_type: thingwire::protocol::ContentType::Json, ..CallOptions::default() };
        let bytes: Vec<u8> = client.read_property_with("sensor", "order", &json).await.expect("read as JSON");
        assert!(bytes.is_empty());
        let td = client.thing_description("sensor").await.expect("td");
        assert_eq!(td["properties"]["gain"]["forms"][0]["href"], address.as_str());
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_share_one_connection() {
    let (server, address) = sensor_server(Protocol::Tcp).await;
    let client = Client::connect(&address).await.expect("connect");
    let mut tasks = Vec::new();
    for t in 0..32i64 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..500i64 {
                let v = serde_json::json!({"task": t, "i": i});
                let back: serde_json::Value =
                    client.invoke("sensor", "echo", &serde_json::json!({"value": v})).await.expect("echo");
                assert_eq!(back, v, "every reply reaches its own caller");
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_named_in_the_error() {
    let options = thingwire::ConnectOptions { handshake_timeout: Duration::from_millis(300), ..Default::default() };
    let err = Client::connect_with("tcp://127.0.0.1:9", options).await.expect_err("nobody there");
    assert!(matches!(err, ClientError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("tcp://127.0.0.1:9"), "{err}");
    let err = Client::connect("http://x").await.expect_err("bad scheme");
    assert!(err.to_string().contains("expected tcp://"), "{err}");
    let _ = Protocol::Tcp;
}

/// A Sensor server on `address`. libzmq closes a socket's listener in the background, so binding the
/// address a server that just shut down used may take a few tries.
async fn sensor_server_on(address: &str, id: &str) -> thingwire::Server {
    let mut tries = 0;
    loop {
        match thingwire::Server::builder(id).thing(crate::common::Sensor::new("sensor")).tcp(address).start().await {
            Ok(server) => return server,
            Err(thingwire::ServerError::Bind { .. }) if tries < 50 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("server starts: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_fails_calls_in_the_gap_and_serves_after() {
    let (gate, turnstile) = sync::gate();
    let (signal, mut signals) = sync::signal();
    let first = thingwire::Server::builder("restart")
        .thing(crate::common::Sensor::new("sensor"))
        .thing(sync::Gated::new(turnstile, signal))
        .tcp("127.0.0.1:0")
        .shutdown_grace(Duration::from_millis(300))
        .start()
        .await
        .expect("server starts");
    let address = first.address(Protocol::Tcp).expect("tcp").to_owned();
    let bind = address.trim_start_matches("tcp://").to_owned();
    let client = Client::connect(&address).await.expect("connect");
    let mut state = client.state_changes();
    assert_eq!(client.state(), thingwire::ConnectionState::Connected);
    assert_eq!(client.read_property::<f64>("sensor", "gain").await.expect("read"), 1.0);

    // A call in flight when the server goes away fails with a clear error instead of hanging: its action
    // still runs when the shutdown's grace period ends, so the connection drops under it.
    let in_flight = {
        let client = client.clone();
        tokio::spawn(async move { client.invoke::<f64, _>("gated", "hold_thread", &()).await })
    };
    signals.expect("hold_thread").await;
    first.shutdown().await;
    let in_flight = tokio::time::timeout(Duration::from_secs(10), in_flight).await.expect("no hang").expect("join");
    assert!(matches!(in_flight, Err(ClientError::ConnectionLost { .. })), "{in_flight:?}");
    gate.open();
    tokio::time::timeout(Duration::from_secs(10), state.wait_for(|s| *s == thingwire::ConnectionState::Disconnected))
        .await
        .expect("the client notices")
        .expect("watch");

    // Calls while the server is gone fail at once, and nothing piles up.
    for _ in 0..100 {
        let r = tokio::time::timeout(Duration::from_secs(1), client.read_property::<f64>("sensor", "gain"))
            .await
            .expect("fails fast");
        assert!(matches!(r, Err(ClientError::Disconnected { .. })), "{r:?}");
    }

    // The server comes back on the same address: the client re-handshakes and serves calls again.
    let second = sensor_server_on(&bind, "restart").await;
    tokio::time::timeout(Duration::from_secs(15), state.wait_for(|s| *s == thingwire::ConnectionState::Connected))
        .await
        .expect("the client reconnects")
        .expect("watch");
    assert_eq!(client.read_property::<f64>("sensor", "gain").await.expect("read after restart"), 1.0);
    let stats = client.stats();
    assert!(stats.disconnects >= 1, "{stats:?}");
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_made_before_the_server_starts_receives_its_events() {
    // Reserve a port pair, then subscribe before anything listens there.
    let probe = sensor_server_on("127.0.0.1:0", "early").await;
    let address = probe.address(Protocol::Tcp).expect("tcp").to_owned();
    probe.shutdown().await;
    let events = thingwire::client::event_address_for(&address);
    // libzmq closes the probe's listeners in the background; until then a connection would reach the
    // closing server, whose authentication has already been withdrawn, and be refused (which subscribing
    // reports). Wait until nothing listens on the event port (bounded: 5 s).
    let event_port = events.trim_start_matches("tcp://").to_owned();
    let mut tries = 0;
    while std::net::TcpStream::connect(&event_port).is_ok() {
        tries += 1;
        assert!(tries < 100, "the stopped server's event port {event_port} still accepts connections after 5 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut ticks = thingwire::Subscription::<crate::common::sensor::Tick>::connect(
        thingwire::transport::context(),
        &events,
        "sensor/tick",
    )
    .await
    .expect("subscribe");
    let server = sensor_server_on(address.trim_start_matches("tcp://"), "early").await;
    let client = Client::connect(&address).await.expect("connect");
    let got = crate::common::first_tick(&client, &mut ticks).await;
    assert!(got.is_some(), "the early subscription received events once the server started");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_keeps_receiving_across_a_server_restart() {
    let first = sensor_server_on("127.0.0.1:0", "resub").await;
    let address = first.address(Protocol::Tcp).expect("tcp").to_owned();
    let bind = address.trim_start_matches("tcp://").to_owned();
    let client = Client::connect(&address).await.expect("connect");
    let mut ticks = client.subscribe::<crate::common::sensor::Tick>("sensor", "tick").await.expect("subscribe");
    assert!(crate::common::first_tick(&client, &mut ticks).await.is_some(), "events before the restart");
    let mut state = client.state_changes();
    first.shutdown().await;
    // Wait until the client has seen the loss: otherwise its state may still read `Connected` from before
    // and the first request after the restart would race the late disconnect notice.
    tokio::time::timeout(Duration::from_secs(15), state.wait_for(|s| *s == thingwire::ConnectionState::Disconnected))
        .await
        .expect("the client notices the shutdown")
        .expect("watch");

    // ZeroMQ reconnects the SUB socket by itself; the stream must notice the new connection's events.
    let second = sensor_server_on(&bind, "resub").await;
    tokio::time::timeout(Duration::from_secs(15), state.wait_for(|s| *s == thingwire::ConnectionState::Connected))
        .await
        .expect("the client reconnects")
        .expect("watch");
    assert!(crate::common::first_tick(&client, &mut ticks).await.is_some(), "events after the restart");
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_dropped_mid_call_does_not_disturb_the_server() {
    let (server, address, gate, mut signals) = sync::gated_server(Protocol::Tcp).await;
    let doomed = Client::connect(&address).await.expect("connect");
    let call = tokio::spawn(async move { doomed.invoke::<u32, _>("gated", "hold", &()).await });
    // The call reached the server and its action runs; then its client goes, mid-call.
    signals.expect("hold").await;
    call.abort();
    assert!(call.await.expect_err("aborted while its action waits at the gate").is_cancelled());
    gate.let_through(1);
    signals.expect("hold done").await;
    // The action ran to its end and its reply went nowhere. A queued request runs after that reply was
    // sent: the server goes on serving.
    let other = Client::connect(&address).await.expect("connect");
    other.invoke::<(), _>("gated", "record", &serde_json::json!({"n": 1})).await.expect("served");
    assert_eq!(
        other.read_property::<u32>("gated", "side_effects").await.expect("read"),
        1,
        "the dropped call still ran"
    );
    assert_eq!(other.read_property::<f64>("gated", "gain").await.expect("read"), 1.0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dynamic_client_checks_inputs_against_the_td() {
    use serde_json::json;
    let (server, address) = sensor_server(Protocol::Tcp).await;
    let sensor = thingwire::ThingClient::connect(&address, "sensor").await.expect("connect");
    assert!(sensor.properties().contains(&"gain") && sensor.actions().contains(&"add") && sensor.events() == ["tick"]);
    assert_eq!(sensor.read("gain").await.expect("read"), json!(1.0));
    sensor.write("gain", &json!(4.0)).await.expect("write");
    assert_eq!(sensor.read_as::<f64>("gain").await.expect("read"), 4.0);
    // Refused before anything is sent: bounds, read-only, types, names.
    let cases: Vec<(thingwire::ClientError, &str)> = vec![
        (sensor.write("gain", &json!(1000)).await.expect_err("bounds"), "more than the maximum 100"),
        (sensor.write("serial", &json!("x")).await.expect_err("read-only"), "read-only"),
        (sensor.write("gian", &json!(1)).await.expect_err("typo"), "did you mean `gain`"),
        (sensor.invoke("add", &json!({"a": 1, "bb": 2})).await.expect_err("arg typo"), "did you mean `b`"),
        (sensor.invoke("add", &json!({"a": "x", "b": 2})).await.expect_err("arg type"), "/a: expected number"),
        (sensor.invoke("add", &json!({"a": 1})).await.expect_err("missing"), "`b` is required"),
    ];
    for (err, text) in cases {
        assert!(err.to_string().contains(text), "{err} should contain {text}");
    }
    assert_eq!(sensor.invoke("add", &json!({"a": 1, "b": 2})).await.expect("add"), json!(3.0));
    assert_eq!(sensor.invoke_as::<f64>("add", &json!({"__args__": [2, 2]})).await.expect("positional"), 4.0);
    let _changes = sensor.subscribe("gain").await.expect("observable property");
    assert!(sensor.subscribe("serial").await.is_err(), "not observable");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_bytes_and_execution_logs_from_the_client() {
    let (server, address) = sensor_server(Protocol::Ipc).await;
    let client = Client::connect(&address).await.expect("connect");
    for content_type in [thingwire::protocol::ContentType::Msgpack, thingwire::protocol::ContentType::Json] {
        let options = CallOptions { content_type, ..CallOptions::default() };
        let echoed: thingwire::Bytes =
            client.invoke_bytes("sensor", "echo_bytes", vec![1, 2, 3, 255], &(), &options).await.expect("bytes");
        assert_eq!(echoed.0, [1, 2, 3, 255], "bytes go out and come back in the preserialized frame");
        let (length, logs): (u32, Vec<String>) = client
            .invoke_with_logs("sensor", "log", &serde_json::json!({"message": "hello"}), &options)
            .await
            .expect("logs");
        assert_eq!(length, 5);
        assert!(logs.iter().any(|l| l.contains("logging hello")), "{logs:?}");
    }
    server.shutdown().await;
}
