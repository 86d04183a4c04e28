//! The minimal runtime client against a thingwire server: typed calls, typed errors, pipelining.

use std::time::Duration;

use thingwire::transport::Protocol;
use thingwire::{CallOptions, Client, ClientError};

use crate::common::{ALL_TRANSPORTS, sensor_server};

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
            for i in 0..100i64 {
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
