//! State machines: operations gated by the Thing's state over ZeroMQ and HTTP (refused before the Thing's
//! code runs, with hololinked's `StateMachineError`), state changes from another thread seen as change events
//! of `state`, hooks, the TD's `state` property, and the lab stage's states.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thingwire::binding::http::HttpOptions;
use thingwire::prelude::*;
use thingwire::{Protocol, StateMachine};

use crate::common::RawClient;

/// A door's states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DoorState {
    /// Shut, not locked.
    Closed,
    /// Open.
    Open,
    /// Shut and locked.
    Locked,
}

/// A door: every kind of gated member (queued actions, a field property, a setter property) and one that is
/// allowed in every state.
#[thing(title = "Door")]
pub struct Door {
    id: String,
    /// Closed, Open or Locked
    #[state_machine]
    state: StateMachine<DoorState>,
    /// A label on the door
    #[property]
    label: String,
    /// How often the code of a gated action ran.
    runs: Arc<AtomicUsize>,
    width: f64,
}

#[thing(states(Closed = [open, lock, label, width], Open = [close, label], Locked = [unlock]))]
impl Door {
    /// Open it
    #[action]
    fn open(&mut self) {
        self.runs.fetch_add(1, Ordering::SeqCst);
        self.state.set(DoorState::Open);
    }

    /// Close it
    #[action]
    fn close(&mut self) {
        self.runs.fetch_add(1, Ordering::SeqCst);
        self.state.set(DoorState::Closed);
    }

    /// Lock it
    #[action(concurrent)]
    async fn lock(&self) {
        self.runs.fetch_add(1, Ordering::SeqCst);
        self.state.set(DoorState::Locked);
    }

    /// Unlock it
    #[action(threaded)]
    fn unlock(&self) {
        self.runs.fetch_add(1, Ordering::SeqCst);
        self.state.set(DoorState::Closed);
    }

    /// Knock: allowed in every state
    #[action]
    fn knock(&self) -> String {
        self.state.name()
    }

    /// The door's width
    #[property]
    fn width(&self) -> f64 {
        self.width
    }

    #[property(setter)]
    fn set_width(&mut self, value: f64) {
        self.width = value;
    }
}

