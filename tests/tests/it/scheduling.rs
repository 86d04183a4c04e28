//! Scheduling semantics: one FIFO per Thing, concurrent and threaded actions outside it, both timeouts.

use std::time::Duration;

use serde_json::{Value, json};
use thingwire::transport::Protocol;

use crate::common::{RawClient, Reply, sensor_server, to_bytes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_operations_run_one_at_a_time_in_arrival_order() {
    let (server, address) = sensor_server(Protocol::Tcp).await;
    let mut a = RawClient::connect(&address, server.id()).await;
    let mut b = RawClient::connect(&address, server.id()).await;
    // Pipelined: 100 records without waiting for replies, then read the order the Thing saw.
    for n in 0..100u32 {
        let h = a.header("OPERATION", "sensor", Some("record"), "invokeaction", json!({}));
        a.send(&h, to_bytes(&json!({"n": n}))).await;
    }
    for _ in 0..100 {
        assert_eq!(Reply::parse(&a.recv().await).kind, "REPLY");
    }
    let order = a.op("sensor", Some("order"), "readproperty", Value::Null).await.payload;
    assert_eq!(order, json!((0..100).collect::<Vec<u32>>()));

    // Probes from two clients at once never overlap.
    for c in [&mut a, &mut b] {
        for _ in 0..10 {
            let h = c.header("OPERATION", "sensor", Some("probe"), "invokeaction", json!({}));
            c.send(&h, b"null".to_vec()).await;
        }
    }
    for c in [&mut a, &mut b] {
        for _ in 0..10 {
            assert_eq!(Reply::parse(&c.recv().await).kind, "REPLY");
        }
    }
    assert_eq!(a.op("sensor", Some("max_active"), "readproperty", Value::Null).await.payload, json!(1));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_threaded_action_does_not_block_queued_reads() {
    let (server, address) = sensor_server(Protocol::Ipc).await;
    let mut a = RawClient::connect(&address, server.id()).await;
    let mut b = RawClient::connect(&address, server.id()).await;
    let h = a.header("OPERATION", "sensor", Some("block"), "invokeaction", json!({}));
    let block_id = h["messageID"].clone();
    a.send(&h, to_bytes(&json!({"seconds": 1.0}))).await;
    // Make sure the threaded action has started before the reads go out.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..100 {
        let r = b.op("sensor", Some("gain"), "readproperty", Value::Null).await;
        assert_eq!(r.payload, json!(1.0));
    }
    assert!(
        a.recv_timeout(Duration::ZERO).await.is_none(),
        "the 100 reads finished while the threaded action still ran"
    );
    let r = Reply::parse(&a.recv().await);
    assert_eq!((r.header["messageID"].clone(), r.payload), (block_id, json!("done")));

    // Concurrent async actions too: reads are served while `sleep` runs.
    let h = a.header("OPERATION", "sensor", Some("sleep"), "invokeaction", json!({}));
    a.send(&h, to_bytes(&json!({"seconds": 1.0}))).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..100 {
        b.op("sensor", Some("gain"), "readproperty", Value::Null).await;
    }
    assert!(a.recv_timeout(Duration::ZERO).await.is_none(), "reads finished while the concurrent action ran");
    assert_eq!(Reply::parse(&a.recv().await).kind, "REPLY");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocation_timeout_answers_at_once_and_skips_the_job() {
    let (server, address) = sensor_server(Protocol::Inproc).await;
    let mut a = RawClient::connect(&address, server.id()).await;
    let mut b = RawClient::connect(&address, server.id()).await;
    // `slow` occupies the queue for 1 s.
    let h = a.header("OPERATION", "sensor", Some("slow"), "invokeaction", json!({"serverExecutionContext": {}}));
    a.send(&h, to_bytes(&json!({"seconds": 1.0}))).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let h = b.header(
        "OPERATION",
        "sensor",
        Some("record"),
        "invokeaction",
        json!({"serverExecutionContext": {"invokationTimeout": 0.2}}),
    );
    let r = b.exchange(h, to_bytes(&json!({"n": 42})), vec![]).await;
    assert_eq!((r.kind.as_str(), &r.payload), ("TIMEOUT", &json!("invokation")));
    assert!(a.recv_timeout(Duration::ZERO).await.is_none(), "the TIMEOUT came while the slow action still ran");
    assert_eq!(Reply::parse(&a.recv().await).kind, "REPLY");
    let order = b.op("sensor", Some("order"), "readproperty", Value::Null).await.payload;
    assert_eq!(order, json!([]), "a request answered with TIMEOUT is skipped, not run late");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execution_timeout_cancels_async_actions_and_drops_late_blocking_results() {
    let (server, address) = sensor_server(Protocol::Tcp).await;
    let mut c = RawClient::connect(&address, server.id()).await;
    // Control: without a timeout, `slow` performs its side effect.
    let r = c.op("sensor", Some("slow"), "invokeaction", json!({"seconds": 0.05})).await;
    assert_eq!(r.kind, "REPLY");
    assert_eq!(c.op("sensor", Some("side_effects"), "readproperty", Value::Null).await.payload, json!(1));

    let h = c.header(
        "OPERATION",
        "sensor",
        Some("slow"),
        "invokeaction",
        json!({"serverExecutionContext": {"executionTimeout": 0.1}}),
    );
    let r = c.exchange(h, to_bytes(&json!({"seconds": 0.5})), vec![]).await;
    assert_eq!((r.kind.as_str(), &r.payload), ("TIMEOUT", &json!("execution")));
    // Well past the action's own end: it was cancelled, so the side effect never happened.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(c.op("sensor", Some("side_effects"), "readproperty", Value::Null).await.payload, json!(1));

    // A threaded action cannot be cancelled: TIMEOUT at once, the late result is dropped.
    let h = c.header(
        "OPERATION",
        "sensor",
        Some("block"),
        "invokeaction",
        json!({"serverExecutionContext": {"executionTimeout": 0.1}}),
    );
    let r = c.exchange(h, to_bytes(&json!({"seconds": 0.5})), vec![]).await;
    assert_eq!((r.kind.as_str(), &r.payload), ("TIMEOUT", &json!("execution")));
    assert!(c.recv_timeout(Duration::from_millis(800)).await.is_none(), "no late reply after the TIMEOUT");

    // Oneway requests still get their TIMEOUT, as in hololinked.
    let h = c.header(
        "OPERATION",
        "sensor",
        Some("slow"),
        "invokeaction",
        json!({"serverExecutionContext": {"executionTimeout": 0.1, "oneway": true}}),
    );
    let r = c.exchange(h, to_bytes(&json!({"seconds": 0.5})), vec![]).await;
    assert_eq!((r.kind.as_str(), &r.payload), ("TIMEOUT", &json!("execution")));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_queued_requests_and_removes_ipc_files() {
    let (server, address) = sensor_server(Protocol::Ipc).await;
    let path = address.strip_prefix("ipc://").expect("ipc").to_owned();
    assert!(std::path::Path::new(&path).exists());
    let mut c = RawClient::connect(&address, server.id()).await;
    let h1 = c.header("OPERATION", "sensor", Some("slow"), "invokeaction", json!({"serverExecutionContext": {}}));
    let h2 = c.header("OPERATION", "sensor", Some("record"), "invokeaction", json!({"serverExecutionContext": {}}));
    c.send(&h1, to_bytes(&json!({"seconds": 0.3}))).await;
    c.send(&h2, to_bytes(&json!({"n": 1}))).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.shutdown().await;
    let mut replies = [Reply::parse(&c.recv().await), Reply::parse(&c.recv().await)];
    replies.sort_by_key(|r| r.header["messageID"] != h1["messageID"]);
    assert_eq!(replies[0].kind, "REPLY", "the running action finished and answered");
    replies[1].assert_exception("RuntimeError", "shutting down");
    assert!(!std::path::Path::new(&path).exists(), "IPC socket file removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_write_does_not_hold_back_concurrent_actions() {
    // A long concurrent action (think `move_to`) holds the Thing shared; a write then waits for it. Another
    // concurrent action (think `stop()`) must still run at once instead of queueing behind the write.
    let (server, address) = sensor_server(Protocol::Tcp).await;
    let mut a = RawClient::connect(&address, server.id()).await;
    let mut b = RawClient::connect(&address, server.id()).await;
    let mut c = RawClient::connect(&address, server.id()).await;
    let long = a.header("OPERATION", "sensor", Some("sleep"), "invokeaction", json!({"serverExecutionContext": {}}));
    a.send(&long, to_bytes(&json!({"seconds": 1.5}))).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let write = b.header("OPERATION", "sensor", Some("gain"), "writeproperty", json!({"serverExecutionContext": {}}));
    b.send(&write, b"9.0".to_vec()).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = c.op("sensor", Some("sleep"), "invokeaction", json!({"seconds": 0.0})).await;
    assert_eq!(r.kind, "REPLY");
    assert!(a.recv_timeout(Duration::ZERO).await.is_none(), "the short action finished while the long one ran");
    assert!(b.recv_timeout(Duration::ZERO).await.is_none(), "the write still waits for the long action");
    assert_eq!(Reply::parse(&a.recv().await).kind, "REPLY");
    assert_eq!(Reply::parse(&b.recv().await).kind, "REPLY", "the write ran once the long action let go");
    assert_eq!(c.op("sensor", Some("gain"), "readproperty", Value::Null).await.payload, json!(9.0));
    server.shutdown().await;
}
