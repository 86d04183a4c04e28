//! The Rust client against a real hololinked 0.4.2 Python server (tests/python/hololinked_server.py), started
//! by the test from the cached venv: properties, actions with keyword and positional arguments, exceptions
//! with their Python type, a TIMEOUT, events, an observable property and the Thing Description.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use thingwire::{CallOptions, Client, ClientError};

use crate::common::python;

/// A Python server process, stopped when dropped.
pub(crate) struct PythonServer {
    child: Child,
    pub(crate) address: String,
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port whose successor is free too (hololinked binds events on port + 1).
pub(crate) fn free_port_pair() -> u16 {
    for _ in 0..50 {
        let a = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = a.local_addr().expect("addr").port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no free port pair");
}

fn start_python_server(server_id: &str) -> PythonServer {
    start_python_server_on(server_id, free_port_pair())
}

/// [`start_python_server`] on `port` (and `port + 1` for events).
fn start_python_server_on(server_id: &str, port: u16) -> PythonServer {
    start_hololinked(server_id, "interop", port)
}

/// hololinked's server `server_id` serving the interop Thing as `thing_id` on `port` (events on `port + 1`),
/// once it printed READY (blocking: call it from `spawn_blocking`).
pub(crate) fn start_hololinked(server_id: &str, thing_id: &str, port: u16) -> PythonServer {
    let mut child = Command::new(python::python())
        .arg(python::script("hololinked_server.py"))
        .args(["--port", &port.to_string(), "--server-id", server_id, "--thing-id", thing_id, "--ignore-stdin"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the Python server");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let ready = BufReader::new(stdout).lines().map_while(Result::ok).any(|l| l.trim() == "READY");
        let _ = tx.send(ready);
    });
    let ready = rx.recv_timeout(Duration::from_secs(60)).unwrap_or(false);
    let server = PythonServer { child, address: format!("tcp://127.0.0.1:{port}") };
    assert!(ready, "the hololinked server did not print READY within 60 s");
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_drives_a_python_hololinked_server() {
    let server = tokio::task::spawn_blocking(|| start_python_server("py-server")).await.expect("start");
    let client = Client::connect(&server.address).await.expect("connect");
    assert_eq!(client.server_id(), "py-server");
    // hololinked's HANDSHAKE reply says nothing in frame 4: plain msgpack only.
    assert!(client.server_info().is_none() && !client.packed_arrays());

    // Properties, both content types.
    let json = CallOptions { content_type: thingwire::protocol::ContentType::Json, ..Default::default() };
    client.write_property("interop", "gain", &1.0).await.expect("reset gain");
    assert_eq!(client.read_property::<f64>("interop", "gain").await.expect("read"), 1.0);
    client.write_property_with("interop", "gain", &2.5, &json).await.expect("write json");
    assert_eq!(client.read_property_with::<f64>("interop", "gain", &json).await.expect("read json"), 2.5);
    assert_eq!(client.read_property::<String>("interop", "serial").await.expect("serial"), "SN-001");
    let err = client.write_property("interop", "gain", &1000.0).await.expect_err("out of bounds");
    assert_eq!(err.remote().expect("remote").kind, "ValueError", "{err}");

    // Actions with keyword and positional arguments.
    let sum: f64 = client.invoke("interop", "add", &json!({"a": 1.0, "b": 2.0})).await.expect("kw");
    assert_eq!(sum, 3.0);
    let sum: f64 = client.invoke("interop", "add", &json!({"__args__": [2.0, 3.0]})).await.expect("positional");
    assert_eq!(sum, 5.0);
    let err = client.invoke::<Value, _>("interop", "fail", &json!({"message": "boom"})).await.expect_err("fails");
    let remote = err.remote().expect("remote error");
    assert_eq!((remote.kind.as_str(), remote.message.as_str()), ("ValueError", "boom"));
    assert!(!remote.traceback.is_empty());

    // A TIMEOUT from the Python server.
    let short = CallOptions { execution_timeout: Some(Duration::from_millis(200)), ..Default::default() };
    let err = client
        .invoke_with::<Value, _>("interop", "sleep", &json!({"seconds": 2.0}), &short)
        .await
        .expect_err("timeout");
    assert!(
        matches!(err, ClientError::ServerTimeout { kind: thingwire::protocol::TimeoutKind::Execution, .. }),
        "{err:?}"
    );

    // Events and an observable property.
    let mut ticks = client.subscribe::<Value>("interop", "tick").await.expect("subscribe");
    let mut gains = client.subscribe::<f64>("interop", "gain_change_event").await.expect("subscribe changes");
    let mut tick = None;
    for n in 0..30 {
        client.invoke::<Value, _>("interop", "emit", &json!({"value": n})).await.expect("emit");
        if let Ok(Some(t)) = tokio::time::timeout(Duration::from_millis(200), ticks.next()).await {
            tick = Some(t.expect("decodes").data);
            break;
        }
    }
    assert!(tick.as_ref().is_some_and(|t| t["value"].is_i64()), "a tick arrived: {tick:?}");
    let mut change = None;
    for n in 0..30 {
        client.write_property("interop", "gain", &(3.0 + f64::from(n))).await.expect("write");
        if let Ok(Some(c)) = tokio::time::timeout(Duration::from_millis(200), gains.next()).await {
            change = Some(c.expect("decodes").data);
            break;
        }
    }
    assert!(change.is_some_and(|g| g >= 3.0), "a gain change arrived: {change:?}");

    // The Thing Description a Python server produces.
    let td = client.thing_description("interop").await.expect("td");
    assert_eq!(td["id"], "interop");
    assert!(td["properties"]["gain"]["forms"].is_array(), "{td}");
    // The dynamic client works from the Python server's TD too.
    let dynamic = thingwire::ThingClient::over(client.clone(), "interop").await.expect("dynamic");
    assert!(dynamic.actions().contains(&"add"), "{:?}", dynamic.actions());
    assert_eq!(dynamic.invoke_as::<f64>("add", &json!({"a": 2, "b": 2})).await.expect("add"), 4.0);
    dynamic.write("mode", &json!("external")).await.expect("write mode");
    assert_eq!(dynamic.read("mode").await.expect("read mode"), json!("external"));
    // A thingwire extension: hololinked servers say no clearly.
    let err = client.list_things().await.expect_err("hololinked has no list_things");
    assert!(matches!(err, ClientError::InvalidMessage { .. }), "{err:?}");
    drop(server);
}

/// A thingwire server goes away and a hololinked server takes its address: the client forgets that it may
/// send packed arrays when the connection drops, and talks plain msgpack to the new server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_stops_packing_when_a_hololinked_server_takes_the_address() {
    use thingwire::ConnectionState;
    let port = free_port_pair();
    let rust = thingwire::Server::builder("swap")
        .thing(crate::common::Sensor::new("interop"))
        .tcp(format!("127.0.0.1:{port}"))
        .start()
        .await
        .expect("thingwire server");
    let client = Client::connect(&format!("tcp://127.0.0.1:{port}")).await.expect("connect");
    assert!(client.packed_arrays() && client.server_info().is_some(), "a thingwire server offers packed arrays");
    assert!(client.compact_headers(), "and compact headers");
    assert_eq!(client.read_property::<f64>("interop", "gain").await.expect("read"), 1.0);

    let mut state = client.state_changes();
    rust.shutdown().await;
    tokio::time::timeout(Duration::from_secs(15), state.wait_for(|s| *s == ConnectionState::Disconnected))
        .await
        .expect("the client notices the shutdown")
        .expect("watch");
    assert!(!client.packed_arrays() && client.server_info().is_none(), "forgotten with the connection");
    assert!(!client.compact_headers(), "both");

    let python = tokio::task::spawn_blocking(move || start_python_server_on("swap", port)).await.expect("start");
    tokio::time::timeout(Duration::from_secs(30), state.wait_for(|s| *s == ConnectionState::Connected))
        .await
        .expect("the client reconnects to the hololinked server")
        .expect("watch");
    assert!(!client.packed_arrays() && client.server_info().is_none(), "hololinked offers nothing");
    assert!(!client.compact_headers(), "so the client speaks hololinked's JSON headers to it");
    // Plain msgpack, which the Python server reads.
    client.write_property("interop", "gain", &2.5).await.expect("write to hololinked");
    assert_eq!(client.read_property::<f64>("interop", "gain").await.expect("read from hololinked"), 2.5);
    drop(python);
}
