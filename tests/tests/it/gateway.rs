//! A gateway (`ServerBuilder::backend`, what `thingwire gateway` runs) in front of a thingwire server and a
//! real hololinked 0.4.2 Python server: every outside client drives the Things of both through it — the Rust
//! client, hololinked's own ZeroMQ client, plain HTTP and node-wot — with the remotes' errors, timeouts and
//! events passed through; a backend killed and restarted mid-run; an id served by two backends; the gateway's
//! authentication in front of backends that have none.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use thingwire::remote::Backend;
use thingwire::{CallOptions, Client, ClientError, Protocol, Server, ServerError};

use crate::common::{Sensor, node};
use crate::http_clients::{Flavour, INTEROP_PLAN_STEPS, interop_plan, ok_steps};
use crate::python_server::{PythonServer, free_port_pair, start_hololinked};

async fn thingwire_backend(server_id: &str, thing_id: &str, tcp: &str) -> Server {
    Server::builder(server_id).thing(Sensor::new(thing_id)).tcp(tcp).start().await.expect("backend starts")
}

async fn hololinked_backend(server_id: &'static str, thing_id: &'static str, port: u16) -> PythonServer {
    tokio::task::spawn_blocking(move || start_hololinked(server_id, thing_id, port)).await.expect("start")
}

/// A gateway serving the Things of `backends` over TCP and HTTP on free loopback ports.
async fn gateway(id: &str, backends: Vec<Backend>) -> Result<Server, ServerError> {
    let mut builder = Server::builder(id).tcp("127.0.0.1:0").http("127.0.0.1:0");
    for backend in backends {
        builder = builder.backend(backend);
    }
    builder.start().await
}

