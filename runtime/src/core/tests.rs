//! The scheduler through the in-memory binding, under tokio's paused clock: ordering, both timeouts on
//! every kind of operation, cancellation, and a panicking getter. Paused time makes the deadlines exact.
//! Blocking code waits on a [`Gate`] the test opens; a blocking task keeps tokio from advancing paused time
//! by itself, so those tests move the clock with `tokio::time::advance`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use crate::ServerBuilder;
use crate::binding::memory::{Answer, MemoryBinding, Request};
use crate::core::{ErrorClass, ExecutionContext, Operation};
use crate::prelude::*;
use crate::protocol::TimeoutKind;

/// Blocking code waits here until the test opens it (or 10 s of real time pass, so nothing hangs).
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn wait(&self) {
        let (open, changed) = &*self.0;
        let guard = open.lock().unwrap_or_else(|p| p.into_inner());
        let _ = changed.wait_timeout_while(guard, Duration::from_secs(10), |open| !*open);
    }

    fn open(&self) {
        let (open, changed) = &*self.0;
        *open.lock().unwrap_or_else(|p| p.into_inner()) = true;
        changed.notify_all();
    }
}

#[thing]
struct Lab {
    id: String,
    /// A plain field: reading it never blocks.
    #[property(observable)]
    level: u32,
    #[property(read_only)]
    order: Vec<u32>,
    gate: Gate,
    /// Set when cancellable code ran to its end.
    finished: Arc<AtomicBool>,
    #[event]
    alarm: Event<u32>,
}

#[thing]
impl Lab {
    /// A computed property whose getter blocks until the gate opens.
    #[property]
    fn slow(&self) -> u32 {
        self.gate.wait();
        7
    }

    #[property(setter)]
    fn set_slow(&mut self, value: u32) {
        self.gate.wait();
        self.level = value;
    }

    #[property]
    fn broken(&self) -> u32 {
        panic!("the sensor is unplugged")
    }

    #[action]
    fn record(&mut self, n: u32) {
        self.order.push(n);
    }

    /// A queued plain `fn`: blocks until the gate opens.
    #[action]
    fn block(&mut self) -> u32 {
        self.gate.wait();
        1
    }

    /// The same with a declared execution timeout.
    #[action(execution_timeout = "1s")]
    fn block_declared(&mut self) -> u32 {
        self.gate.wait();
        1
    }

    /// A queued `async fn` that holds the Thing for `seconds`.
    #[action]
    async fn hold(&mut self, seconds: u64) {
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        self.finished.store(true, Ordering::SeqCst);
    }

    #[action(concurrent)]
    async fn peek(&self) -> u32 {
        self.level
    }

    #[action(threaded)]
    fn crunch(&self) -> u32 {
        self.gate.wait();
        3
    }
}

async fn lab() -> (Server, MemoryBinding, Gate, Arc<AtomicBool>) {
    lab_with(|b| b).await
}

async fn lab_with(
    configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
) -> (Server, MemoryBinding, Gate, Arc<AtomicBool>) {
    let gate = Gate::default();
    let finished = Arc::new(AtomicBool::new(false));
    let thing = Lab {
        id: "lab".into(),
        level: 0,
        order: Vec::new(),
        gate: gate.clone(),
        finished: Arc::clone(&finished),
        alarm: Event::new(),
    };
    let builder = configure(Server::builder("core-tests").thing(thing).in_memory());
    let server = builder.start().await.expect("start");
    let memory = server.memory();
    (server, memory, gate, finished)
}

fn with_timeouts(request: Request, invocation: Option<u64>, execution: Option<u64>) -> Request {
    request.with_context(ExecutionContext {
        invocation_timeout: invocation.map(Duration::from_millis),
        execution_timeout: execution.map(Duration::from_millis),
        ..ExecutionContext::default()
    })
}

fn read(name: &str) -> Request {
    Request::json(Operation::ReadProperty, "lab", name, None::<&()>).expect("request")
}

fn invoke(name: &str, args: serde_json::Value) -> Request {
    Request::json(Operation::InvokeAction, "lab", name, Some(&args)).expect("request")
}

