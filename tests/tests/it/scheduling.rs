//! Scheduling semantics: one FIFO per Thing, concurrent and threaded actions outside it, both timeouts.
//!
//! The long actions here wait at a gate the test opens (`common::sync::Gated`), and say when they have
//! started: the test knows what runs when, however loaded the machine is, and no assertion depends on time
//! except the timeouts under test.

use serde_json::{Value, json};
use thingwire::transport::Protocol;

use crate::common::sync::gated_server;
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
    let (server, address, gate, mut signals) = gated_server(Protocol::Ipc).await;
    let mut a = RawClient::connect(&address, server.id()).await;
    let mut b = RawClient::connect(&address, server.id()).await;
    // No execution timeout (RawClient's default is 5 s): the action runs until the gate opens.
    let h = a.header("OPERATION", "gated", Some("hold_thread"), "invokeaction", json!({"serverExecutionContext": {}}));
    a.send(&h, b"{}".to_vec()).await;
    // The threaded action runs, holding the Thing shared, until the gate opens: the reads are served
    // meanwhile (a read held back by it would fail `recv`'s 5 s wait, the gate being closed).
    signals.expect("hold_thread").await;
    for _ in 0..100 {
        let r = b.op("gated", Some("gain"), "readproperty", Value::Null).await;
        assert_eq!(r.payload, json!(1.0));
    }
    gate.let_through(1);
    signals.expect("hold_thread done").await;
    let r = Reply::parse(&a.recv().await);
    assert_eq!((&r.header["messageID"], r.kind.as_str(), &r.payload), (&h["messageID"], "REPLY", &json!(1.0)));

    // Concurrent async actions too: reads are served while `hold_shared` runs.
    let h = a.header("OPERATION", "gated", Some("hold_shared"), "invokeaction", json!({"serverExecutionContext": {}}));
    a.send(&h, b"{}".to_vec()).await;
    signals.expect("hold_shared").await;
    for _ in 0..100 {
        let r = b.op("gated", Some("gain"), "readproperty", Value::Null).await;
        assert_eq!((r.kind.as_str(), &r.payload), ("REPLY", &json!(1.0)));
    }
    gate.let_through(1);
    let r = Reply::parse(&a.recv().await);
    assert_eq!((&r.header["messageID"], r.kind.as_str()), (&h["messageID"], "REPLY"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocation_timeout_answers_at_once_and_skips_the_job() {
    let (server, address, gate, mut signals) = gated_server(Protocol::Inproc).await;
    let mut a = RawClient::connect(&address, server.id()).await;
    let mut b = RawClient::connect(&address, server.id()).await;
    // `hold` occupies the queue until the gate opens.
    let h = a.header("OPERATION", "gated", Some("hold"), "invokeaction", json!({"serverExecutionContext": {}}));
    a.send(&h, b"{}".to_vec()).await;
    signals.expect("hold").await;
    // The TIMEOUT comes while `hold` still runs: an answer only when the queue reached the request would
    // never come before `recv`'s 5 s wait ends, the gate being closed.
    let h = b.header(
        "OPERATION",
        "gated",
        Some("record"),
        "invokeaction",
        json!({"serverExecutionContext": {"invokationTimeout": 0.2}}),
    );
    let r = b.exchange(h, to_bytes(&json!({"n": 42})), vec![]).await;
    assert_eq!((r.kind.as_str(), &r.payload), ("TIMEOUT", &json!("invokation")));
    gate.let_through(1);
    assert_eq!(Reply::parse(&a.recv().await).kind, "REPLY");
    // The read queues behind the timed-out `record` if the queue has not reached it yet.
    let order = b.op("gated", Some("order"), "readproperty", Value::Null).await.payload;
    assert_eq!(order, json!([]), "a request answered with TIMEOUT is skipped, not run late");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execution_timeout_cancels_async_actions_and_drops_late_blocking_results() {
    let (server, address, gate, mut signals) = gated_server(Protocol::Tcp).await;
    let mut c = RawClient::connect(&address, server.id()).await;
    let hold = |c: &mut RawClient, action: &str, context: Value| {
        c.header("OPERATION", "gated", Some(action), "invokeaction", json!({"serverExecutionContext": context}))
    };
    // Control: without a timeout, `hold` runs to its end and performs its side effect.
    let h = hold(&mut c, "hold", json!({}));
    c.send(&h, b"{}".to_vec()).await;
    signals.expect("hold").await;
    gate.let_through(1);
    let r = Reply::parse(&c.recv().await);
    assert_eq!((r.kind.as_str(), &r.payload), ("REPLY", &json!(1)));
    signals.expect("hold done").await;

    // With one, the TIMEOUT answers and the action is cancelled: its future is dropped where it waits.
    let h = hold(&mut c, "hold", json!({"executionTimeout": 0.1}));
    let r = c.exchange(h, b"{}".to_vec(), vec![]).await;
    assert_eq!((r.kind.as_str(), &r.payload), ("TIMEOUT", &json!("execution")));
    signals.expect("hold").await;
    signals.expect("hold cancelled").await;
    assert_eq!(c.op("gated", Some("side_effects"), "readproperty", Value::Null).await.payload, json!(1));

    // A threaded action cannot be cancelled: TIMEOUT at once, and its late result is dropped.
    let h = hold(&mut c, "hold_thread", json!({"executionTimeout": 0.1}));
    let r = c.exchange(h, b"{}".to_vec(), vec![]).await;
    assert_eq!((r.kind.as_str(), &r.payload), ("TIMEOUT", &json!("execution")));
    signals.expect("hold_thread").await;
    gate.let_through(1);
    signals.expect("hold_thread done").await;
    // The write needs the Thing to itself, so it runs once the thread has let go, and its reply is the next
    // message; a late reply would come as soon as the thread's result is back, which the window below covers.
    let h = c.header("OPERATION", "gated", Some("gain"), "writeproperty", json!({}));
    c.send(&h, b"2.0".to_vec()).await;
    let r = Reply::parse(&c.recv().await);
    assert_eq!((&r.header["messageID"], r.kind.as_str()), (&h["messageID"], "REPLY"), "no late reply: {r:?}");
    assert!(c.recv_timeout(std::time::Duration::from_millis(200)).await.is_none(), "no late reply after the TIMEOUT");

    // Oneway requests still get their TIMEOUT, as in hololinked.
    let h = hold(&mut c, "hold", json!({"executionTimeout": 0.1, "oneway": true}));
    let r = c.exchange(h, b"{}".to_vec(), vec![]).await;
    assert_eq!((r.kind.as_str(), &r.payload), ("TIMEOUT", &json!("execution")));
    signals.expect("hold").await;
    signals.expect("hold cancelled").await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_queued_requests_and_removes_ipc_files() {
    let (server, address, gate, mut signals) = gated_server(Protocol::Ipc).await;
    let path = address.strip_prefix("ipc://").expect("ipc").to_owned();
    assert!(std::path::Path::new(&path).exists());
    let mut c = RawClient::connect(&address, server.id()).await;
    let running = c.header("OPERATION", "gated", Some("hold"), "invokeaction", json!({"serverExecutionContext": {}}));
    let queued = c.header("OPERATION", "gated", Some("record"), "invokeaction", json!({"serverExecutionContext": {}}));
    let marker = c.header(
        "OPERATION",
        "gated",
        Some("record"),
        "invokeaction",
        json!({"serverExecutionContext": {"invokationTimeout": 0.1}}),
    );
    c.send(&running, b"{}".to_vec()).await;
    c.send(&queued, to_bytes(&json!({"n": 1}))).await;
    c.send(&marker, to_bytes(&json!({"n": 2}))).await;
    signals.expect("hold").await;
    // The marker timed out in the queue, so it was queued; the request sent before it on the same
    // connection was queued before it (one FIFO per Thing, in arrival order).
    let r = Reply::parse(&c.recv().await);
    assert_eq!((&r.header["messageID"], r.kind.as_str()), (&marker["messageID"], "TIMEOUT"));
    let mut shutdown = std::pin::pin!(server.shutdown());
    // Its first poll stops reading and closes the queues; then it waits for the running action.
    assert!(futures::poll!(shutdown.as_mut()).is_pending(), "shutdown waits for the running action");
    gate.let_through(1);
    shutdown.await;
    let mut replies = [Reply::parse(&c.recv().await), Reply::parse(&c.recv().await)];
    replies.sort_by_key(|r| r.header["messageID"] != running["messageID"]);
    assert_eq!(replies[0].kind, "REPLY", "the running action finished and answered");
    assert_eq!(replies[1].header["messageID"], queued["messageID"]);
    replies[1].assert_exception("RuntimeError", "shutting down");
    assert!(!std::path::Path::new(&path).exists(), "IPC socket file removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_write_does_not_hold_back_concurrent_actions() {
    // A long concurrent action (think `move_to`) holds the Thing shared; a write then waits for it. Another
    // concurrent action (think `stop()`) must still run at once instead of queueing behind the write.
    let (server, address, gate, mut signals) = gated_server(Protocol::Tcp).await;
    let mut a = RawClient::connect(&address, server.id()).await;
    let mut b = RawClient::connect(&address, server.id()).await;
    let long =
        a.header("OPERATION", "gated", Some("hold_shared"), "invokeaction", json!({"serverExecutionContext": {}}));
    a.send(&long, b"{}".to_vec()).await;
    signals.expect("hold_shared").await;
    // On one connection, so the write arrives first and is waiting when the short action comes.
    let write = b.header("OPERATION", "gated", Some("gain"), "writeproperty", json!({}));
    b.send(&write, b"9.0".to_vec()).await;
    let short = b.header("OPERATION", "gated", Some("nudge"), "invokeaction", json!({}));
    b.send(&short, b"{}".to_vec()).await;
    // The short action answers first, while the gate holds the long one (had it queued behind the write,
    // `recv`'s 5 s wait would end first).
    let r = Reply::parse(&b.recv().await);
    assert_eq!((&r.header["messageID"], &r.payload), (&short["messageID"], &json!(1.0)), "{r:?}");
    gate.let_through(1);
    let r = Reply::parse(&a.recv().await);
    assert_eq!(r.payload, json!(1.0), "the long action still saw the old gain: the write waited for it");
    let r = Reply::parse(&b.recv().await);
    assert_eq!((&r.header["messageID"], r.kind.as_str()), (&write["messageID"], "REPLY"), "the write ran then");
    assert_eq!(b.op("gated", Some("gain"), "readproperty", Value::Null).await.payload, json!(9.0));
    server.shutdown().await;
}