fn door(entered: &Arc<AtomicUsize>) -> (Door, StateMachine<DoorState>, Arc<AtomicUsize>) {
    let counter = Arc::clone(entered);
    let state = StateMachine::new(DoorState::Closed).on_enter(DoorState::Open, move |from, to| {
        assert_eq!((from, to), (DoorState::Closed, DoorState::Open));
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let runs = Arc::new(AtomicUsize::new(0));
    let thing =
        Door { id: "door".into(), state: state.clone(), label: "front".into(), runs: Arc::clone(&runs), width: 0.9 };
    (thing, state, runs)
}

async fn serve(id: &str, thing: Door, options: HttpOptions) -> (thingwire::Server, RawClient, String) {
    let server = thingwire::Server::builder(id)
        .thing(thing)
        .inproc()
        .http("127.0.0.1:0")
        .http_options(options)
        .start()
        .await
        .expect("server");
    let address = server.address(Protocol::Inproc).expect("inproc").to_owned();
    let client = RawClient::connect(&address, id).await;
    let base = server.http_base_url().expect("http").to_owned();
    (server, client, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_the_state_does_not_allow_are_refused_before_the_code_runs_over_zeromq() {
    let entered = Arc::new(AtomicUsize::new(0));
    let (thing, _, runs) = door(&entered);
    let (server, mut c, _) = serve("states-zmq", thing, HttpOptions::default()).await;
    assert_eq!(c.op("door", Some("state"), "readproperty", Value::Null).await.payload, json!("Closed"));
    // Allowed: it runs, and the hook of the state entered ran.
    assert_eq!(c.op("door", Some("open"), "invokeaction", json!({})).await.kind, "REPLY");
    assert_eq!(entered.load(Ordering::SeqCst), 1, "on_enter(Open) ran once");
    // Refused in `Open`: a queued, a concurrent and a threaded action, a field and a setter property.
    let refused = c.op("door", Some("lock"), "invokeaction", json!({})).await;
    refused
        .assert_exception("StateMachineError", "is in state `Open`, but action `lock` can be invoked only in `Closed`");
    let refused = c.op("door", Some("unlock"), "invokeaction", json!({})).await;
    refused.assert_exception("StateMachineError", "only in `Locked`");
    let refused = c.op("door", Some("width"), "writeproperty", json!(1.2)).await;
    refused.assert_exception("StateMachineError", "property `width` can be written only in `Closed`");
    assert_eq!(c.op("door", Some("label"), "writeproperty", json!("back")).await.kind, "REPLY", "allowed in Open");
    assert_eq!(runs.load(Ordering::SeqCst), 1, "no refused operation ran the Thing's code");
    // Not in the mapping: allowed in every state.
    assert_eq!(c.op("door", Some("knock"), "invokeaction", json!({})).await.payload, json!("Open"));
    assert_eq!(c.op("door", Some("close"), "invokeaction", json!({})).await.kind, "REPLY");
    assert_eq!(c.op("door", Some("lock"), "invokeaction", json!({})).await.kind, "REPLY");
    // Locked: writing several properties at once is refused as a whole.
    let refused = c.op("door", None, "writemultipleproperties", json!({"label": "x"})).await;
    refused.assert_exception("StateMachineError", "in state `Locked`");
    assert_eq!(
        c.op("door", Some("label"), "readproperty", Value::Null).await.payload,
        json!("back"),
        "nothing written"
    );
    // The state is read-only.
    c.op("door", Some("state"), "writeproperty", json!("Open")).await.assert_exception("AttributeError", "read-only");
    assert_eq!(c.op("door", Some("unlock"), "invokeaction", json!({})).await.kind, "REPLY");
    assert_eq!(c.op("door", Some("state"), "readproperty", Value::Null).await.payload, json!("Closed"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_a_refusal_is_409_and_state_changes_from_another_thread_stream() {
    let entered = Arc::new(AtomicUsize::new(0));
    let (thing, handle, _) = door(&entered);
    let (server, _, base) = serve("states-http", thing, HttpOptions::default()).await;
    let c = reqwest::Client::new();
    let refused = c.post(format!("{base}/door/unlock")).send().await.expect("post");
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["exception"]["type"], "StateMachineError", "{body}");
    // Changes made from any thread reach the change stream of `state`, in order.
    let stream = c.get(format!("{base}/door/state/change-event")).send().await.expect("stream");
    let mut bytes = stream.bytes_stream();
    let mover = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        handle.set(DoorState::Open);
        handle.set(DoorState::Closed);
        handle.set(DoorState::Locked);
    });
    let mut seen = String::new();
    let read = async {
        while seen.matches("data:").count() < 3 {
            let chunk = bytes.next().await.expect("more").expect("bytes");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.expect("three changes within 10 s");
    mover.join().expect("thread");
    let states: Vec<&str> = seen.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
    assert_eq!(states, ["\"Open\"", "\"Closed\"", "\"Locked\""]);
    assert_eq!(entered.load(Ordering::SeqCst), 1);
    // The TD describes the state: read-only, observable, one of the states.
    let td: Value =
        c.get(format!("{base}/door/resources/wot-td")).send().await.expect("td").json().await.expect("json");
    let state = &td["properties"]["state"];
    assert_eq!((state["readOnly"].clone(), state["observable"].clone()), (json!(true), json!(true)));
    let names: Vec<&str> =
        state["oneOf"].as_array().expect("oneOf").iter().filter_map(|s| s["const"].as_str()).collect();
    assert_eq!(names, ["Closed", "Open", "Locked"]);
    server.shutdown().await;

    // hololinked's error style: 200 with the error object, so its client raises.
    let (thing, _, _) = door(&Arc::new(AtomicUsize::new(0)));
    let options = HttpOptions { hololinked_errors: true, ..HttpOptions::default() };
    let (server, _, base) = serve("states-http-holo", thing, options).await;
    let refused = c.post(format!("{base}/door/unlock")).send().await.expect("post");
    assert_eq!(refused.status(), StatusCode::OK);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["exception"]["type"], "StateMachineError");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lab_stage_refuses_to_move_while_moving_or_in_fault() {
    let server =
        thingwire_examples::start_lab(thingwire::Server::builder("states-lab").inproc()).await.expect("lab starts");
    let address = server.address(Protocol::Inproc).expect("inproc").to_owned();
    let mut a = RawClient::connect(&address, "states-lab").await;
    let mut b = RawClient::connect(&address, "states-lab").await;
    assert_eq!(a.op("stage", Some("speed"), "writeproperty", json!(50)).await.kind, "REPLY");
    let header = a.header("OPERATION", "stage", Some("move_to"), "invokeaction", json!({}));
    a.send(&header, crate::common::to_bytes(&json!({"target": 100}))).await;
    // Wait until it moves, then every gated operation is refused and `stop` is not.
    let mut moving = false;
    for _ in 0..100 {
        if b.op("stage", Some("state"), "readproperty", Value::Null).await.payload == json!("Moving") {
            moving = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(moving, "the stage went to Moving");
    b.op("stage", Some("move_to"), "invokeaction", json!({"target": 5}))
        .await
        .assert_exception("StateMachineError", "`Moving`");
    b.op("stage", Some("home"), "invokeaction", json!({})).await.assert_exception("StateMachineError", "`Moving`");
    b.op("stage", Some("speed"), "writeproperty", json!(5)).await.assert_exception("StateMachineError", "`Moving`");
    assert_eq!(b.op("stage", Some("stop"), "invokeaction", json!({})).await.kind, "REPLY");
    assert_eq!(b.op("stage", Some("state"), "readproperty", Value::Null).await.payload, json!("Idle"));
    assert_eq!(b.op("stage", Some("inject_fault"), "invokeaction", json!({})).await.kind, "REPLY");
    b.op("stage", Some("home"), "invokeaction", json!({})).await.assert_exception("StateMachineError", "`Fault`");
    assert_eq!(b.op("stage", Some("reset"), "invokeaction", json!({})).await.kind, "REPLY");
    b.op("stage", Some("reset"), "invokeaction", json!({}))
        .await
        .assert_exception("StateMachineError", "only in `Fault`");
    assert_eq!(b.op("stage", Some("state"), "readproperty", Value::Null).await.payload, json!("Idle"));
    server.shutdown().await;
}