/// Lets the runtime run what is ready (the paused clock does not move while the test yields).
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn queued_operations_run_in_submission_order() {
    let (server, memory, _, _) = lab().await;
    let pending: Vec<_> = (0..20).map(|n| memory.submit(invoke("record", json!({ "n": n })))).collect();
    for p in pending {
        assert!(matches!(p.await, Answer::Value { .. }));
    }
    assert_eq!(memory.read("lab", "order").await.json::<Vec<u32>>(), Ok((0..20).collect()));
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_queued_request_times_out_at_its_invocation_deadline() {
    let (server, memory, _, _) = lab().await;
    let start = Instant::now();
    let holding = memory.submit(invoke("hold", json!({"seconds": 10})));
    let waiting = memory.submit(with_timeouts(read("level"), Some(1_000), None));
    assert_eq!(waiting.await, Answer::Timeout(TimeoutKind::Invocation));
    assert_eq!(start.elapsed(), Duration::from_secs(1), "answered at the deadline");
    assert!(matches!(holding.await, Answer::Value { .. }));
    assert_eq!(server.stats().invocation_timeouts, 1);
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_queued_async_action_is_cancelled_at_its_execution_deadline() {
    let (server, memory, _, finished) = lab().await;
    let start = Instant::now();
    let answer = memory.request(with_timeouts(invoke("hold", json!({"seconds": 10})), None, Some(1_000))).await;
    assert_eq!(answer, Answer::Timeout(TimeoutKind::Execution));
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert!(!finished.load(Ordering::SeqCst), "the action was cancelled, it never finished");
    assert!(matches!(memory.read("lab", "level").await, Answer::Value { .. }), "the Thing serves on");
    assert_eq!(server.stats().late_results, 0, "a cancelled action has no late result");
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_concurrent_action_waiting_for_the_thing_times_out_at_its_deadline() {
    let (server, memory, _, _) = lab().await;
    let start = Instant::now();
    // The queued action holds the Thing exclusively for 10 s: the concurrent one cannot even start.
    let holding = memory.submit(invoke("hold", json!({"seconds": 10})));
    settle().await;
    let answer = memory.request(with_timeouts(invoke("peek", json!(null)), None, Some(1_000))).await;
    assert_eq!(answer, Answer::Timeout(TimeoutKind::Execution));
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert!(matches!(holding.await, Answer::Value { .. }));
    assert_eq!(
        memory.request(invoke("peek", json!(null))).await.json::<u32>(),
        Ok(0),
        "it runs once the Thing is free"
    );
    server.shutdown().await;
}

/// Blocking code that times out: `TIMEOUT` at the deadline while the code still blocks; once it returns,
/// its result is dropped and counted, and the Thing serves the next request.
async fn blocking_code_times_out(memory: &MemoryBinding, server: &Server, gate: &Gate, request: Request) {
    let start = Instant::now();
    let pending = memory.submit(request);
    settle().await;
    tokio::time::advance(Duration::from_millis(999)).await;
    settle().await;
    let mut pending = pending;
    assert!(futures::poll!(&mut pending).is_pending(), "no answer before the deadline");
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(pending.await, Answer::Timeout(TimeoutKind::Execution), "answered while the code still blocks");
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(server.stats().late_results, 0);
    gate.open();
    assert!(matches!(memory.read("lab", "level").await, Answer::Value { .. }), "the Thing serves on");
    // While the blocking code runs, the paused clock stands still: each sleep ends once it has returned.
    for _ in 0..100 {
        if server.stats().late_results > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.stats().late_results, 1, "the late result was dropped and counted");
    assert_eq!(server.stats().execution_timeouts, 1);
}

#[tokio::test(start_paused = true)]
async fn a_queued_blocking_action_times_out_at_its_declared_deadline() {
    let (server, memory, gate, _) = lab().await;
    blocking_code_times_out(&memory, &server, &gate, invoke("block_declared", json!(null))).await;
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_queued_blocking_action_times_out_at_the_clients_deadline() {
    let (server, memory, gate, _) = lab().await;
    blocking_code_times_out(&memory, &server, &gate, with_timeouts(invoke("block", json!(null)), None, Some(1_000)))
        .await;
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_slow_getter_times_out_at_the_clients_deadline() {
    let (server, memory, gate, _) = lab().await;
    blocking_code_times_out(&memory, &server, &gate, with_timeouts(read("slow"), None, Some(1_000))).await;
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_slow_setter_times_out_at_the_servers_default_deadline() {
    let (server, memory, gate, _) = lab_with(|b| b.default_execution_timeout(Duration::from_secs(1))).await;
    let write = Request::json(Operation::WriteProperty, "lab", "slow", Some(&5)).expect("request");
    blocking_code_times_out(&memory, &server, &gate, write).await;
    assert_eq!(memory.read("lab", "level").await.json::<u32>(), Ok(5), "the late write did happen");
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_threaded_action_times_out_at_the_clients_deadline() {
    let (server, memory, gate, _) = lab().await;
    blocking_code_times_out(&memory, &server, &gate, with_timeouts(invoke("crunch", json!(null)), None, Some(1_000)))
        .await;
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_request_timeout_shorter_than_the_declared_one_wins() {
    let (server, memory, gate, _) = lab().await;
    let start = Instant::now();
    let pending = memory.submit(with_timeouts(invoke("block_declared", json!(null)), None, Some(300)));
    settle().await;
    tokio::time::advance(Duration::from_millis(300)).await;
    assert_eq!(pending.await, Answer::Timeout(TimeoutKind::Execution));
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    gate.open();
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_plain_field_with_a_timeout_is_read_where_it_arrives() {
    let (server, memory, _, _) = lab().await;
    let answer = memory.request(with_timeouts(read("level"), Some(1), Some(1))).await;
    assert_eq!(answer.json::<u32>(), Ok(0), "a field read does not block, and is answered");
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_panicking_getter_is_an_error_and_the_thing_serves_on() {
    let (server, memory, _, _) = lab().await;
    let answer = memory.read("lab", "broken").await;
    let Answer::Error { class, error } = &answer else { panic!("expected an error, got {answer:?}") };
    assert_eq!(*class, ErrorClass::Failed);
    assert!(error.message.contains("the sensor is unplugged"), "{error}");
    assert_eq!(memory.read("lab", "level").await.json::<u32>(), Ok(0));
    assert_eq!(server.stats().failed, 1);
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn resolution_errors_name_the_problem() {
    let (server, memory, _, _) = lab().await;
    let cases = [
        (memory.read("lba", "level").await, ErrorClass::UnknownThing, "did you mean `lab`"),
        (memory.read("lab", "levle").await, ErrorClass::UnknownName, "did you mean `level`"),
        (memory.write("lab", "order", &[1]).await, ErrorClass::ReadOnly, "read-only"),
        (memory.invoke("lab", "recrod", &json!({})).await, ErrorClass::UnknownName, "did you mean `record`"),
    ];
    for (answer, expected, text) in cases {
        let Answer::Error { class, error } = &answer else { panic!("expected an error, got {answer:?}") };
        assert_eq!(*class, expected, "{error}");
        assert!(error.message.contains(text), "{error}");
    }
    let mut delete = read("level");
    delete.operation = Operation::DeleteProperty;
    assert!(matches!(memory.request(delete).await, Answer::Error { class: ErrorClass::Unsupported, .. }));
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn the_built_ins_answer_through_the_same_core() {
    let (server, memory, _, _) = lab().await;
    assert_eq!(memory.invoke("lab", "ping", &json!(null)).await.json::<()>(), Ok(()));
    let model = memory.invoke("lab", "get_thing_model", &json!(null)).await.json::<serde_json::Value>();
    assert_eq!(model.as_ref().map(|m| m["title"].clone()), Ok(json!("Lab")));
    let td = memory.invoke("lab", "get_thing_description", &json!(null)).await.json::<serde_json::Value>();
    assert!(td.as_ref().is_ok_and(|td| td["properties"]["level"].is_object()), "{td:?}");
    let list = memory.invoke("", "list_things", &json!(null)).await.json::<serde_json::Value>();
    assert_eq!(list.map(|l| l[0]["id"].clone()), Ok(json!("lab")));
    let all = memory.invoke("lab", "_get_properties", &json!({"names": ["level"]})).await;
    assert_eq!(all.json::<serde_json::Value>(), Ok(json!({"level": 0})));
    assert!(matches!(memory.invoke("lab", "_set_properties", &json!({"level": 4})).await, Answer::Value { .. }));
    assert_eq!(memory.read("lab", "level").await.json::<u32>(), Ok(4));
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn both_spellings_of_unsubscribe_are_refused_as_subscriptions() {
    let (server, memory, _, _) = lab().await;
    for op in ["unsubscribeevent", "unsubscribevent", "subscribeevent", "observeproperty", "unobserveproperty"] {
        let parsed = Operation::parse(op).expect("a known operation");
        let mut request = read("level");
        request.operation = parsed;
        let answer = memory.request(request).await;
        let Answer::Error { class, error } = &answer else { panic!("{op}: expected an error, got {answer:?}") };
        assert_eq!(*class, ErrorClass::Unsupported, "{op}");
        assert!(error.message.contains("is not a request"), "{op}: {error}");
    }
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn every_operation_a_thing_description_names_is_one_the_core_understands() {
    let (server, memory, _, _) = lab().await;
    let td = crate::td::ThingDescription::new(<Lab as crate::DescribeThing>::thing_descriptor(), "s", "lab")
        .served_on(&crate::td::tcp_addresses("127.0.0.1", 5555))
        .to_json();
    let mut ops = Vec::new();
    for kind in ["properties", "actions", "events"] {
        for (_, affordance) in td[kind].as_object().expect("affordances") {
            for form in affordance["forms"].as_array().expect("forms") {
                match &form["op"] {
                    serde_json::Value::String(op) => ops.push(op.clone()),
                    serde_json::Value::Array(list) => {
                        ops.extend(list.iter().filter_map(|o| o.as_str().map(String::from)))
                    }
                    other => panic!("op {other}"),
                }
            }
        }
    }
    assert!(ops.iter().any(|o| o == "unsubscribeevent"), "{ops:?}");
    for op in &ops {
        assert!(Operation::parse(op).is_some(), "the TD advertises `{op}`, which the core does not know");
    }
    drop(memory);
    server.shutdown().await;
}

/// Records the events of the failure log (target `thingwire::failures`) and their fields.
#[derive(Clone, Default)]
struct FailureLog(Arc<Mutex<Vec<LogLine>>>);

/// One logged event: its level and its fields, as text.
type LogLine = (tracing::Level, Vec<(String, String)>);

impl tracing::Subscriber for FailureLog {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target() == "thingwire::failures"
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        struct Fields(Vec<(String, String)>);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push((field.name().to_owned(), format!("{value:?}").trim_matches('"').to_owned()));
            }
        }
        let mut fields = Fields(Vec::new());
        event.record(&mut fields);
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push((*event.metadata().level(), fields.0));
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test(start_paused = true)]
async fn failed_operations_are_logged_with_fields_to_alert_on_unless_turned_off() {
    let log = FailureLog::default();
    let _guard = tracing::subscriber::set_default(log.clone());
    let (server, memory, _, _) = lab_with(|b| b.failure_log(Some(tracing::Level::ERROR))).await;
    // Refused in the core, answered on this thread: the log line is written here.
    let _ = memory.read("lab", "levle").await;
    let lines = log.0.lock().expect("lock").clone();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (level, fields) = &lines[0];
    assert_eq!(*level, tracing::Level::ERROR);
    let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    assert_eq!(field("thing"), Some("lab"));
    assert_eq!(field("name"), Some("levle"));
    assert_eq!(field("operation"), Some("readproperty"));
    assert_eq!(field("client"), Some("in-memory"));
    assert_eq!(field("error_type"), Some("KeyError"));
    server.shutdown().await;

    let log = FailureLog::default();
    let _guard = tracing::subscriber::set_default(log.clone());
    let (server, memory, _, _) = lab_with(|b| b.failure_log(None)).await;
    let _ = memory.read("lab", "levle").await;
    assert!(log.0.lock().expect("lock").is_empty(), "turned off");
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn every_queued_operation_kind_times_out_at_its_invocation_deadline() {
    let (server, memory, _, _) = lab().await;
    let start = Instant::now();
    let holding = memory.submit(invoke("hold", json!({"seconds": 10})));
    let write = Request::json(Operation::WriteProperty, "lab", "level", Some(&3)).expect("request");
    let mut multiple = read("level,order");
    multiple.operation = Operation::ReadMultipleProperties;
    let mut all = read("");
    all.operation = Operation::ReadAllProperties;
    let write_all =
        Request::json(Operation::WriteMultipleProperties, "lab", "", Some(&json!({"level": 3}))).expect("request");
    let waiting: Vec<_> = [read("level"), write, multiple, all, write_all, invoke("record", json!({"n": 1}))]
        .into_iter()
        .map(|r| memory.submit(with_timeouts(r, Some(1_000), None)))
        .collect();
    for pending in waiting {
        assert_eq!(pending.await, Answer::Timeout(TimeoutKind::Invocation));
    }
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert!(matches!(holding.await, Answer::Value { .. }));
    assert_eq!(memory.read("lab", "level").await.json::<u32>(), Ok(0), "the timed-out write never ran");
    assert_eq!(memory.read("lab", "order").await.json::<Vec<u32>>(), Ok(vec![]), "nor the action");
    assert_eq!(server.stats().invocation_timeouts, 6);
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn multiple_and_all_properties_go_through_the_same_core() {
    let (server, memory, gate, _) = lab().await;
    gate.open(); // `slow` answers at once
    let mut write_all =
        Request::json(Operation::WriteMultipleProperties, "lab", "", Some(&json!({"level": 3}))).expect("request");
    assert!(matches!(memory.request(write_all.clone()).await, Answer::Value { .. }));
    let mut multiple = read("level, order");
    multiple.operation = Operation::ReadMultipleProperties;
    assert_eq!(memory.request(multiple).await.json::<serde_json::Value>(), Ok(json!({"level": 3, "order": []})));
    let mut all = read("");
    all.operation = Operation::ReadAllProperties;
    let everything = memory.request(all).await;
    assert!(matches!(everything, Answer::Error { class: ErrorClass::Failed, .. }), "`broken` panics: {everything:?}");
    write_all.payload = br#"{"level": 1, "order": [5]}"#.to_vec();
    let refused = memory.request(write_all).await;
    let error = refused.error().expect("an error");
    assert!(error.notes.as_ref().is_some_and(|n| n.iter().any(|n| n.contains("read-only"))), "{error:?}");
    assert_eq!(memory.read("lab", "level").await.json::<u32>(), Ok(1), "the writable one was written");
    server.shutdown().await;
}
