//! The MQTT binding against real brokers, started by the tests: the embedded rumqttd always, Mosquitto when it
//! is installed (each test says when it skipped it). Topics, retained messages, the TD and its forms, the status
//! topic and last will, requests over MQTT 5, a broker that refuses the credentials or is not there, and a
//! broker outage in the middle of a burst with every event accounted for.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use thingwire::binding::mqtt::{MqttOptions, MqttQos, MqttVersion};
use thingwire::{Server, ServerError};

use crate::common::Sensor;
use crate::common::broker::{self, Broker, Kind, Proxy, Subscriber};

async fn sensor_server(id: &str, url: &str, options: MqttOptions) -> Server {
    Server::builder(id)
        .thing(Sensor::new("sensor"))
        .mqtt(url)
        .mqtt_options(options)
        .start()
        .await
        .unwrap_or_else(|e| panic!("the server starts with MQTT at {url}: {e}"))
}

/// Waits (bounded: 10 s) until `check` holds for the server's MQTT counters.
async fn until_stats(server: &Server, what: &str, check: impl Fn(&thingwire::binding::mqtt::MqttStats) -> bool) {
    for _ in 0..1000 {
        let stats = server.mqtt_stats().expect("an MQTT binding");
        if check(&stats) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what} did not happen within 10 s: {:?}", server.mqtt_stats());
}

