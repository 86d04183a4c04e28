//! Polled change detection under tokio's paused clock: change events only past the thresholds, polls through
//! the Thing's queue, and a busy queue skipping polls instead of piling them up. Events are captured by a
//! binding of the test's own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::binding::{BindingSpec, BoundBinding, Control, ServerSettings};
use crate::core::Core;
use crate::error::ServerError;
use crate::event::{EventError, EventRoute, EventSink, EventSource};
use crate::prelude::*;

/// Every event the capture bindings saw: server id, `<thing>/<name>`, payload.
static EVENTS: Mutex<Vec<(String, String, Value)>> = Mutex::new(Vec::new());

#[derive(Default)]
struct Capture;

struct CaptureBound(String);

struct CaptureRoute {
    server: String,
    topic: String,
}

impl BindingSpec for Capture {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn bind(self: Box<Self>, server: &ServerSettings) -> Result<Box<dyn BoundBinding>, ServerError> {
        Ok(Box::new(CaptureBound(server.id.clone())))
    }
}

impl BoundBinding for CaptureBound {
    fn event_sink(&self) -> Option<Arc<dyn EventSink>> {
        Some(Arc::new(CaptureBound(self.0.clone())))
    }

    fn serve(self: Box<Self>, _core: Arc<Core>, _control: Control) -> Vec<tokio::task::JoinHandle<()>> {
        Vec::new()
    }
}

impl EventSink for CaptureBound {
    fn route(&self, source: &EventSource<'_>) -> Box<dyn EventRoute> {
        Box::new(CaptureRoute { server: self.0.clone(), topic: format!("{}/{}", source.thing_id, source.name) })
    }
}

impl EventRoute for CaptureRoute {
    fn send(&self, _sequence: u64, payload: &[u8], _preserialized: &[u8]) -> Result<(), EventError> {
        let value = serde_json::from_slice(payload).unwrap_or(Value::Null);
        EVENTS.lock().unwrap_or_else(|p| p.into_inner()).push((self.server.clone(), self.topic.clone(), value));
        Ok(())
    }
}

fn events(server: &str, topic: &str) -> Vec<Value> {
    let events = EVENTS.lock().unwrap_or_else(|p| p.into_inner());
    events.iter().filter(|(s, t, _)| s == server && t == topic).map(|(_, _, v)| v.clone()).collect()
}

/// A probe whose "hardware" the test moves.
#[thing]
struct Probe {
    id: String,
    temperature: Arc<Mutex<f64>>,
    pressure: Arc<Mutex<f64>>,
    reads: Arc<AtomicUsize>,
}

#[thing]
impl Probe {
    /// Polled every second; a change counts past 0.5.
    #[property(observable, poll = "1s", abs_change = 0.5)]
    fn temperature(&self) -> f64 {
        self.reads.fetch_add(1, Ordering::SeqCst);
        *self.temperature.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Polled every 2 s; a change counts past 10 % of the last published value.
    #[property(observable, poll = "2s", rel_change = 0.1)]
    fn pressure(&self) -> f64 {
        *self.pressure.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps the queue busy.
    #[action]
    async fn busy(&mut self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

struct Rig {
    server: Server,
    temperature: Arc<Mutex<f64>>,
    pressure: Arc<Mutex<f64>>,
    reads: Arc<AtomicUsize>,
}

async fn rig(id: &str) -> Rig {
    let (temperature, pressure) = (Arc::new(Mutex::new(20.0)), Arc::new(Mutex::new(100.0)));
    let reads = Arc::new(AtomicUsize::new(0));
    let probe = Probe {
        id: "probe".into(),
        temperature: Arc::clone(&temperature),
        pressure: Arc::clone(&pressure),
        reads: Arc::clone(&reads),
    };
    let mut builder = Server::builder(id).thing(probe).in_memory();
    builder.binding_mut::<Capture>();
    let server = builder.start().await.expect("server");
    Rig { server, temperature, pressure, reads }
}

fn set(value: &Mutex<f64>, v: f64) {
    *value.lock().unwrap_or_else(|p| p.into_inner()) = v;
}

#[tokio::test(start_paused = true)]
async fn a_polled_change_is_published_only_past_its_threshold() {
    let rig = rig("poll-thresholds").await;
    for value in [20.3, 20.6, 20.9, 21.2, 19.0] {
        set(&rig.temperature, value);
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // From 20.0: 20.3 is within 0.5 of it; 20.6 is not (published); 20.9 is within 0.5 of 20.6; 21.2 is not;
    // 19.0 is.
    assert_eq!(events("poll-thresholds", "probe/temperature"), [json!(20.6), json!(21.2), json!(19.0)]);
    set(&rig.pressure, 105.0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(events("poll-thresholds", "probe/pressure").is_empty(), "5 % is within 10 %");
    set(&rig.pressure, 111.0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(events("poll-thresholds", "probe/pressure"), [json!(111.0)]);
    rig.server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn polls_wait_their_turn_in_the_queue_and_do_not_pile_up() {
    let rig = rig("poll-queue").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = rig.reads.load(Ordering::SeqCst);
    assert!(before >= 2, "the start read and one poll: {before}");
    // Five periods of a busy queue: the poll sent in the first waits, the others are skipped.
    let memory = rig.server.memory();
    let busy = tokio::spawn(async move { memory.invoke("probe", "busy", &json!({"ms": 5000})).await });
    tokio::time::sleep(Duration::from_millis(4900)).await;
    assert_eq!(rig.reads.load(Ordering::SeqCst), before, "no poll ran beside the queued action");
    set(&rig.temperature, 30.0);
    assert!(matches!(busy.await.expect("task"), crate::binding::memory::Answer::Value { .. }));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rig.reads.load(Ordering::SeqCst), before + 1, "one poll after the action, not five");
    assert_eq!(events("poll-queue", "probe/temperature"), [json!(30.0)]);
    rig.server.shutdown().await;
}
