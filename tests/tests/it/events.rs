//! Events on PUB sockets: topic `<thing>/<event>`, five frames with an EVENT header; observable properties
//! publish `<thing>/<prop>_change_event`; `Event<T>` emits from any thread.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use thingwire::transport::Protocol;

use crate::common::{RawClient, sensor::Tick, sensor_server};

/// Subscribes a raw SUB socket and triggers `emit` until the first event arrives (PUB/SUB's slow joiner:
/// a subscription takes a moment to reach the publisher).
async fn first_event(sub: &mut tmq::subscribe::Subscribe, c: &mut RawClient, value: i64) -> Vec<Vec<u8>> {
    for _ in 0..50 {
        c.op("sensor", Some("emit"), "invokeaction", json!({"value": value})).await;
        if let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_millis(100), sub.next()).await {
            return m.iter().map(|f| f.to_vec()).collect();
        }
    }
    panic!("no event within 5 s");
}

async fn raw_event_frames(protocol: Protocol) {
    let (server, address) = sensor_server(protocol).await;
    let events_addr = &server.addresses()[0].events;
    let mut sub = tmq::subscribe(thingwire::transport::context())
        .connect(events_addr)
        .expect("connect")
        .subscribe(b"sensor/tick")
        .expect("subscribe");
    let mut c = RawClient::connect(&address, server.id()).await;
    let frames = first_event(&mut sub, &mut c, 7).await;
    assert_eq!(frames.len(), 5);
    assert_eq!(frames[0], b"sensor/tick");
    assert!(frames[1].is_empty());
    let header: Value = serde_json::from_slice(&frames[2]).expect("header");
    assert_eq!(header["messageType"], "EVENT");
    assert_eq!(header["eventID"], "sensor/tick");
    assert_eq!(header["senderID"], format!("{}/event-publisher", server.id()));
    assert_eq!(header["payloadContentType"], "application/json");
    // hololinked's key order, exactly these keys.
    let text = String::from_utf8(frames[2].clone()).expect("utf8");
    let keys =
        ["messageType", "messageID", "senderID", "eventID", "payloadContentType", "preencodedPayloadContentType"];
    let positions: Vec<usize> = keys.iter().map(|k| text.find(&format!("\"{k}\":")).expect("key present")).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert_eq!(header.as_object().expect("obj").len(), keys.len(), "{text}");
    assert_eq!(serde_json::from_slice::<Value>(&frames[3]).expect("payload"), json!({"value": 7}));
    assert!(frames[4].is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_over_tcp_use_request_port_plus_one() {
    let (server, _) = sensor_server(Protocol::Tcp).await;
    let a = &server.addresses()[0];
    let port = |s: &str| s.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()).expect("port");
    assert_eq!(port(&a.events), port(&a.requests) + 1);
    server.shutdown().await;
    raw_event_frames(Protocol::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_over_ipc_and_inproc() {
    raw_event_frames(Protocol::Ipc).await;
    raw_event_frames(Protocol::Inproc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observable_properties_publish_changes_and_the_prefix_quirk_is_handled() {
    let (server, address) = sensor_server(Protocol::Tcp).await;
    let client = thingwire::Client::connect(&address).await.expect("connect");
    let mut changes = client.subscribe::<f64>("sensor", "gain_change_event").await.expect("subscribe");
    // A subscription to the bare prefix `sensor/gain` also gets `sensor/gain_change_event` from ZeroMQ;
    // the client keeps only exact topics, so this stream must yield none of them. It is live (its
    // subscription has reached the publisher) once an event on its own topic arrives.
    let mut prefix = client.subscribe::<Value>("sensor", "gain").await.expect("subscribe");
    let publisher = server.publisher();
    let mut probes = 0;
    loop {
        publisher.publish("sensor/gain", "probe").expect("publish");
        if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(100), prefix.next()).await {
            assert_eq!(e.expect("decodes").data, json!("probe"));
            break;
        }
        probes += 1;
        assert!(probes < 50, "the prefix subscription got no event of its own topic within 5 s");
    }
    let mut value = 2.0;
    let first = loop {
        client.write_property("sensor", "gain", &value).await.expect("write");
        if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(100), changes.next()).await {
            break e.expect("decodes");
        }
        value += 1.0;
        assert!(value < 60.0, "no change event within 5 s");
    };
    assert_eq!(first.data, value);
    assert_eq!(first.topic, "sensor/gain_change_event");
    // Writing the same value again publishes nothing; a new value publishes once.
    client.write_property("sensor", "gain", &value).await.expect("write");
    client.write_property("sensor", "gain", &(value + 0.5)).await.expect("write");
    let next = tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .expect("an event")
        .expect("item")
        .expect("ok");
    assert_eq!(next.data, value + 0.5, "the unchanged write published nothing");
    // A marker on the prefix's own topic follows the change events on the wire, so the stream would yield
    // them before it. Only probes still on their way may come first.
    publisher.publish("sensor/gain", "marker").expect("publish");
    loop {
        let e = tokio::time::timeout(Duration::from_secs(5), prefix.next())
            .await
            .expect("the marker arrives")
            .expect("item")
            .expect("decodes");
        assert_eq!(e.topic, "sensor/gain");
        if e.data == json!("marker") {
            break;
        }
        assert_eq!(e.data, json!("probe"), "exact topics only: the prefix stream yielded {e:?}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_handle_emits_from_a_plain_thread() {
    use thingwire::{Event, EventBinder};
    let (server, address) = sensor_server(Protocol::Inproc).await;
    let event: Event<Tick> = Event::new();
    assert!(
        matches!(event.emit(&Tick { value: 1 }), Err(thingwire::EventError::NotServed(_))),
        "unbound handles say so"
    );
    // Bind a second handle to the server's publisher, as the server does for a Thing's fields.
    let binder = EventBinder::new("sensor", server.publisher().clone());
    binder.bind(&event, "tick");
    let client = thingwire::Client::connect(&address).await.expect("connect");
    let mut ticks = client.subscribe::<Tick>("sensor", "tick").await.expect("subscribe");
    let emitter = event.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let thread = std::thread::spawn(move || {
        let mut n = 0;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) && n < 500 {
            emitter.emit(&Tick { value: 99 }).expect("emit");
            std::thread::sleep(Duration::from_millis(10));
            n += 1;
        }
    });
    let got =
        tokio::time::timeout(Duration::from_secs(5), ticks.next()).await.expect("an event").expect("item").expect("ok");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    thread.join().expect("thread");
    assert_eq!(got.data, Tick { value: 99 });
    server.shutdown().await;
    assert!(
        matches!(event.emit(&Tick { value: 1 }), Err(thingwire::EventError::Closed(_))),
        "emitting after shutdown says so"
    );
}

/// A Thing whose observable property changes in a background task, never through a request.
#[thingwire::thing(id = "counter")]
pub struct Ticker {
    #[thingwire::event]
    unused: thingwire::Event<u32>,
    count: std::sync::Arc<std::sync::atomic::AtomicU32>,
    _task: Option<tokio::task::JoinHandle<()>>,
}

#[thingwire::thing]
impl Ticker {
    /// Incremented every 20 ms by a background task.
    #[thingwire::property(observable)]
    fn count(&self) -> u32 {
        self.count.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_interval_publishes_background_changes() {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let bump = std::sync::Arc::clone(&count);
    let task = tokio::spawn(async move {
        for _ in 0..500 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            bump.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let thing = Ticker { unused: thingwire::Event::new(), count, _task: Some(task) };
    let server = thingwire::Server::builder("ticker")
        .thing(thing)
        .tcp("127.0.0.1:0")
        .observe_interval(Duration::from_millis(20))
        .start()
        .await
        .expect("starts");
    let client = thingwire::Client::connect(server.address(Protocol::Tcp).expect("tcp")).await.expect("connect");
    let mut changes = client.subscribe::<u32>("counter", "count_change_event").await.expect("subscribe");
    // No request is sent: the values come from the server's own checks.
    let first = tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .expect("a change")
        .expect("item")
        .expect("ok");
    let second = tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .expect("a change")
        .expect("item")
        .expect("ok");
    assert!(second.data > first.data, "{} then {}", first.data, second.data);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_loses_events_at_the_high_water_mark_and_counts_them() {
    use thingwire::{Event, EventBinder};
    let server = thingwire::Server::builder("slow-sub")
        .thing(crate::common::Sensor::new("sensor"))
        .ipc_in(crate::common::scratch_dir("slow"))
        .event_high_water_mark(100)
        .start()
        .await
        .expect("starts");
    let events_at = server.addresses()[0].events.clone();
    let mut ticks =
        thingwire::Subscription::<Tick>::connect(thingwire::transport::context(), &events_at, "sensor/flood")
            .await
            .expect("subscribe");
    let flood: Event<Tick> = Event::new();
    EventBinder::new("sensor", server.publisher().clone()).bind(&flood, "flood");
    // Wait until the subscription is live. Each probe has its own value, so that the test knows how many
    // went out after the first one to arrive (they may still be on their way).
    let mut probes = 0i64;
    let first_seen = loop {
        flood.emit(&Tick { value: -1 - probes }).expect("emit");
        probes += 1;
        if let Ok(Some(t)) = tokio::time::timeout(Duration::from_millis(50), ticks.next()).await {
            break -1 - t.expect("decodes").data.value;
        }
        assert!(probes < 200, "the subscription got no event within 10 s");
    };
    let later_probes = u64::try_from(probes - 1 - first_seen).expect("a probe that was sent");
    let (received_before, missed_before) = (ticks.received(), ticks.missed());
    // Far more than the queues hold, while nobody reads.
    let sent: u64 = 100_000;
    for i in 0..sent {
        flood.emit(&Tick { value: i as i64 }).expect("emitting never blocks");
    }
    // Read what the queues held (ZeroMQ drops the newest at the mark), up to a marker sent after the flood.
    // The marker is sent again whenever the stream goes quiet, as the mark may have dropped it too: marker
    // `k` (from 1) has the value `MARKER - k`.
    const MARKER: i64 = -1_000_000;
    let mut markers = 0i64;
    let mut flooded = 0u64;
    let marker = loop {
        match tokio::time::timeout(Duration::from_millis(300), ticks.next()).await {
            Ok(Some(item)) => match item.expect("decodes").data.value {
                v if v <= MARKER => break MARKER - v,
                v if v >= 0 => flooded += 1,
                _probe => {}
            },
            Ok(None) => panic!("the subscription ended"),
            Err(_) => {
                markers += 1;
                assert!(markers <= 50, "no marker arrived after the flood");
                flood.emit(&Tick { value: MARKER - markers }).expect("emit");
            }
        }
    };
    assert!(flooded < sent, "some events were dropped at the high-water mark ({flooded} of {sent} arrived)");
    // What went out after the first probe seen, up to the marker that arrived: the later probes, the
    // flood and `marker` markers. Each is either received or counted as missed.
    let accounted = (ticks.received() - received_before) + (ticks.missed() - missed_before);
    assert_eq!(accounted, later_probes + sent + marker as u64, "every event is either received or counted as missed");
    server.shutdown().await;
}
