//! Registration in an independent Thing Description Directory: a thingwire server's TDs, as it serves them
//! over HTTP, registered in Eclipse Thingweb's domus-tdd-api through the W3C WoT Discovery TDD HTTP API
//! (`PUT /things/{id}`, `application/td+json`), then listed and read back from it (`GET /things`,
//! `GET /things/{id}`) and deleted (`DELETE /things/{id}`). domus stores TDs as RDF in a SPARQL store and
//! frames them back into JSON-LD, so what it returns is the TD's meaning, not its text: see [`canonical`].
//!
//! A limit of domus 1.0.2 these TDs stay under: it hands each TD to `node` as one command-line argument (as
//! JSON-LD, with its TD 1.1 context inlined, when storing; as N-Triples when reading back), and Linux caps one
//! argument at 128 KiB. A TD of more than about 21 KB of JSON (some 27 properties with six forms each) is
//! stored but then answers `GET /things/{id}` with 500, and one of more than about 100 KB (76 KB with the second
//! context copy `serve_domus.py` inlines) is refused with 500.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use thingwire::Server;
use thingwire_examples::Thermostat;

use crate::common::Sensor;
use crate::common::tdd::Directory;

/// The TTL the TDs are registered with, in seconds.
const TTL: u64 = 600;

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client")
}

/// Registers `td` in the directory at `directory_url` as the WoT Discovery TDD HTTP API says: `PUT
/// /things/{id}` (the id percent-encoded as one path segment) with `Content-Type: application/td+json`, the
/// TTL in the TD's registration information (`registration.ttl`, a term of the Discovery context, which is
/// added to `@context` for it). Returns the status: 201 when created, 204 when it replaced a registration.
///
/// What `ServerBuilder::register_with` sends; used here for a renewal, which the server itself makes only
/// after half the TTL.
async fn register(directory_url: &str, td: &Value) -> StatusCode {
    let mut body = td.clone();
    let context = body["@context"].as_array_mut().expect("thingwire's @context is an array");
    let discovery = json!("https://www.w3.org/2022/wot/discovery");
    if !context.contains(&discovery) {
        context.push(discovery);
    }
    body["registration"] = json!({ "ttl": TTL });
    let id = td["id"].as_str().expect("a TD id");
    let response = client()
        .put(format!("{directory_url}/things/{}", crate::common::path_segment(id)))
        .header("Content-Type", "application/td+json")
        .body(body.to_string())
        .send()
        .await
        .expect("PUT the TD");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "the directory refused {id}: {status}: {text}");
    status
}

/// A TD as JSON-LD means it, for comparing a TD with what a directory that stores RDF gives back:
///
/// * arrays are sorted: RDF keeps no order (thingwire's forms come back shuffled), except in `@list`s, which
///   the TD context uses for none of the terms these TDs carry;
/// * a one-element array is its element: JSON-LD compaction writes `"security": "nosec_sc"` for
///   `["nosec_sc"]`;
/// * numbers are compared as numbers: `1.0` comes back as `1`.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Array(items) if items.len() == 1 => canonical(&items[0]),
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(canonical).collect();
            items.sort_by_key(Value::to_string);
            Value::Array(items)
        }
        // Keys sorted too, so that sorting arrays by their text does not depend on the order of keys.
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> = map.iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Number(n) => json!(n.as_f64().expect("a finite number")),
        other => other.clone(),
    }
}

/// Asserts that `back` (from the directory) keeps `sent`'s id, title, description, security, properties,
/// actions and events, forms included, as [`canonical`] compares them; says which differ.
#[track_caller]
fn assert_same_td(sent: &Value, back: &Value) {
    let id = sent["id"].as_str().unwrap_or_default();
    assert_eq!(back["id"], sent["id"], "the id of {id}");
    assert_eq!(back["title"], sent["title"], "the title of {id}");
    // domus adds the Discovery context (for `registration`); the TD's own entries, thingwire's `tw` prefix
    // among them, stay.
    let contexts = back["@context"].as_array().expect("an @context array");
    for entry in sent["@context"].as_array().expect("an @context array") {
        assert!(contexts.contains(entry), "{id}: {entry} kept in {contexts:?}");
    }
    for key in ["description", "securityDefinitions", "security", "forms"] {
        assert_eq!(canonical(&back[key]), canonical(&sent[key]), "`{key}` of {id}");
    }
    for affordances in ["properties", "actions", "events"] {
        // Names as a set: a JSON object's keys have no order, and domus's come back in another one.
        let names = |td: &Value| -> BTreeSet<String> {
            td[affordances].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
        };
        assert_eq!(names(back), names(sent), "the {affordances} of {id}");
        for name in names(sent) {
            let (sent, back) = (&sent[affordances][&name], &back[affordances][&name]);
            assert!(!sent["forms"].as_array().is_none_or(Vec::is_empty), "{id}: {affordances}/{name} has forms");
            assert_eq!(canonical(back), canonical(sent), "{id}: {affordances}/{name}, forms included");
        }
    }
}

/// Asserts that the directory's registration information for `id` has the TTL given and expires that long
/// after it was (last) registered.
#[track_caller]
fn assert_registered_for_ttl(id: &str, registration: &Value) {
    // `ttl` is typed `xsd:unsignedInt` in the Discovery context, but Oxigraph stores every integer type as
    // `xsd:integer`; compacting that literal back, jsonld.js cannot use the typed term and writes the
    // compact IRI `discovery:ttl` instead.
    let ttl = registration.get("ttl").or_else(|| registration.get("discovery:ttl"));
    assert_eq!(ttl.and_then(Value::as_u64), Some(TTL), "{id}: the TTL in {registration}");
    let time = |key: &str| {
        let text = registration[key].as_str().unwrap_or_else(|| panic!("{id}: no `{key}` in {registration}"));
        chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{id}: `{key}` {text:?}: {e}"))
    };
    let lasts = time("expires") - time("modified");
    assert_eq!(lasts.num_seconds(), i64::try_from(TTL).expect("small"), "{id}: expires TTL after {registration}");
}