async fn emit(server: &Server, value: i64) {
    let answer = server.memory().invoke("sensor", "emit", &json!({ "value": value })).await;
    assert!(answer.error().is_none(), "emit {value}: {answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_changes_td_and_status_reach_subscribers_as_hololinked_publishes_them() {
    for kind in broker::kinds("mqtt::events_changes_td_and_status") {
        let broker = Broker::start(kind, &[]).await;
        let server = sensor_server("mqtt-pub", &broker.url(), MqttOptions::default()).await;
        let mut sub = Subscriber::connect(broker.port, "pub-sub", &["sensor/#", "thingwire/mqtt-pub/status"]).await;

        // Retained at once for a subscriber that comes after the server: the status, the TD, the current value.
        let status = sub.next_on("thingwire/mqtt-pub/status").await;
        assert_eq!(&status.payload[..], b"online", "{kind:?}");
        let td = sub.next_on("sensor/thing-description").await;
        assert_eq!(td.content_type.as_deref(), Some("application/json"), "{kind:?}");
        let td = td.json();
        crate::td::assert_valid(&crate::td::validator("td-json-schema-validation.json"), &td, "the MQTT TD");
        let observe = &td["properties"]["gain"]["forms"][0];
        assert_eq!(observe["op"], "observeproperty", "{kind:?}: MQTT forms first in the TD published there");
        assert_eq!(observe["href"], format!("{}/sensor/gain", broker.url()), "node-wot's topic: the href path");
        assert_eq!(observe["mqv:topic"], "sensor/gain", "hololinked's topic");
        let subscribe = &td["events"]["tick"]["forms"][0];
        assert_eq!((&subscribe["op"], &subscribe["mqv:topic"]), (&json!("subscribeevent"), &json!("sensor/tick")));
        let gain = sub.next_on("sensor/gain").await;
        assert_eq!(gain.json(), json!(1.0), "{kind:?}: the current value");
        // Retained: a subscriber that comes later gets them at once, flagged as retained.
        let mut later = Subscriber::connect(broker.port, "pub-later", &["sensor/#", "thingwire/mqtt-pub/status"]).await;
        for topic in ["thingwire/mqtt-pub/status", "sensor/thing-description", "sensor/gain"] {
            assert!(later.next_on(topic).await.retain, "{kind:?}: {topic} is retained");
        }
        drop(later);

        // Events: the data as JSON, no envelope, on <thing>/<event>.
        emit(&server, 7).await;
        let tick = sub.next_on("sensor/tick").await;
        assert_eq!(tick.json(), json!({"value": 7}), "{kind:?}");
        assert_eq!(tick.content_type.as_deref(), Some("application/json"));

        // A change of an observable property: on <thing>/<property>, retained.
        let write = server.memory().write("sensor", "gain", &2.5).await;
        assert!(write.error().is_none(), "{write:?}");
        // (Live messages reach subscribers with the retain flag clear, as MQTT says: a late subscriber sees it.)
        assert_eq!(sub.next_on("sensor/gain").await.json(), json!(2.5), "{kind:?}");
        drop(sub);
        let mut late = Subscriber::connect(broker.port, "late-sub", &["sensor/gain", "sensor/tick"]).await;
        let retained = late.next_on("sensor/gain").await;
        assert_eq!((retained.json(), retained.retain), (json!(2.5), true), "{kind:?}: a late subscriber sees it");
        assert!(late.messages.try_recv().is_err(), "{kind:?}: events are not retained");

        // The other bindings' TDs carry the MQTT forms too.
        let td = server.memory().invoke("sensor", "get_thing_description", &json!({})).await;
        let td: Value = td.json().expect("a TD");
        let forms = td["events"]["tick"]["forms"].as_array().expect("forms");
        assert!(forms.iter().any(|f| f["mqv:topic"] == "sensor/tick"), "{kind:?}: {forms:?}");
        crate::td::assert_valid(&crate::td::validator("td-json-schema-validation.json"), &td, "the TD with MQTT forms");

        // A graceful stop says `offline`, retained.
        let mut watcher = Subscriber::connect(broker.port, "status-sub", &["thingwire/mqtt-pub/status"]).await;
        assert_eq!(&watcher.next_on("thingwire/mqtt-pub/status").await.payload[..], b"online");
        server.shutdown().await;
        assert_eq!(&watcher.next_on("thingwire/mqtt-pub/status").await.payload[..], b"offline", "{kind:?}");
        drop(late);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_3_1_1_publishes_the_same_topics() {
    for kind in broker::kinds("mqtt::mqtt_3_1_1") {
        let broker = Broker::start(kind, &[]).await;
        let url = format!("mqtt://127.0.0.1:{}", broker.port_v311);
        let options = MqttOptions { version: MqttVersion::V311, qos: MqttQos::AtMostOnce, ..MqttOptions::default() };
        let server = sensor_server("mqtt-v311", &url, options).await;
        let mut sub = Subscriber::connect(broker.port, "v311-sub", &["sensor/#"]).await;
        let td = sub.next_on("sensor/thing-description").await.json();
        assert_eq!(td["events"]["tick"]["forms"][0]["mqv:topic"], "sensor/tick", "{kind:?}");
        // No requests over 3.1.1: as hololinked's MQTT TD, only what is published is described (and valid).
        crate::td::assert_valid(&crate::td::validator("td-json-schema-validation.json"), &td, "the 3.1.1 TD");
        assert!(td["actions"].as_object().is_none_or(|a| a.is_empty()), "{kind:?}: no actions: {}", td["actions"]);
        assert!(td["properties"].get("serial").is_none(), "{kind:?}: a property that is not observable is left out");
        emit(&server, 3).await;
        assert_eq!(sub.next_on("sensor/tick").await.json(), json!({"value": 3}), "{kind:?}");
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_mqtt5_are_answered_on_the_response_topic_with_their_correlation_data() {
    for kind in broker::kinds("mqtt::requests_over_mqtt5") {
        let broker = Broker::start(kind, &[]).await;
        let server = sensor_server("mqtt-rr", &broker.url(), MqttOptions::default()).await;
        let mut client = Subscriber::connect(broker.port, "rr-client", &["replies/rr-client"]).await;
        let topic = "thingwire/mqtt-rr/sensor/request";
        // The server subscribes to its request topics once connected: ask until the first answer comes.
        let mut first = None;
        for n in 0..50u8 {
            client
                .request(topic, "replies/rr-client", &[n], &json!({"operation": "readproperty", "name": "gain"}))
                .await;
            if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(200), client.messages.recv()).await {
                first = Some(m);
                break;
            }
        }
        let first = first.unwrap_or_else(|| panic!("{kind:?}: no answer to a readproperty request within 10 s"));
        assert_eq!(first.json(), json!(1.0), "{kind:?}");
        assert!(first.user_properties.contains(&("thingwire-reply".into(), "value".into())), "{first:?}");
        while tokio::time::timeout(Duration::from_millis(300), client.messages.recv()).await.is_ok() {}

        let cases = [
            (json!({"operation": "writeproperty", "name": "gain", "value": 4.5}), "value", json!(null)),
            (json!({"operation": "readproperty", "name": "gain"}), "value", json!(4.5)),
            (json!({"operation": "invokeaction", "name": "add", "value": {"a": 1, "b": 2}}), "value", json!(3.0)),
            (json!({"operation": "readproperty", "name": "gian"}), "error", json!("did you mean `gain`")),
            (json!({"operation": "writeproperty", "name": "serial", "value": "x"}), "error", json!("read")),
            (
                json!({"operation": "invokeaction", "name": "fail", "value": {"message": "boom"}}),
                "error",
                json!("boom"),
            ),
            (json!({"op": "readproperty"}), "error", json!("operation")),
            (json!([1, 2]), "error", json!("not a JSON object")),
        ];
        for (n, (request, status, expect)) in cases.iter().enumerate() {
            let correlation = [0xC0, n as u8];
            client.request(topic, "replies/rr-client", &correlation, request).await;
            let reply = client.next_on("replies/rr-client").await;
            assert_eq!(reply.correlation.as_deref(), Some(&correlation[..]), "{kind:?} {request}: correlation data");
            assert!(
                reply.user_properties.contains(&("thingwire-reply".into(), (*status).into())),
                "{kind:?} {request}: {:?}",
                reply.user_properties
            );
            let body = reply.json();
            if *status == "value" {
                if !expect.is_null() {
                    assert_eq!(&body, expect, "{kind:?} {request}");
                }
            } else {
                let message = body["exception"]["message"].as_str().unwrap_or_default();
                let needle = expect.as_str().unwrap_or_default();
                assert!(message.contains(needle), "{kind:?} {request}: {body}");
                assert!(body["exception"]["type"].is_string(), "hololinked's error object: {body}");
            }
        }
        // Labelled as another content type: refused, saying what to send.
        let properties = rumqttc::v5::mqttbytes::v5::PublishProperties {
            response_topic: Some("replies/rr-client".into()),
            correlation_data: Some(bytes::Bytes::from_static(b"mp")),
            content_type: Some("application/msgpack".into()),
            ..Default::default()
        };
        let qos = rumqttc::v5::mqttbytes::QoS::AtLeastOnce;
        client.client.publish_with_properties(topic, qos, false, vec![0x80u8], properties).await.expect("publish");
        let reply = client.next_on("replies/rr-client").await;
        assert_eq!(reply.correlation.as_deref(), Some(&b"mp"[..]));
        assert!(reply.json()["exception"]["message"].as_str().is_some_and(|m| m.contains("application/json")));
        // Without a response topic there is nowhere to answer: counted, and the server keeps serving.
        let before = server.mqtt_stats().expect("stats").refused_requests;
        client
            .client
            .publish(topic, qos, false, br#"{"operation":"readproperty","name":"gain"}"#.to_vec())
            .await
            .expect("publish");
        until_stats(&server, "counting the unanswerable request", |s| s.refused_requests == before + 1).await;
        client
            .request(topic, "replies/rr-client", b"after", &json!({"operation": "readproperty", "name": "gain"}))
            .await;
        assert_eq!(client.next_on("replies/rr-client").await.json(), json!(4.5), "{kind:?}: still serving");
        let stats = server.mqtt_stats().expect("stats");
        assert!(stats.requests >= 7 && stats.refused_requests >= 4, "{stats:?}");
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_refuses_the_credentials_or_is_not_there_fails_start_saying_so() {
    for kind in broker::kinds("mqtt::refused_credentials") {
        let broker = Broker::start(kind, &[("lab", "secret")]).await;
        let start = |url: String, credentials: Option<(&'static str, &'static str)>| async move {
            let options = MqttOptions {
                credentials: credentials.map(|(u, p)| (u.to_owned(), p.to_owned())),
                ..MqttOptions::default()
            };
            Server::builder("mqtt-auth").thing(Sensor::new("sensor")).mqtt(url).mqtt_options(options).start().await
        };
        match start(broker.url(), Some(("lab", "wrong"))).await {
            Err(e @ ServerError::Broker { .. }) => {
                let text = e.to_string();
                assert!(
                    text.contains("refused") && text.contains("credentials"),
                    "{kind:?}: says it was refused and what to check: {text}"
                );
            }
            Err(other) => panic!("{kind:?}: expected ServerError::Broker, got {other}"),
            Ok(_) => panic!("{kind:?}: a wrong password was accepted"),
        }
        let url = format!("mqtt://lab:secret@127.0.0.1:{}", broker.port);
        let server = start(url, None).await.unwrap_or_else(|e| panic!("{kind:?}: the URL's credentials work: {e}"));
        assert_eq!(server.mqtt_stats().map(|s| s.connections), Some(1));
        server.shutdown().await;
    }
    // Nothing listening there.
    let url = format!("mqtt://127.0.0.1:{}", broker::free_port());
    match Server::builder("mqtt-none").thing(Sensor::new("sensor")).mqtt(&url).start().await {
        Err(e @ ServerError::Broker { .. }) => {
            assert!(e.to_string().contains("could not be reached"), "{e}");
        }
        Err(other) => panic!("expected ServerError::Broker, got {other}"),
        Ok(_) => panic!("started without a broker"),
    }
    // A URL that is not a broker's, and a Thing id that cannot be a topic.
    let e = Server::builder("s").thing(Sensor::new("sensor")).mqtt("http://h:1883").start().await.expect_err("refused");
    assert!(e.to_string().contains("mqtt://"), "{e}");
    let e =
        Server::builder("s").thing(Sensor::new("sensor+1")).mqtt("mqtt://127.0.0.1:1").start().await.expect_err("no");
    assert!(e.to_string().contains("wildcards"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_connection_publishes_the_last_will_and_publishing_resumes() {
    for kind in broker::kinds("mqtt::last_will") {
        let broker = Broker::start(kind, &[]).await;
        let proxy = Proxy::start(broker.port).await;
        let server = sensor_server("mqtt-will", &proxy.url(), MqttOptions::default()).await;
        let mut sub =
            Subscriber::connect(broker.port, "will-sub", &["thingwire/mqtt-will/status", "sensor/tick"]).await;
        assert_eq!(&sub.next_on("thingwire/mqtt-will/status").await.payload[..], b"online");
        proxy.cut();
        let will = sub.next_on("thingwire/mqtt-will/status").await;
        assert_eq!(&will.payload[..], b"offline", "{kind:?}: the broker's last will");
        let mut late = Subscriber::connect(broker.port, "will-late", &["thingwire/mqtt-will/status"]).await;
        let retained = late.next_on("thingwire/mqtt-will/status").await;
        assert_eq!((&retained.payload[..], retained.retain), (&b"offline"[..], true), "{kind:?}: the will is retained");
        until_stats(&server, "noticing the broken connection", |s| !s.connected).await;
        proxy.resume().await;
        assert_eq!(&sub.next_on("thingwire/mqtt-will/status").await.payload[..], b"online", "{kind:?}: back");
        until_stats(&server, "reconnecting", |s| s.connected && s.connections == 2).await;
        emit(&server, 11).await;
        assert_eq!(sub.next_on("sensor/tick").await.json(), json!({"value": 11}), "{kind:?}: publishing resumed");
        server.shutdown().await;
    }
}

/// A broker outage in the middle of a burst (Mosquitto: stopped and started again; rumqttd, which cannot stop:
/// the server's connection cut by a proxy): the Thing never waits, publishing resumes by itself, and every
/// event is published, lost or dropped — and the subscriber got what was published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_mid_burst_drops_the_oldest_counts_everything_and_publishing_resumes() {
    const BEFORE: i64 = 100;
    const DURING: i64 = 200;
    const AFTER: i64 = 100;
    const QUEUE: usize = 50;
    for kind in broker::kinds("mqtt::outage_mid_burst") {
        let mut broker = Broker::start(kind, &[]).await;
        let proxy = Proxy::start(broker.port).await;
        let options =
            MqttOptions { queue: QUEUE, reconnect_delay: Duration::from_millis(20), ..MqttOptions::default() };
        let server = sensor_server("mqtt-burst", &proxy.url(), options).await;
        let mut sub = Subscriber::connect(broker.port, "burst-sub", &["sensor/tick"]).await;
        let mut received = BTreeSet::new();
        fn collect(sub: &mut Subscriber, received: &mut BTreeSet<i64>) {
            while let Ok(m) = sub.messages.try_recv() {
                if m.topic == "sensor/tick" {
                    received.insert(m.json()["value"].as_i64().expect("a tick"));
                }
            }
        }

        // Before and after the outage, in steps the broker keeps up with (a queue of 50 is small on purpose).
        for n in 0..BEFORE {
            emit(&server, n).await;
            if n % 10 == 9 {
                until_stats(&server, "publishing a step", |s| s.pending == 0).await;
            }
        }
        until_stats(&server, "publishing the first events", |s| s.published == BEFORE as u64).await;
        for _ in 0..500 {
            collect(&mut sub, &mut received);
            if received.len() == BEFORE as usize {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(received.len(), BEFORE as usize, "{kind:?}: all events before the outage arrived");

        match kind {
            Kind::Mosquitto => broker.stop(),
            Kind::Embedded => proxy.cut(),
        }
        until_stats(&server, "noticing the outage", |s| !s.connected).await;
        for n in BEFORE..BEFORE + DURING {
            emit(&server, n).await; // returns at once: the Thing never waits for the broker
        }
        let during = server.mqtt_stats().expect("stats");
        assert!(during.dropped >= (DURING as usize - QUEUE - 1) as u64, "{kind:?}: the full queue dropped: {during:?}");
        match kind {
            Kind::Mosquitto => broker.restart().await,
            Kind::Embedded => proxy.resume().await,
        }
        until_stats(&server, "reconnecting and emptying the queue", |s| {
            s.connected && s.connections >= 2 && s.pending == 0
        })
        .await;
        if kind == Kind::Mosquitto {
            sub.wait_subscribed(2).await;
        }
        for n in BEFORE + DURING..BEFORE + DURING + AFTER {
            emit(&server, n).await;
            if n % 10 == 9 {
                until_stats(&server, "publishing a step", |s| s.pending == 0).await;
            }
        }
        until_stats(&server, "publishing the last events", |s| s.pending == 0).await;
        let after: BTreeSet<i64> = (BEFORE + DURING..BEFORE + DURING + AFTER).collect();
        for _ in 0..1000 {
            collect(&mut sub, &mut received);
            if after.is_subset(&received) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        collect(&mut sub, &mut received);
        let s = server.mqtt_stats().expect("stats");
        eprintln!("{kind:?}: {s:?}, received {}", received.len());
        let emitted = (BEFORE + DURING + AFTER) as u64;
        assert_eq!(s.queued, emitted, "{kind:?}: every event reached the binding");
        assert_eq!(s.published + s.lost + s.dropped, emitted, "{kind:?}: published + lost + dropped = emitted: {s:?}");
        assert!(after.is_subset(&received), "{kind:?}: every event after the outage arrived");
        assert!(received.len() as u64 <= s.published, "{kind:?}: nothing arrived that was not published");
        assert!(received.iter().all(|n| (0..emitted as i64).contains(n)));
        if kind == Kind::Embedded {
            // The subscriber stayed connected: the events queued during the outage (the newest) arrived too.
            let kept: BTreeSet<i64> = (BEFORE + DURING - QUEUE as i64..BEFORE + DURING).collect();
            assert!(kept.is_subset(&received), "{kind:?}: the queued events were published after the outage");
        }
        server.shutdown().await;
    }
}

/// The simulated lab publishing to `broker` (MQTT only).
async fn lab_on(url: &str, version: MqttVersion) -> Server {
    let builder = Server::builder(thingwire_examples::SERVER_ID)
        .mqtt(url)
        .mqtt_options(MqttOptions { version, ..MqttOptions::default() });
    thingwire_examples::start_lab(builder).await.unwrap_or_else(|e| panic!("the lab starts with MQTT at {url}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hololinked_mqtt_client_receives_the_labs_events_and_property_changes() {
    for kind in broker::kinds("mqtt::hololinked_mqtt_client") {
        let broker = Broker::start(kind, &[]).await;
        let lab = lab_on(&broker.url(), MqttVersion::V5).await;
        let python = tokio::task::spawn_blocking(crate::common::python::python).await.expect("venv");
        let port = broker.port.to_string();
        let output = tokio::process::Command::new(python)
            .arg(crate::common::python::script("hololinked_mqtt_client_check.py"))
            .args(["--port", &port, "--thing", thingwire_examples::THERMOSTAT, "--event", "reading"])
            .args(["--property", "temperature", "--overall-timeout", "60"])
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(90), output)
            .await
            .expect("the hololinked MQTT check finishes within 90 s")
            .expect("run the hololinked MQTT check");
        let lines =
            crate::common::node::assert_check_passed(&format!("hololinked's MQTT client via {kind:?}"), &output);
        assert_eq!(lines.iter().filter(|l| l.starts_with("ok ")).count(), 3, "every step ran: {lines:#?}");
        lab.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_wot_subscribes_an_event_and_observes_a_property_from_the_labs_mqtt_td() {
    for kind in broker::kinds("mqtt::node_wot") {
        let broker = Broker::start(kind, &[]).await;
        // node-wot's MQTT client speaks MQTT 3.1.1; rumqttd takes each version on its own port (Mosquitto on one),
        // and the TD's forms point where the lab connected.
        let lab = match kind {
            Kind::Embedded => lab_on(&format!("mqtt://127.0.0.1:{}", broker.port_v311), MqttVersion::V311).await,
            Kind::Mosquitto => lab_on(&broker.url(), MqttVersion::V5).await,
        };
        let mut sub = Subscriber::connect(broker.port, "wot-td", &["thermostat/thing-description"]).await;
        let td = sub.next_on("thermostat/thing-description").await.json();
        let file = crate::common::scratch_dir("node-wot-mqtt").join("thermostat.json");
        std::fs::write(&file, td.to_string()).expect("write the TD");
        let dir = tokio::task::spawn_blocking(crate::common::node::node_wot).await.expect("node-wot install");
        let output = tokio::process::Command::new(crate::common::node::node_program())
            .arg(crate::common::node::script("wot_mqtt_subscribe.mjs"))
            .arg("--td-file")
            .arg(&file)
            .args(["--event", "reading", "--property", "temperature", "--timeout", "60"])
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(90), output)
            .await
            .expect("node-wot's MQTT check finishes within 90 s")
            .expect("run node");
        let lines = crate::common::node::assert_check_passed(&format!("node-wot's MQTT client via {kind:?}"), &output);
        assert_eq!(lines.iter().filter(|l| l.starts_with("ok ")).count(), 4, "every step ran: {lines:#?}");
        lab.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtts_checks_the_brokers_certificate_against_the_given_ca() {
    use thingwire::binding::mqtt::MqttTls;
    if broker::mosquitto_binary().is_none() {
        broker::skipped(
            "mqtt::mqtts was SKIPPED: it needs Mosquitto (rumqttd is built without TLS here): \
             apt-get install -y mosquitto",
        );
        return;
    }
    let dir = crate::common::scratch_dir("mqtts");
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).expect("cert");
    std::fs::write(dir.join("cert.pem"), generated.cert.pem()).expect("write");
    std::fs::write(dir.join("key.pem"), generated.signing_key.serialize_pem()).expect("write");
    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).expect("cert");
    std::fs::write(dir.join("other.pem"), other.cert.pem()).expect("write");
    let (broker, tls_port) = Broker::mosquitto_with_tls(&dir.join("cert.pem"), &dir.join("key.pem")).await;
    let url = format!("mqtts://127.0.0.1:{tls_port}");
    let with_ca = |ca: &str| MqttOptions {
        tls: Some(MqttTls { ca: Some(dir.join(ca)), client_auth: None }),
        ..MqttOptions::default()
    };

    // Another CA: the broker's certificate does not chain to it.
    let refused =
        Server::builder("mqtts-bad").thing(Sensor::new("sensor")).mqtt(&url).mqtt_options(with_ca("other.pem"));
    match refused.start().await {
        Err(e @ ServerError::Broker { .. }) => assert!(e.to_string().contains("TLS handshake"), "{e}"),
        Err(other) => panic!("expected ServerError::Broker, got {other}"),
        Ok(_) => panic!("a broker certificate from an unknown CA was accepted"),
    }
    // A CA file that is not there.
    let missing =
        Server::builder("mqtts-none").thing(Sensor::new("sensor")).mqtt(&url).mqtt_options(with_ca("nope.pem"));
    let e = missing.start().await.expect_err("refused");
    assert!(e.to_string().contains("CA file"), "{e}");

    let server = sensor_server("mqtts", &url, with_ca("cert.pem")).await;
    let mut sub = Subscriber::connect(broker.port, "mqtts-sub", &["sensor/#"]).await;
    let td = sub.next_on("sensor/thing-description").await.json();
    let href = td["events"]["tick"]["forms"][0]["href"].as_str().unwrap_or_default().to_owned();
    assert_eq!(href, format!("{url}/sensor/tick"), "the forms say mqtts://");
    emit(&server, 5).await;
    assert_eq!(sub.next_on("sensor/tick").await.json(), json!({"value": 5}), "published over TLS");
    server.shutdown().await;
}
