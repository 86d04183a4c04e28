//! Execution timeouts hold for every kind of operation, over ZeroMQ: the `TIMEOUT "execution"` arrives at
//! the deadline while the Thing's code is still running (it waits on a gate this test opens only after the
//! answer), the late result is dropped and counted, and the Thing then serves the next request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use thingwire::prelude::*;
use thingwire::protocol::TimeoutKind;
use thingwire::{CallOptions, ClientError};

use crate::common::sync::{Gate, Turnstile, gate};

#[thing]
struct Slow {
    id: String,
    #[property]
    level: u32,
    /// Blocking code waits here until the test opens the gate.
    turnstile: Turnstile,
    /// Set by the blocking code once it has returned from the gate.
    returned: Arc<AtomicBool>,
    /// Set by `hold` once it has the Thing.
    holding: Arc<AtomicBool>,
}

#[thing]
impl Slow {
    /// A getter that talks to slow hardware.
    #[property]
    fn reading(&self) -> u32 {
        self.turnstile.pass_blocking();
        self.returned.store(true, Ordering::SeqCst);
        self.level
    }

    #[property(setter)]
    fn set_reading(&mut self, value: u32) {
        self.turnstile.pass_blocking();
        self.returned.store(true, Ordering::SeqCst);
        self.level = value;
    }

    /// A queued plain `fn` with a declared deadline.
    #[action(execution_timeout = "300ms")]
    fn calibrate(&mut self) -> u32 {
        self.turnstile.pass_blocking();
        self.returned.store(true, Ordering::SeqCst);
        1
    }

    /// A queued plain `fn` that holds the Thing until the gate opens. Its long deadline puts it on a
    /// blocking worker thread: blocking code without one would hold a runtime thread (see the guide).
    #[action(execution_timeout = "20s")]
    fn hold(&mut self) {
        self.holding.store(true, Ordering::SeqCst);
        self.turnstile.pass_blocking();
        self.returned.store(true, Ordering::SeqCst);
    }

    #[action(concurrent)]
    async fn peek(&self) -> u32 {
        self.level
    }

    #[action(threaded)]
    fn crunch(&self) -> u32 {
        self.turnstile.pass_blocking();
        self.returned.store(true, Ordering::SeqCst);
        3
    }
}

struct Bench {
    server: Server,
    client: Client,
    gate: Gate,
    returned: Arc<AtomicBool>,
    holding: Arc<AtomicBool>,
}

async fn bench() -> Bench {
    let (gate, turnstile) = gate();
    let returned = Arc::new(AtomicBool::new(false));
    let holding = Arc::new(AtomicBool::new(false));
    let thing =
        Slow { id: "slow".into(), level: 4, turnstile, returned: Arc::clone(&returned), holding: Arc::clone(&holding) };
    let server = Server::builder(format!("timeouts-{}", next_id()))
        .thing(thing)
        .tcp("127.0.0.1:0")
        .start()
        .await
        .expect("server");
    let address = server.address(thingwire::Protocol::Tcp).expect("tcp").to_owned();
    let client = Client::connect(&address).await.expect("connect");
    Bench { server, client, gate, returned, holding }
}

fn next_id() -> u32 {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn deadline(ms: u64) -> CallOptions {
    CallOptions { execution_timeout: Some(Duration::from_millis(ms)), ..CallOptions::default() }
}

/// The slack allowed between the deadline and the `TIMEOUT` on a loaded machine.
const SLACK: Duration = Duration::from_millis(100);

impl Bench {
    /// Checks one timed-out call: `TIMEOUT "execution"` within `SLACK` after the 300 ms deadline, while the
    /// code still blocks; then the Thing serves on and the late result is counted.
    async fn expect_timeout<T: std::fmt::Debug>(self, started: Instant, result: Result<T, ClientError>) {
        let elapsed = started.elapsed();
        match &result {
            Err(ClientError::ServerTimeout { kind: TimeoutKind::Execution, .. }) => {}
            other => panic!("expected TIMEOUT \"execution\", got {other:?}"),
        }
        assert!(!self.returned.load(Ordering::SeqCst), "the answer came while the code still blocked");
        let deadline = Duration::from_millis(300);
        assert!(elapsed >= deadline && elapsed < deadline + SLACK, "TIMEOUT after {elapsed:?}, deadline {deadline:?}");
        self.gate.open();
        let level: u32 = self.client.read_property("slow", "level").await.expect("the Thing serves the next request");
        assert!(level == 4 || level == 9, "{level}");
        for _ in 0..200 {
            if self.server.stats().late_results > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(self.returned.load(Ordering::SeqCst), "the blocking code has returned by now");
        assert_eq!(self.server.stats().late_results, 1, "its late result was dropped and counted");
        assert_eq!(self.server.stats().execution_timeouts, 1);
        self.server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_blocking_action_times_out_at_its_declared_deadline() {
    let b = bench().await;
    let started = Instant::now();
    let result = b.client.invoke::<u32, _>("slow", "calibrate", &json!({})).await;
    b.expect_timeout(started, result).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_getter_times_out_at_the_clients_deadline() {
    let b = bench().await;
    let started = Instant::now();
    let result = b.client.read_property_with::<u32>("slow", "reading", &deadline(300)).await;
    b.expect_timeout(started, result).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_setter_times_out_at_the_clients_deadline() {
    let b = bench().await;
    let started = Instant::now();
    let result = b.client.write_property_with("slow", "reading", &9, &deadline(300)).await;
    b.expect_timeout(started, result).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_threaded_action_times_out_at_the_clients_deadline() {
    let b = bench().await;
    let started = Instant::now();
    let result = b.client.invoke_with::<u32, _>("slow", "crunch", &json!({}), &deadline(300)).await;
    b.expect_timeout(started, result).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_action_still_waiting_for_the_thing_times_out_at_its_deadline() {
    let b = bench().await;
    // `hold` takes the Thing exclusively and keeps it until the gate opens.
    let holder = b.client.clone();
    let hold = tokio::spawn(async move { holder.invoke::<(), _>("slow", "hold", &json!({})).await });
    for _ in 0..500 {
        if b.holding.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(b.holding.load(Ordering::SeqCst), "`hold` got the Thing");
    let started = Instant::now();
    let result = b.client.invoke_with::<u32, _>("slow", "peek", &json!({}), &deadline(300)).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(result, Err(ClientError::ServerTimeout { kind: TimeoutKind::Execution, .. })),
        "expected TIMEOUT \"execution\", got {result:?}"
    );
    assert!(elapsed >= Duration::from_millis(300) && elapsed < Duration::from_millis(300) + SLACK, "{elapsed:?}");
    assert!(!b.returned.load(Ordering::SeqCst), "`hold` still held the Thing");
    b.gate.open();
    hold.await.expect("join").expect("hold returns once the gate opens");
    let peeked: u32 = b.client.invoke("slow", "peek", &json!({})).await.expect("the Thing serves on");
    assert_eq!(peeked, 4);
    assert_eq!(b.server.stats().execution_timeouts, 1);
    assert_eq!(b.server.stats().late_results, 0, "a cancelled action has no late result");
    b.server.shutdown().await;
}