fn remote_kind(e: &ClientError) -> &str {
    match e {
        ClientError::Remote(r) => &r.kind,
        other => panic!("expected an error raised by the server, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_drives_thingwire_and_hololinked_things_through_the_gateway() {
    let tw = thingwire_backend("tw-backend", "tw-interop", "127.0.0.1:0").await;
    let tw_address = tw.address(Protocol::Tcp).expect("tcp").to_owned();
    let py = hololinked_backend("py-backend", "py-interop", free_port_pair()).await;
    let gw = gateway("gw", vec![Backend::new(&tw_address), Backend::new(&py.address).things(["py-interop"])])
        .await
        .expect("the gateway starts");
    let gw_tcp = gw.address(Protocol::Tcp).expect("tcp").to_owned();
    let gw_http = gw.http_base_url().expect("http").to_owned();
    let client = Client::connect(&gw_tcp).await.expect("connect to the gateway");

    // Every Thing, with the backend it lives on.
    let things = client.list_things().await.expect("list");
    let listed: Vec<(&str, Option<&str>)> = things.iter().map(|t| (t.id.as_str(), t.backend.as_deref())).collect();
    assert_eq!(listed, [("py-interop", Some(py.address.as_str())), ("tw-interop", Some(tw_address.as_str()))]);

    for thing in ["tw-interop", "py-interop"] {
        // Values both ways, in both content types.
        let json = CallOptions { content_type: thingwire::protocol::ContentType::Json, ..Default::default() };
        client.write_property(thing, "gain", &2.5).await.expect("write");
        assert_eq!(client.read_property::<f64>(thing, "gain").await.expect("read"), 2.5, "{thing}");
        assert_eq!(client.read_property_with::<String>(thing, "serial", &json).await.expect("read"), "SN-001");
        let sum: f64 = client.invoke(thing, "add", &json!({"a": 1, "b": 2})).await.expect("add");
        assert_eq!(sum, 3.0);
        // The remote's own error, its type unchanged.
        let e = client.write_property(thing, "gain", &1000.0).await.expect_err("out of bounds");
        assert_eq!(remote_kind(&e), "ValueError", "{thing}: {e}");
        let e = client.invoke::<Value, _>(thing, "fail", &json!({"message": "boom"})).await.expect_err("fails");
        assert_eq!(remote_kind(&e), "ValueError", "{thing}: {e}");
        assert!(e.to_string().contains("boom"), "{e}");
        // The remote's timeout, as a timeout.
        let quick = CallOptions { execution_timeout: Some(Duration::from_millis(200)), ..Default::default() };
        let e = client.invoke_with::<Value, _>(thing, "sleep", &json!({"seconds": 2}), &quick).await.expect_err("late");
        assert!(matches!(e, ClientError::ServerTimeout { .. }), "{thing}: {e:?}");
        // Events, re-published by the gateway.
        let mut ticks = client.subscribe::<Value>(thing, "tick").await.expect("subscribe");
        tokio::time::sleep(Duration::from_millis(500)).await;
        client.invoke::<Value, _>(thing, "emit", &json!({"value": 7})).await.expect("emit");
        let tick = tokio::time::timeout(Duration::from_secs(5), ticks.next()).await.expect("a tick within 5 s");
        assert_eq!(tick.expect("stream").expect("event").data, json!({"value": 7}), "{thing}");
        client.write_property(thing, "gain", &1.0).await.expect("reset");

        // The TD is the remote's, as served by the gateway: its id and forms.
        let td = client.thing_description(thing).await.expect("td");
        assert_eq!(td["id"], format!("urn:thingwire:gw:{thing}"));
        let href = td["properties"]["gain"]["forms"][0]["href"].as_str().expect("href");
        assert_eq!(href, gw_tcp, "{thing}: {td:#}");
        assert_eq!(td["properties"]["gain"]["maximum"], 100.0, "the remote's schema: {td:#}");
        let schema = crate::td::validator("td-json-schema-validation.json");
        crate::td::assert_valid(&schema, &td, &format!("the gateway's TD of {thing}"));

        // Plain HTTP, through the gateway's HTTP binding.
        let http = reqwest::Client::new();
        let serial = http.get(format!("{gw_http}/{thing}/serial")).send().await.expect("GET");
        assert_eq!(serial.status(), 200);
        assert_eq!(serial.json::<Value>().await.expect("json"), "SN-001");
        let refused = http.put(format!("{gw_http}/{thing}/gain")).json(&1000).send().await.expect("PUT");
        assert_eq!(refused.status(), 400, "{thing}");
        let body: Value = refused.json().await.expect("json");
        assert_eq!(body["exception"]["type"], "ValueError");
    }

    // hololinked's own ZeroMQ client, through the gateway.
    for thing in ["tw-interop", "py-interop"] {
        crate::interop::run_check_on("gw", thing, &gw_tcp).await;
    }
    // node-wot over the gateway's HTTP binding, strictly: a valid TD, refusals with status codes.
    for thing in ["tw-interop", "py-interop"] {
        let plan = interop_plan(&format!("{gw_http}/{thing}/resources/wot-td"), Flavour::Thingwire);
        let lines = node::run_wot_check(&plan, &format!("{thing} through the gateway")).await;
        assert_eq!(ok_steps(&lines), INTEROP_PLAN_STEPS, "{lines:#?}");
    }
    gw.shutdown().await;
    tw.shutdown().await;
    drop(py);
}

/// Reads `thing`'s serial through the gateway until it answers (bounded).
async fn until_back(client: &Client, thing: &str) {
    for _ in 0..100 {
        if client.read_property::<String>(thing, "serial").await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("`{thing}` did not come back through the gateway within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_goes_away_is_unreachable_and_comes_back_by_itself() {
    let tw_port = free_port_pair();
    let tw_tcp = format!("127.0.0.1:{tw_port}");
    let tw = thingwire_backend("tw-restart", "tw-thing", &tw_tcp).await;
    let py_port = free_port_pair();
    let py = hololinked_backend("py-restart", "py-thing", py_port).await;
    let gw = gateway(
        "gw-restart",
        vec![Backend::new(format!("tcp://{tw_tcp}")), Backend::new(&py.address).things(["py-thing"])],
    )
    .await
    .expect("the gateway starts");
    let client = Client::connect(gw.address(Protocol::Tcp).expect("tcp")).await.expect("connect");
    let http = reqwest::Client::new();
    let gw_http = gw.http_base_url().expect("http").to_owned();
    until_back(&client, "tw-thing").await;

    // Both backends go away.
    tw.shutdown().await;
    drop(py);
    for thing in ["tw-thing", "py-thing"] {
        let mut unreachable = None;
        for _ in 0..100 {
            match client.read_property::<String>(thing, "serial").await {
                Err(e) => {
                    unreachable = Some(e);
                    break;
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let e = unreachable.expect("the Thing stops answering once its backend is gone");
        assert_eq!(remote_kind(&e), "ConnectionError", "{e}");
        assert!(e.to_string().contains("unreachable"), "{e}");
        let answer = http.get(format!("{gw_http}/{thing}/serial")).send().await.expect("GET");
        assert_eq!(answer.status(), 503, "{thing}");
        let body: Value = answer.json().await.expect("json");
        assert!(body["exception"]["message"].as_str().expect("message").contains("unreachable"), "{body}");
    }
    // The other Things of the gateway, and the gateway itself, go on.
    assert_eq!(client.list_things().await.expect("list").len(), 2);

    // They come back on the same addresses, and the gateway finds them by itself.
    let tw = thingwire_backend("tw-restart", "tw-thing", &tw_tcp).await;
    let py = hololinked_backend("py-restart", "py-thing", py_port).await;
    until_back(&client, "tw-thing").await;
    until_back(&client, "py-thing").await;
    assert_eq!(client.read_property::<f64>("py-thing", "gain").await.expect("read"), 1.0);
    // Events flow again too.
    let mut ticks = client.subscribe::<Value>("tw-thing", "tick").await.expect("subscribe");
    let mut received = None;
    for value in 0..20 {
        client.invoke::<Value, _>("tw-thing", "emit", &json!({"value": value})).await.expect("emit");
        if let Ok(Some(Ok(event))) = tokio::time::timeout(Duration::from_millis(300), ticks.next()).await {
            received = Some(event.data);
            break;
        }
    }
    assert!(received.is_some(), "no event relayed after the backend restarted");
    gw.shutdown().await;
    tw.shutdown().await;
    drop(py);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_served_by_two_backends_is_refused_naming_both() {
    let a = thingwire_backend("clash-a", "twin", "127.0.0.1:0").await;
    let b = thingwire_backend("clash-b", "twin", "127.0.0.1:0").await;
    let (a_address, b_address) =
        (a.address(Protocol::Tcp).expect("tcp").to_owned(), b.address(Protocol::Tcp).expect("tcp").to_owned());
    let e = gateway("gw-clash", vec![Backend::new(&a_address), Backend::new(&b_address)]).await.expect_err("clash");
    let message = e.to_string();
    assert!(matches!(e, ServerError::ThingIdClash { .. }), "{e:?}");
    assert!(message.contains("`twin`") && message.contains(&a_address) && message.contains(&b_address), "{message}");
    // A local Thing of the same id clashes too.
    let e = Server::builder("gw-clash-local")
        .thing(Sensor::new("twin"))
        .backend(Backend::new(&a_address))
        .tcp("127.0.0.1:0")
        .start()
        .await
        .expect_err("clash with a local Thing");
    assert!(e.to_string().contains("this server") && e.to_string().contains(&a_address), "{e}");
    // Taking only some Things of a backend resolves it.
    let gw = Server::builder("gw-some")
        .thing(Sensor::new("twin"))
        .backend(Backend::new(&a_address).things(Vec::<String>::new()))
        .tcp("127.0.0.1:0")
        .start()
        .await
        .expect("no clash");
    gw.shutdown().await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_that_cannot_be_used_are_refused_with_what_to_do() {
    // Nobody there.
    let port = free_port_pair();
    let nobody = Backend::new(format!("tcp://127.0.0.1:{port}")).wait(Duration::from_millis(300));
    let e = gateway("gw-nobody", vec![nobody.clone()]).await.expect_err("nobody there");
    assert!(matches!(e, ServerError::Backend { .. }) && e.to_string().contains("could not connect"), "{e}");
    // …unless it is optional: the gateway starts without it.
    let gw = gateway("gw-optional", vec![nobody.optional()]).await.expect("starts without it");
    assert!(gw.thing_ids().is_empty());
    gw.shutdown().await;
    // A hololinked server does not list its Things: the message says to name them.
    let py = hololinked_backend("py-unlisted", "py-x", free_port_pair()).await;
    let e = gateway("gw-unlisted", vec![Backend::new(&py.address)]).await.expect_err("unlisted");
    assert!(e.to_string().contains("Backend::things"), "{e}");
    // A Thing it does not have.
    let e = gateway("gw-missing", vec![Backend::new(&py.address).things(["nope"])]).await.expect_err("missing");
    assert!(e.to_string().contains("`nope`"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_authenticates_in_front_of_backends_that_do_not() {
    let tw = thingwire_backend("auth-backend", "guarded", "127.0.0.1:0").await;
    let hash = thingwire::binding::http::HttpAuth::hash_password("s3cret");
    let auth = thingwire::binding::http::HttpAuth::new().user("alice", &hash).expect("hash");
    let options = thingwire::binding::http::HttpOptions { auth: Some(auth), ..Default::default() };
    let gw = Server::builder("gw-auth")
        .backend(Backend::new(tw.address(Protocol::Tcp).expect("tcp")))
        .http("127.0.0.1:0")
        .http_options(options)
        .start()
        .await
        .expect("starts");
    let url = format!("{}/guarded/serial", gw.http_base_url().expect("http"));
    let http = reqwest::Client::new();
    assert_eq!(http.get(&url).send().await.expect("GET").status(), 401);
    assert_eq!(http.get(&url).basic_auth("alice", Some("wrong")).send().await.expect("GET").status(), 401);
    let ok = http.get(&url).basic_auth("alice", Some("s3cret")).send().await.expect("GET");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.json::<Value>().await.expect("json"), "SN-001");
    gw.shutdown().await;

    // ZeroMQ PLAIN on the gateway's TCP side; and a backend that requires credentials of its own.
    let guarded = Server::builder("auth-backend-plain")
        .thing(Sensor::new("locked"))
        .tcp("127.0.0.1:0")
        .authentication(thingwire::Auth::plain([("gateway", "backend-secret")]))
        .start()
        .await
        .expect("starts");
    let locked = guarded.address(Protocol::Tcp).expect("tcp").to_owned();
    let e =
        gateway("gw-no-creds", vec![Backend::new(&locked).wait(Duration::from_secs(2))]).await.expect_err("refused");
    assert!(e.to_string().contains(&locked), "{e}");
    let gw = Server::builder("gw-plain")
        .backend(Backend::new(tw.address(Protocol::Tcp).expect("tcp")))
        .backend(Backend::new(&locked).credentials(thingwire::Credentials::plain("gateway", "backend-secret")))
        .tcp("127.0.0.1:0")
        .authentication(thingwire::Auth::plain([("alice", "s3cret")]))
        .start()
        .await
        .expect("starts");
    let front = gw.address(Protocol::Tcp).expect("tcp").to_owned();
    let options = |credentials| thingwire::ConnectOptions {
        credentials,
        handshake_timeout: Duration::from_secs(3),
        ..Default::default()
    };
    let refused = Client::connect_with(&front, options(thingwire::Credentials::plain("alice", "wrong"))).await;
    assert!(matches!(refused, Err(ClientError::Unauthorized { .. })), "{refused:?}");
    let alice = Client::connect_with(&front, options(thingwire::Credentials::plain("alice", "s3cret")))
        .await
        .expect("alice gets in");
    for thing in ["guarded", "locked"] {
        assert_eq!(alice.read_property::<String>(thing, "serial").await.expect("read"), "SN-001", "{thing}");
    }
    gw.shutdown().await;
    guarded.shutdown().await;
    tw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_publishes_its_backends_events_and_changes_to_mqtt() {
    use crate::common::broker::{self, Broker, Subscriber};
    for kind in broker::kinds("gateway::mqtt") {
        let broker = Broker::start(kind, &[]).await;
        let tw = thingwire_backend("mq-tw", "tw-mq", "127.0.0.1:0").await;
        let py = hololinked_backend("mq-py", "py-mq", free_port_pair()).await;
        let gw = Server::builder("gw-mqtt")
            .backend(Backend::new(tw.address(Protocol::Tcp).expect("tcp")))
            .backend(Backend::new(&py.address).things(["py-mq"]))
            .tcp("127.0.0.1:0")
            .mqtt(broker.url())
            .start()
            .await
            .expect("the gateway starts");
        let client = Client::connect(gw.address(Protocol::Tcp).expect("tcp")).await.expect("connect");
        for thing in ["tw-mq", "py-mq"] {
            let topics = [format!("{thing}/#")];
            let mut sub = Subscriber::connect(broker.port, &format!("gw-sub-{thing}"), &[topics[0].as_str()]).await;
            let td = sub.next_on(&format!("{thing}/thing-description")).await.json();
            crate::td::assert_valid(&crate::td::validator("td-json-schema-validation.json"), &td, "the MQTT TD");
            assert_eq!(td["id"], format!("urn:thingwire:gw-mqtt:{thing}"), "{kind:?}");
            client.invoke::<Value, _>(thing, "emit", &json!({"value": 5})).await.expect("emit");
            assert_eq!(sub.next_on(&format!("{thing}/tick")).await.json(), json!({"value": 5}), "{kind:?} {thing}");
            client.write_property(thing, "gain", &4.0).await.expect("write");
            let mut seen = Vec::new();
            for _ in 0..5 {
                let change = sub.next_on(&format!("{thing}/gain")).await.json();
                seen.push(change.clone());
                if change == json!(4.0) {
                    break;
                }
            }
            assert_eq!(seen.last(), Some(&json!(4.0)), "{kind:?} {thing}: the change, relayed: {seen:?}");
        }
        gw.shutdown().await;
        tw.shutdown().await;
        drop(py);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateways_directory_lists_its_configured_and_its_registered_things() {
    let tw = thingwire_backend("dir-backend", "configured", "127.0.0.1:0").await;
    let mut options = thingwire::binding::http::HttpOptions::default();
    options.directory.accept_registrations = true;
    let gw = Server::builder("gw-dir")
        .backend(Backend::new(tw.address(Protocol::Tcp).expect("tcp")))
        .http("127.0.0.1:0")
        .http_options(options)
        .start()
        .await
        .expect("starts");
    let base = gw.http_base_url().expect("http").to_owned();
    // Another server registers its Thing in the gateway's directory.
    let other = Server::builder("dir-other")
        .thing(Sensor::new("registered"))
        .http("127.0.0.1:0")
        .register_with(&base)
        .start()
        .await
        .expect("starts");
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    for _ in 0..100 {
        let listed: Vec<Value> =
            http.get(format!("{base}/things")).send().await.expect("GET").json().await.expect("json");
        ids = listed.iter().filter_map(|td| td["id"].as_str().map(str::to_owned)).collect();
        if ids.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ids, ["urn:thingwire:dir-other:registered", "urn:thingwire:gw-dir:configured"], "both listed");
    // The configured one's entry is the gateway's TD: forms on the gateway.
    let entry: Value = http
        .get(format!("{base}/things/urn:thingwire:gw-dir:configured"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    let href = entry["properties"]["serial"]["forms"][0]["href"].as_str().expect("href");
    assert!(href.starts_with(&base), "{href}");
    other.shutdown().await;
    gw.shutdown().await;
    tw.shutdown().await;
}