/// The TDs a directory lists at `GET /things` (a JSON array of TDs), by id.
async fn listed(directory: &Directory) -> BTreeMap<String, Value> {
    let response = client().get(format!("{}/things", directory.url())).send().await.expect("GET /things");
    assert_eq!(response.status(), StatusCode::OK, "GET /things");
    let text = response.text().await.expect("body");
    let tds: Vec<Value> = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("GET /things is not a JSON array of TDs ({e}): {text}\n{}", directory.domus_log()));
    tds.into_iter().map(|td| (td["id"].as_str().expect("listed with an id").to_owned(), td)).collect()
}

/// `GET /things/{id}`: the status and the TD (`Value::Null` when the body is not JSON).
async fn read_back(directory: &Directory, id: &str) -> (StatusCode, Value) {
    let response = client()
        .get(format!("{}/things/{}", directory.url(), crate::common::path_segment(id)))
        .header("Accept", "application/td+json")
        .send()
        .await
        .expect("GET /things/{id}");
    let status = response.status();
    (status, serde_json::from_slice(&response.bytes().await.expect("body")).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tds_register_in_domus_tdd_api_and_are_listed_and_read_back_there() {
    let Some(directory) =
        Directory::start("tdd_interop::tds_register_in_domus_tdd_api_and_are_listed_and_read_back_there").await
    else {
        return;
    };
    // A Thing written by hand and one written with the macros (with units and persisted properties). The
    // colon in the server id is percent-encoded in the TD ids (`urn:thingwire:tdd%3Ainterop:sensor`), and
    // that `%` again in the request path, which the directory must decode exactly once.
    let server = Server::builder("tdd:interop")
        .thing(Sensor::new("sensor"))
        .thing(Thermostat::new("thermostat"))
        .http("127.0.0.1:0")
        .inproc()
        .register_with(directory.url())
        .registration_ttl(Duration::from_secs(TTL))
        .start()
        .await
        .expect("server");
    let base = server.http_base_url().expect("http").to_owned();
    let mut tds = Vec::new();
    for thing in ["sensor", "thermostat"] {
        let response = client().get(format!("{base}/{thing}/resources/wot-td")).send().await.expect("GET the TD");
        assert_eq!(response.status(), StatusCode::OK, "the TD of {thing}");
        tds.push(response.json::<Value>().await.expect("a JSON TD"));
    }

    // The server registers its Things itself (`register_with`), in the background: wait (bounded) for both.
    // While domus is still storing one (it converts each TD to RDF in a `node` process), its listing can answer
    // 500: that is waited out too; the checks below then insist on a clean listing.
    let mut registered = 0;
    for _ in 0..200 {
        let response = client().get(format!("{}/things", directory.url())).send().await.expect("GET /things");
        if response.status() == StatusCode::OK {
            let tds: Vec<Value> = response.json().await.unwrap_or_default();
            registered = tds.len();
            if registered == 2 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(registered, 2, "register_with put both TDs in domus; domus said:\n{}", directory.domus_log());

    // domus did check them: with its JSON Schema validation on, a TD without `security` is refused.
    let mut invalid = tds[0].clone();
    invalid.as_object_mut().expect("an object").remove("security");
    invalid["id"] = json!("urn:thingwire:tdd%3Ainterop:invalid");
    let response = client()
        .put(format!(
            "{}/things/{}",
            directory.url(),
            crate::common::path_segment("urn:thingwire:tdd%3Ainterop:invalid")
        ))
        .header("Content-Type", "application/td+json")
        .body(invalid.to_string())
        .send()
        .await
        .expect("PUT");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "a TD without `security` is refused");
    let problem = response.text().await.expect("body");
    assert!(problem.contains("'security' is a required property"), "{problem}");

    let listing = listed(&directory).await;
    let ids: Vec<&str> = tds.iter().map(|td| td["id"].as_str().expect("id")).collect();
    assert_eq!(ids, ["urn:thingwire:tdd%3Ainterop:sensor", "urn:thingwire:tdd%3Ainterop:thermostat"]);
    let listed_ids: Vec<&str> = listing.keys().map(String::as_str).collect();
    assert_eq!(listed_ids, ids, "GET /things lists both TDs; domus said:\n{}", directory.domus_log());
    for td in &tds {
        let id = td["id"].as_str().expect("id");
        assert_same_td(td, &listing[id]);
        let (status, back) = read_back(&directory, id).await;
        assert_eq!(status, StatusCode::OK, "GET /things/{id}:\n{}", directory.domus_log());
        assert_same_td(td, &back);
        assert_registered_for_ttl(id, &back["registration"]);
    }

    // Registering again replaces the registration (what a renewal does): 204, and still two TDs.
    assert_eq!(register(directory.url(), &tds[0]).await, StatusCode::NO_CONTENT);
    assert_eq!(listed(&directory).await.len(), 2, "a renewal adds no TD");

    // Deregistration: the server removes its registrations when it shuts down.
    server.shutdown().await;
    for id in &ids {
        assert_eq!(read_back(&directory, id).await.0, StatusCode::NOT_FOUND, "{id} is gone after the shutdown");
    }
    assert!(listed(&directory).await.is_empty(), "nothing is left in the directory");
}
