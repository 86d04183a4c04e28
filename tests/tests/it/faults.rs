//! Faults: a client process killed mid-call, a server killed or stopped under load and restarted, actions that
//! panic or never finish, a subscriber that never reads, and an IPC socket file left over from a crash.
//!
//! Already covered elsewhere, and extended here rather than repeated: an in-process client dropped mid-call
//! and a graceful restart with one call in flight (`client.rs`), a synchronous panic in a queued action
//! (`ops.rs`), execution timeouts of the `Sensor`'s actions (`scheduling.rs`), a slow in-process
//! subscriber at the high-water mark (`events.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use thingwire::CallOptions;
use thingwire::prelude::*;
use thingwire::transport::Protocol;

use crate::common::sync::{self, Turnstile};
use crate::common::{RawClient, Reply, Sensor, to_bytes};
use crate::load::{ChildProcess, rss_kib};

async fn tcp_server_with<T: Thing>(id: &str, thing: T) -> (Server, String) {
    let server = Server::builder(id)
        .thing(thing)
        .tcp("127.0.0.1:0")
        .shutdown_grace(Duration::from_millis(500))
        .start()
        .await
        .expect("starts");
    let address = server.address(Protocol::Tcp).expect("tcp").to_owned();
    (server, address)
}

/// Polls `read` until `done` holds for what it returns, for at most 10 s.
async fn eventually<T: std::fmt::Debug>(what: &str, mut read: impl AsyncFnMut() -> T, done: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let value = read().await;
        if done(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: still {value:?} after 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_processes_killed_mid_call_leave_the_server_serving() {
    let (server, address) = tcp_server_with("victim", Sensor::new("sensor")).await;
    let observer = Client::connect(&address).await.expect("connect");
    for round in 1..=3u32 {
        // The child has 100 `record`s and a 0.5 s `slow` action on their way, then dies without a word.
        let caller = {
            let address = address.clone();
            tokio::task::spawn_blocking(move || ChildProcess::start("caller", &[("THINGWIRE_ADDRESS", &address)]))
                .await
                .expect("spawned")
        };
        tokio::task::spawn_blocking(move || caller.kill()).await.expect("killed");
        // What it asked for still runs, in order; the replies go nowhere; everyone else is served.
        let order = eventually(
            "the dead client's records",
            async || observer.read_property::<Vec<u32>>("sensor", "order").await.expect("read"),
            |o| o.len() == 100 * round as usize,
        )
        .await;
        assert_eq!(order[order.len() - 100..], (0..100).collect::<Vec<u32>>()[..], "in the order sent");
        eventually(
            "the dead client's slow action",
            async || observer.read_property::<u32>("sensor", "side_effects").await.expect("read"),
            |n| *n == round,
        )
        .await;
    }
    let fresh = Client::connect(&address).await.expect("a new client connects");
    assert_eq!(fresh.read_property::<String>("sensor", "serial").await.expect("read"), "SN-001");
    server.shutdown().await;
}

/// What one client of [`hammer`] saw, updated as it goes.
#[derive(Debug, Default)]
struct Outcomes {
    ok: AtomicU64,
    /// Failed with a connection error while the server was gone.
    refused: AtomicU64,
    /// Ok, for a call sent after the restart.
    ok_after_restart: AtomicU64,
}

/// A client loops over echoes until `stop`; every call must end — with the right value or a clear connection
/// error — within its deadline.
async fn hammer(
    address: String,
    n: u64,
    outcomes: Arc<Outcomes>,
    restarted: tokio::sync::watch::Receiver<bool>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let client = Client::connect(&address).await.expect("connect");
    let options = CallOptions { timeout: Some(Duration::from_secs(3)), ..CallOptions::default() };
    let count = |counter: &AtomicU64| counter.fetch_add(1, Ordering::Relaxed);
    let mut i = 0u64;
    while !*stop.borrow() {
        // Read before the call goes out: once set, the first server is gone, so only the second can answer.
        let after_restart = *restarted.borrow();
        i += 1;
        let value = json!({"client": n, "i": i});
        let args = json!({"value": value});
        let call = client.invoke_with::<Value, _>("sensor", "echo", &args, &options);
        let result = tokio::time::timeout(Duration::from_secs(10), call).await.expect("a call hung past its deadline");
        match result {
            Ok(back) => {
                assert_eq!(back, value);
                count(&outcomes.ok);
                if after_restart {
                    count(&outcomes.ok_after_restart);
                }
            }
            Err(
                ClientError::ConnectionLost { .. } | ClientError::Disconnected { .. } | ClientError::Timeout { .. },
            ) => {
                count(&outcomes.refused);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(ClientError::Remote(e)) if e.message.contains("shutting down") => {
                count(&outcomes.refused);
            }
            Err(e) => panic!("client {n}: unexpected error while the server restarted: {e}"),
        }
    }
}

/// Waits until `all` holds for every client's outcomes, for at most 30 s.
async fn until_all(outcomes: &[Arc<Outcomes>], what: &str, all: impl Fn(&Outcomes) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !outcomes.iter().all(|o| all(o)) {
        assert!(Instant::now() < deadline, "{what}: {outcomes:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_or_stopped_under_load_comes_back_and_its_clients_recover() {
    for crash in [true, false] {
        let start = |tcp: String| {
            tokio::task::spawn_blocking(move || {
                ChildProcess::start("server", &[("THINGWIRE_TCP", &tcp), ("THINGWIRE_SERVER_ID", "restarted")])
            })
        };
        let first = start("127.0.0.1:0".into()).await.expect("spawned");
        let address = first.addresses[0].clone();
        let (restarted_tx, restarted) = tokio::sync::watch::channel(false);
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let outcomes: Vec<Arc<Outcomes>> = (0..8).map(|_| Arc::default()).collect();
        let clients: Vec<_> = (0..8u64)
            .zip(&outcomes)
            .map(|(n, o)| tokio::spawn(hammer(address.clone(), n, Arc::clone(o), restarted.clone(), stop.clone())))
            .collect();
        until_all(&outcomes, "every client is served before the stop", |o| o.ok.load(Ordering::Relaxed) > 0).await;
        // kill -9 (no goodbye, no cleanup), or a graceful stop that answers what is queued.
        // Both wait until the process has gone.
        tokio::task::spawn_blocking(move || if crash { first.kill() } else { first.stop() }).await.expect("stopped");
        let second = start(address.trim_start_matches("tcp://").to_owned()).await.expect("spawned");
        restarted_tx.send(true).expect("watch");
        // Every client is served again (after libzmq reconnects and the client re-handshakes).
        let probe = Client::connect(&address).await.expect("a new client connects after the restart");
        assert_eq!(probe.read_property::<String>("sensor", "serial").await.expect("read"), "SN-001");
        until_all(&outcomes, &format!("crash {crash}: every client recovers"), |o| {
            o.ok_after_restart.load(Ordering::Relaxed) > 0
        })
        .await;
        stop_tx.send(true).expect("watch");
        for client in clients {
            client.await.expect("no client panicked, and none hung");
        }
        tokio::task::spawn_blocking(move || second.stop()).await.expect("stopped");
    }
}

/// A Thing whose actions panic, hang or block.
#[thing(id = "faulty")]
pub struct Faulty {
    #[property]
    value: u32,
    /// What `record` saw, in order.
    #[property(read_only)]
    log: Vec<u32>,
    turnstile: Turnstile,
}

#[thing]
impl Faulty {
    /// Appends `n` to `log`.
    #[action]
    fn record(&mut self, n: u32) {
        self.log.push(n);
    }

    /// Never finishes (a device that never answers), holding the Thing exclusively.
    #[action]
    async fn hang(&mut self) {
        std::future::pending::<()>().await;
    }

    /// Waits at the test's gate, holding the Thing exclusively.
    #[action]
    async fn held(&mut self) {
        self.turnstile.pass().await;
    }

    /// Never finishes, holding the Thing shared.
    #[action(concurrent)]
    async fn hang_shared(&self) {
        std::future::pending::<()>().await;
    }

    /// Blocks a worker thread until the test's gate opens: code that cannot be interrupted.
    #[action(threaded)]
    fn stuck(&self) {
        self.turnstile.pass_blocking();
    }

    /// Panics after its first await.
    #[action]
    async fn explode_later(&mut self) -> u32 {
        tokio::task::yield_now().await;
        panic!("exploded after an await")
    }

    /// Panics, outside the queue.
    #[action(concurrent)]
    async fn explode_shared(&self) -> u32 {
        tokio::task::yield_now().await;
        panic!("exploded concurrently")
    }

    /// Panics on a worker thread.
    #[action(threaded)]
    fn explode_threaded(&self) -> u32 {
        panic!("exploded on a thread")
    }

    /// A getter that panics.
    #[property]
    fn fragile(&self) -> u32 {
        panic!("the getter exploded")
    }
}

fn faulty(turnstile: &Turnstile) -> Faulty {
    Faulty { value: 0, log: Vec::new(), turnstile: turnstile.clone() }
}

fn with_timeouts(c: &mut RawClient, objekt: &str, operation: &str, context: Value) -> Value {
    c.header("OPERATION", "faulty", Some(objekt), operation, json!({"serverExecutionContext": context}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_that_never_finish_are_cut_off_and_the_queue_keeps_its_order() {
    let (gate, turnstile) = sync::gate();
    let (server, address) = tcp_server_with("hangs", faulty(&turnstile)).await;
    let mut a = RawClient::connect(&address, server.id()).await;
    let mut b = RawClient::connect(&address, server.id()).await;

    // A queued async action that never finishes: its execution timeout answers and cancels it, while
    // requests queue behind it (on the same connection, so in this order). They run afterwards, in order;
    // `held` then holds the queue at the gate, so the request behind it runs out its invocation timeout
    // and is answered TIMEOUT and skipped.
    let hang = with_timeouts(&mut a, "hang", "invokeaction", json!({"executionTimeout": 0.3}));
    a.send(&hang, b"{}".to_vec()).await;
    let mut ids = Vec::new();
    for (objekt, n, context) in [
        ("record", 1, json!({})),
        ("held", 0, json!({})),
        ("record", 99, json!({"invokationTimeout": 0.1})),
        ("record", 2, json!({})),
        ("record", 3, json!({})),
    ] {
        let h = with_timeouts(&mut a, objekt, "invokeaction", context);
        ids.push(h["messageID"].clone());
        let args = if objekt == "record" { json!({"n": n}) } else { json!({}) };
        a.send(&h, to_bytes(&args)).await;
    }
    // While `held` waits: three answers, the TIMEOUT of 99 in any place among them.
    let mut answers = std::collections::HashMap::new();
    for _ in 0..3 {
        let r = Reply::parse(&a.recv().await);
        answers.insert(r.header["messageID"].as_str().expect("id").to_owned(), (r.kind, r.payload));
    }
    let answer = |id: &Value| answers.get(id.as_str().expect("id")).cloned();
    assert_eq!(answer(&hang["messageID"]), Some(("TIMEOUT".into(), json!("execution"))), "hang: {answers:?}");
    assert_eq!(answer(&ids[0]), Some(("REPLY".into(), Value::Null)), "record 1: {answers:?}");
    assert_eq!(answer(&ids[2]), Some(("TIMEOUT".into(), json!("invokation"))), "record 99: {answers:?}");
    gate.let_through(1);
    for (id, what) in [(&ids[1], "held"), (&ids[3], "record 2"), (&ids[4], "record 3")] {
        let r = Reply::parse(&a.recv().await);
        assert_eq!((&r.header["messageID"], r.kind.as_str()), (id, "REPLY"), "{what}, in order");
    }
    assert_eq!(b.op("faulty", Some("log"), "readproperty", Value::Null).await.payload, json!([1, 2, 3]));

    // A concurrent one: cut off too, and it lets go of the Thing, so a write goes through afterwards.
    let h = with_timeouts(&mut a, "hang_shared", "invokeaction", json!({"executionTimeout": 0.3}));
    let r = a.exchange(h, b"{}".to_vec(), vec![]).await;
    assert_eq!((r.kind.as_str(), &r.payload), ("TIMEOUT", &json!("execution")));
    assert_eq!(b.op("faulty", Some("value"), "writeproperty", json!(5)).await.kind, "REPLY");

    // A threaded one cannot be interrupted: the client is freed at once, the thread stays stuck, holding
    // the Thing shared. Reads go on; a write (which needs the Thing to itself) and everything queued behind
    // it wait, in order, until the thread lets go.
    let h = with_timeouts(&mut a, "stuck", "invokeaction", json!({"executionTimeout": 0.3}));
    let r = a.exchange(h, b"{}".to_vec(), vec![]).await;
    assert_eq!((r.kind.as_str(), &r.payload), ("TIMEOUT", &json!("execution")));
    for _ in 0..10 {
        assert_eq!(b.op("faulty", Some("value"), "readproperty", Value::Null).await.payload, json!(5));
    }
    let write = with_timeouts(&mut b, "value", "writeproperty", json!({}));
    b.send(&write, b"7".to_vec()).await;
    let read = with_timeouts(&mut b, "value", "readproperty", json!({}));
    b.send(&read, b"null".to_vec()).await;
    // A request queued behind them runs out its invocation timeout: the write still waits (had it gone
    // through, its reply would come first).
    let probe = with_timeouts(&mut b, "record", "invokeaction", json!({"invokationTimeout": 0.1}));
    b.send(&probe, to_bytes(&json!({"n": 100}))).await;
    let r = Reply::parse(&b.recv().await);
    assert_eq!(
        (&r.header["messageID"], r.kind.as_str(), &r.payload),
        (&probe["messageID"], "TIMEOUT", &json!("invokation")),
        "the write waits for the stuck thread"
    );
    gate.open();
    let first = Reply::parse(&b.recv().await);
    let second = Reply::parse(&b.recv().await);
    assert_eq!((&first.header["messageID"], first.kind.as_str()), (&write["messageID"], "REPLY"));
    assert_eq!((&second.header["messageID"], &second.payload), (&read["messageID"], &json!(7)), "in order");
    assert_eq!(b.op("faulty", Some("log"), "readproperty", Value::Null).await.payload, json!([1, 2, 3]));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thing_stuck_for_good_does_not_stop_the_others_or_shutdown() {
    let (gate, turnstile) = sync::gate();
    let server = Server::builder("stuck-for-good")
        .thing(faulty(&turnstile))
        .thing(Sensor::new("sensor"))
        .tcp("127.0.0.1:0")
        .shutdown_grace(Duration::from_millis(300))
        .start()
        .await
        .expect("starts");
    let client = Client::connect(server.address(Protocol::Tcp).expect("tcp")).await.expect("connect");
    // No execution timeout: `hang` holds `faulty` for ever. The caller's own deadline frees the caller.
    let options = CallOptions { timeout: Some(Duration::from_millis(300)), ..CallOptions::default() };
    let r = client.invoke_with::<(), _>("faulty", "hang", &(), &options).await;
    assert!(matches!(r, Err(ClientError::Timeout { .. })), "{r:?}");
    // Each Thing has its own queue: the other one is served as usual.
    for _ in 0..20 {
        assert_eq!(client.read_property::<String>("sensor", "serial").await.expect("read"), "SN-001");
    }
    let queued = client.invoke_with::<(), _>("faulty", "record", &json!({"n": 1}), &options).await;
    assert!(matches!(queued, Err(ClientError::Timeout { .. })), "queued behind the stuck action: {queued:?}");
    // Shutdown gives up on the stuck action after its grace period instead of waiting for ever.
    tokio::time::timeout(Duration::from_secs(10), server.shutdown()).await.expect("shutdown finishes");
    gate.open();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_anywhere_become_exceptions_and_the_thing_keeps_serving() {
    let (_gate, turnstile) = sync::gate();
    let (server, address) = tcp_server_with("panics", faulty(&turnstile)).await;
    let mut c = RawClient::connect(&address, server.id()).await;
    c.op("faulty", Some("record"), "invokeaction", json!({"n": 1})).await;
    for (objekt, operation, text) in [
        ("explode_later", "invokeaction", "exploded after an await"),
        ("explode_shared", "invokeaction", "exploded concurrently"),
        ("explode_threaded", "invokeaction", "exploded on a thread"),
        ("fragile", "readproperty", "the getter exploded"),
        ("", "readallproperties", "the getter exploded"),
    ] {
        let r = c.op("faulty", Some(objekt), operation, json!({})).await;
        r.assert_exception("RuntimeError", text);
        // The queue goes on, with the Thing's state as it was.
        c.op("faulty", Some("record"), "invokeaction", json!({"n": 2})).await;
        let log = c.op("faulty", Some("log"), "readproperty", Value::Null).await.payload;
        assert_eq!(log.as_array().map(|l| l[0].clone()), Some(json!(1)), "{objekt}: {log}");
    }
    assert_eq!(c.op("faulty", Some("log"), "readproperty", Value::Null).await.payload, json!([1, 2, 2, 2, 2, 2]));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_costs_the_server_bounded_memory() {
    // The server in a child process, so that its memory is its own; a small event high-water mark.
    let mut server = tokio::task::spawn_blocking(|| {
        ChildProcess::start(
            "server",
            &[("THINGWIRE_TCP", "127.0.0.1:0"), ("THINGWIRE_SERVER_ID", "flooded"), ("THINGWIRE_EVENT_HWM", "1000")],
        )
    })
    .await
    .expect("spawned");
    let address = server.addresses[0].clone();
    // A subscriber that never reads: its socket takes 100 messages, then TCP pushes back on the server.
    let events = thingwire::client::event_address_for(&address);
    let silent = tmq::subscribe(thingwire::transport::context())
        .set_rcvhwm(100)
        .connect(&events)
        .expect("connect")
        .subscribe(b"sensor/flood")
        .expect("subscribe");
    // Wait until the subscription is live (a reading subscriber on the same topic sees the first events).
    let mut probe =
        thingwire::Subscription::<String>::connect(thingwire::transport::context(), &events, "sensor/flood")
            .await
            .expect("subscribe");
    loop {
        server.send("flood 1 1");
        assert!(server.line(Duration::from_secs(10)).is_some_and(|l| l.starts_with("FLOODED")));
        if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(100), probe.next()).await {
            break;
        }
    }
    drop(probe);
    let client = Client::connect(&address).await.expect("connect");
    let baseline = server.rss_kib();
    // 40 000 events of 1 KiB: 40 MiB if anything kept them all.
    const FLOOD: u64 = 40_000;
    let pid = server.id();
    let flood = tokio::task::spawn_blocking(move || {
        server.send(&format!("flood {FLOOD} 1024"));
        let line = server.line(Duration::from_secs(120)).expect("the flood ends");
        assert_eq!(line, format!("FLOODED {FLOOD}"));
        server
    });
    // Meanwhile the server keeps serving requests.
    let mut peak = baseline;
    let mut served = 0;
    loop {
        let serial = client.read_property::<String>("sensor", "serial").await.expect("served during the flood");
        assert_eq!(serial, "SN-001");
        served += 1;
        peak = peak.max(rss_kib(pid).unwrap_or(0));
        if flood.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let server = flood.await.expect("flood");
    peak = peak.max(server.rss_kib());
    eprintln!(
        "never-reading subscriber: server RSS {baseline} KiB before, peak {peak} KiB; {served} reads served meanwhile"
    );
    assert!(
        peak < baseline + 16 * 1024,
        "the server buffered the flood for a subscriber that never reads: {baseline} -> {peak} KiB"
    );
    // What the silent subscriber can still read is bounded by the queues, not by what was sent. It reads
    // up to a marker (an event of 2 characters) published after the flood; the marker is published again
    // whenever the stream goes quiet, since the high-water mark may have dropped it too.
    let (mut silent, mut server) = (silent, server);
    let mut got = 0u64;
    let mut markers = 0;
    loop {
        match tokio::time::timeout(Duration::from_millis(500), silent.next()).await {
            Ok(Some(Ok(m))) => match m.iter().nth(3).map(|payload| payload.len()) {
                Some(4) => break,
                Some(1026) => got += 1,
                _ => {}
            },
            Ok(other) => panic!("the silent subscriber's socket failed: {other:?}"),
            Err(_) => {
                markers += 1;
                assert!(markers <= 20, "no marker reached the silent subscriber");
                server.send("flood 1 2");
                assert_eq!(server.line(Duration::from_secs(10)).as_deref(), Some("FLOODED 1"));
            }
        }
    }
    assert!(got < FLOOD / 2, "the silent subscriber received {got} of {FLOOD}: the excess was dropped, not kept");
    assert_eq!(client.read_property::<String>("sensor", "serial").await.expect("still served"), "SN-001");
    tokio::task::spawn_blocking(move || server.stop()).await.expect("stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipc_socket_file_left_by_a_crash_does_not_stop_the_next_server() {
    let dir = crate::common::scratch_dir("crashed-ipc");
    let dir_text = dir.display().to_string();
    let start =
        move || ChildProcess::start("server", &[("THINGWIRE_IPC_DIR", &dir_text), ("THINGWIRE_SERVER_ID", "crashy")]);
    let first = tokio::task::spawn_blocking(start.clone()).await.expect("spawned");
    let path = first.addresses[0].trim_start_matches("ipc://").to_owned();
    assert!(std::path::Path::new(&path).exists());

    // While it lives, a second server with the same id in the same folder is told exactly what is wrong.
    let err = Server::builder("crashy").thing(Sensor::new("sensor")).ipc_in(&dir).start().await.expect_err("in use");
    let text = err.to_string();
    assert!(
        text.contains("another server is serving id `crashy`")
            && text.contains("stop it or give this server another id"),
        "{text}"
    );

    // kill -9: no cleanup, the socket files stay behind.
    tokio::task::spawn_blocking(move || first.kill()).await.expect("killed");
    assert!(std::path::Path::new(&path).exists(), "the crash left the socket file");
    let second =
        Server::builder("crashy").thing(Sensor::new("sensor")).ipc_in(&dir).start().await.expect("starts anyway");
    let client = Client::connect(second.address(Protocol::Ipc).expect("ipc")).await.expect("connect");
    assert_eq!(client.read_property::<String>("sensor", "serial").await.expect("read"), "SN-001");
    let mut ticks = client.subscribe::<crate::common::sensor::Tick>("sensor", "tick").await.expect("subscribe");
    let got = crate::common::first_tick(&client, &mut ticks).await;
    assert!(got.is_some(), "the event socket file was replaced too");
    second.shutdown().await;
    assert!(!std::path::Path::new(&path).exists(), "a clean shutdown removes the files");
}
