//! The W3C WoT Discovery Thing Description Directory on the HTTP binding (WoT Discovery 1.0 §7.3), over real
//! sockets with reqwest, following the specification's request and response examples: the listing and its
//! pagination, create/retrieve/update/merge-patch/delete, registration information and expiry, the server's
//! own Things, the directory's TD at `/.well-known/wot`, every refusal as Problem Details, and
//! `ServerBuilder::register_with` between two servers.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use thingwire::binding::http::{DirectoryOptions, HttpAuth, HttpOptions};
use thingwire::{Server, ServerBuilder, ServerError};

use crate::common::Sensor;

/// The TD id of Thing `thing` on server `server`.
fn urn(server: &str, thing: &str) -> String {
    thingwire::td::thing_urn(server, thing)
}

/// `/things/<id>`, the id percent-encoded as a client must.
fn path_of(id: &str) -> String {
    format!("/things/{}", crate::common::path_segment(id))
}

fn accepting() -> HttpOptions {
    HttpOptions {
        directory: DirectoryOptions { accept_registrations: true, ..DirectoryOptions::default() },
        ..HttpOptions::default()
    }
}

/// A server `id` serving a `Sensor` over HTTP (and ZeroMQ over INPROC), configured by `configure`.
async fn serve(id: &str, configure: impl FnOnce(ServerBuilder) -> ServerBuilder) -> (Server, String) {
    let builder = Server::builder(id).thing(Sensor::new("sensor")).http("127.0.0.1:0").inproc();
    let server = configure(builder).start().await.expect("server");
    let base = server.http_base_url().expect("http").to_owned();
    (server, base)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client")
}

/// An answer: status, content type, `Link` headers, body (JSON, or the text as a string).
struct Answer {
    status: StatusCode,
    content_type: String,
    links: Vec<String>,
    location: Option<String>,
    body: Value,
}

impl Answer {
    /// The `next` link's target.
    fn next(&self) -> Option<String> {
        self.links.iter().find(|l| l.ends_with("rel=\"next\"")).map(|l| l[1..l.find('>').unwrap_or(1)].to_owned())
    }

    /// The `canonical` link's etag.
    fn etag(&self) -> Option<String> {
        self.links
            .iter()
            .find(|l| l.contains("rel=\"canonical\""))
            .and_then(|l| l.split("etag=").nth(1))
            .map(str::to_owned)
    }

    fn problem(&self) -> &str {
        self.body["detail"].as_str().unwrap_or("")
    }
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("request");
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let content_type = header("content-type").unwrap_or_default();
    let location = header("location");
    let links = response.headers().get_all("link").iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
    let status = response.status();
    let bytes = response.bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Answer { status, content_type, links, location, body }
}

async fn get(c: &reqwest::Client, url: &str) -> Answer {
    send(c.get(url)).await
}

async fn put(c: &reqwest::Client, url: &str, td: &Value) -> Answer {
    send(c.put(url).header("Content-Type", "application/td+json").body(td.to_string())).await
}

async fn patch(c: &reqwest::Client, url: &str, doc: &Value) -> Answer {
    send(c.patch(url).header("Content-Type", "application/merge-patch+json").body(doc.to_string())).await
}

/// The specification's "Simple TD" example, under `id`.
fn simple_td(id: &str, title: &str) -> Value {
    json!({
        "@context": "https://www.w3.org/2022/wot/td/v1.1",
        "id": id,
        "title": title,
        "security": "basic_sc",
        "securityDefinitions": {"basic_sc": {"scheme": "basic"}},
    })
}

fn ids(tds: &Value) -> Vec<String> {
    tds.as_array().map(|l| l.iter().filter_map(|td| td["id"].as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_own_things_are_listed_retrieved_and_protected() {
    let (server, base) = serve("dir-own", |b| b.thing(Sensor::new("second"))).await;
    let c = client();
    let listing = get(&c, &format!("{base}/things")).await;
    assert_eq!(listing.status, StatusCode::OK);
    assert_eq!(listing.content_type, "application/ld+json");
    assert_eq!(ids(&listing.body), [urn("dir-own", "second"), urn("dir-own", "sensor")], "sorted by id");
    assert!(listing.next().is_none(), "everything fits one page: {:?}", listing.links);
    assert!(listing.etag().is_some(), "a canonical link with an etag: {:?}", listing.links);
    // As served through the HTTP binding: the HTTP forms first, the ZeroMQ ones after.
    let sensor = &listing.body[1];
    let forms = sensor["properties"]["gain"]["forms"].as_array().expect("forms");
    assert!(forms[0]["href"].as_str().is_some_and(|h| h.starts_with(&base)), "{}", forms[0]);
    assert!(forms.iter().any(|f| f["href"].as_str().is_some_and(|h| h.starts_with("inproc://"))), "{forms:?}");
    crate::td::assert_valid(&crate::td::validator("td-json-schema-validation.json"), sensor, "a listed TD");

    let one = get(&c, &format!("{base}{}", path_of(&urn("dir-own", "sensor")))).await;
    assert_eq!((one.status, one.content_type.as_str()), (StatusCode::OK, "application/td+json"));
    assert_eq!(&one.body, sensor, "the same TD listed and retrieved");
    let wot_td = get(&c, &format!("{base}/sensor/resources/wot-td")).await;
    assert_eq!(one.body, wot_td.body, "the TD the binding serves at wot-td");

    // Its own Things cannot be replaced, patched or deleted, whether registrations are accepted or not.
    let id = urn("dir-own", "sensor");
    let url = format!("{base}{}", path_of(&id));
    for answer in [
        put(&c, &url, &simple_td(&id, "impostor")).await,
        patch(&c, &url, &json!({"title": "impostor"})).await,
        send(c.delete(&url)).await,
    ] {
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
        assert!(answer.problem().contains("one of this server's own Things"), "{}", answer.body);
    }
    // Without accept_registrations (the default), other TDs are refused with 405 and what to enable.
    let other = format!("{base}{}", path_of("urn:example:other"));
    let refused = put(&c, &other, &simple_td("urn:example:other", "Other")).await;
    assert_eq!(refused.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(refused.content_type, "application/problem+json");
    assert!(refused.problem().contains("accept_registrations: true"), "{}", refused.body);
    assert_eq!(get(&c, &format!("{base}/sensor/gain")).await.body, json!(1.0), "the Thing still serves");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_are_created_replaced_patched_and_deleted() {
    let (server, base) = serve("dir-crud", |b| b.http_options(accepting())).await;
    let c = client();
    let id = "urn:example:simple-td";
    let url = format!("{base}{}", path_of(id));
    // Create: 201.
    let created = put(&c, &url, &simple_td(id, "Simple TD")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    // Retrieve: the Enriched TD, with the discovery context and the registration information.
    let td = get(&c, &url).await;
    assert_eq!((td.status, td.content_type.as_str()), (StatusCode::OK, "application/td+json"));
    assert_eq!(
        td.body["@context"],
        json!(["https://www.w3.org/2022/wot/td/v1.1", "https://www.w3.org/2022/wot/discovery"])
    );
    assert_eq!(td.body["title"], "Simple TD");
    let registration = &td.body["registration"];
    let created_at = registration["created"].as_str().expect("created").to_owned();
    assert!(chrono::DateTime::parse_from_rfc3339(&created_at).is_ok(), "{registration}");
    assert!(registration["retrieved"].is_string() && registration.get("expires").is_none(), "{registration}");
    // Replace: 204; `created` stays, `modified` moves on.
    let replaced = put(&c, &url, &simple_td(id, "Simple TD, again")).await;
    assert_eq!(replaced.status, StatusCode::NO_CONTENT, "{}", replaced.body);
    let td = get(&c, &url).await.body;
    assert_eq!(
        (td["title"].as_str(), td["registration"]["created"].as_str()),
        (Some("Simple TD, again"), Some(created_at.as_str()))
    );
    assert!(td["registration"]["modified"].as_str() >= Some(created_at.as_str()));
    // The specification's merge patch example: replace `base`, add a registration expiry; null removes.
    let expires =
        (chrono::Utc::now() + chrono::TimeDelta::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let patched = patch(
        &c,
        &url,
        &json!({"base": "http://192.168.0.2/", "registration": {"expires": expires}, "description": "x"}),
    )
    .await;
    assert_eq!(patched.status, StatusCode::NO_CONTENT, "{}", patched.body);
    let patched = patch(&c, &url, &json!({"description": null})).await;
    assert_eq!(patched.status, StatusCode::NO_CONTENT, "{}", patched.body);
    let td = get(&c, &url).await.body;
    assert_eq!(td["base"], "http://192.168.0.2/");
    assert!(td.get("description").is_none(), "null removed it: {td}");
    assert_eq!(td["registration"]["expires"], expires.as_str(), "{td}");
    // A patch whose result is not a valid TD changes nothing.
    let refused = patch(&c, &url, &json!({"title": null})).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.body["validationErrors"][0]["field"], "title", "{}", refused.body);
    assert_eq!(get(&c, &url).await.body["title"], "Simple TD, again");
    // An anonymous TD: 201 with the Location of its system-generated urn:uuid id.
    let mut anonymous = simple_td("", "Anonymous TD");
    if let Some(td) = anonymous.as_object_mut() {
        td.remove("id");
    }
    let posted = send(
        c.post(format!("{base}/things")).header("Content-Type", "application/td+json").body(anonymous.to_string()),
    )
    .await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    let location = posted.location.expect("a Location");
    assert!(location.starts_with("/things/urn:uuid:"), "{location}");
    let td = get(&c, &format!("{base}{location}")).await;
    assert_eq!(td.status, StatusCode::OK);
    assert_eq!(td.body["title"], "Anonymous TD");
    assert_eq!(format!("/things/{}", td.body["id"].as_str().unwrap_or("")), location, "the TD carries its local id");
    // Both are listed beside the server's own Thing, sorted by id.
    let listing = get(&c, &format!("{base}/things")).await.body;
    let mut expected = vec![id.to_owned(), td.body["id"].as_str().unwrap_or("").to_owned(), urn("dir-crud", "sensor")];
    expected.sort();
    assert_eq!(ids(&listing), expected);
    // Delete: 204, then 404.
    assert_eq!(send(c.delete(&url)).await.status, StatusCode::NO_CONTENT);
    let gone = get(&c, &url).await;
    assert_eq!((gone.status, gone.content_type.as_str()), (StatusCode::NOT_FOUND, "application/problem+json"));
    assert!(gone.problem().contains(id), "{}", gone.body);
    assert_eq!(send(c.delete(&url)).await.status, StatusCode::NOT_FOUND, "deleting twice");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listing_is_paginated_with_next_and_canonical_links() {
    let options = HttpOptions {
        directory: DirectoryOptions { accept_registrations: true, max_page: 3, ..DirectoryOptions::default() },
        ..HttpOptions::default()
    };
    let (server, base) = serve("dir-pages", |b| b.http_options(options)).await;
    let c = client();
    let mut all = vec![urn("dir-pages", "sensor")];
    for n in 0..6 {
        let id = format!("urn:example:td-{n}");
        assert_eq!(
            put(&c, &format!("{base}{}", path_of(&id)), &simple_td(&id, "paged")).await.status,
            StatusCode::CREATED
        );
        all.push(id);
    }
    all.sort();
    // The specification's walk-through: `limit=2`, then the `next` links until there are none.
    let first = get(&c, &format!("{base}/things?limit=2")).await;
    assert_eq!(ids(&first.body), all[..2]);
    assert_eq!(first.next().as_deref(), Some("/things?offset=2&limit=2"));
    let etag = first.etag().expect("an etag");
    let mut seen = ids(&first.body);
    let mut next = first.next();
    let mut pages = 1;
    while let Some(link) = next {
        let page = get(&c, &format!("{base}{link}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.etag().as_ref(), Some(&etag), "the collection did not change between pages");
        seen.extend(ids(&page.body));
        next = page.next();
        pages += 1;
        assert!(pages <= 10, "the pages never end");
    }
    assert_eq!((seen, pages), (all.clone(), 4), "7 TDs in pages of 2");
    // Without a limit, the server's maximum page (3 here) applies, with a next link.
    let unlimited = get(&c, &format!("{base}/things")).await;
    assert_eq!(ids(&unlimited.body), all[..3]);
    assert_eq!(unlimited.next().as_deref(), Some("/things?offset=3&limit=3"));
    assert_eq!(ids(&get(&c, &format!("{base}/things?limit=100&offset=5")).await.body), all[5..], "limit is capped");
    assert_eq!(get(&c, &format!("{base}/things?offset=50")).await.body, json!([]), "past the end: empty");
    // The collection format: total, members, @id, next.
    let collection = get(&c, &format!("{base}/things?offset=2&limit=2&format=collection")).await.body;
    assert_eq!(collection["@type"], "ThingCollection");
    assert_eq!(collection["total"], 7);
    assert_eq!(ids(&collection["members"]), all[2..4]);
    assert_eq!(collection["@id"], "/things?offset=2&limit=2&format=collection");
    assert_eq!(collection["next"], "/things?offset=4&limit=2&format=collection");
    // A registration changes the etag; HEAD answers the headers alone.
    let id = "urn:example:td-new";
    put(&c, &format!("{base}{}", path_of(id)), &simple_td(id, "new")).await;
    assert_ne!(get(&c, &format!("{base}/things?limit=2")).await.etag(), Some(etag));
    let head = c.head(format!("{base}/things?limit=2")).send().await.expect("head");
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.headers().get_all("link").iter().count() == 2, "{:?}", head.headers());
    assert!(head.bytes().await.expect("body").is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_expire_after_their_ttl_unless_renewed() {
    let (server, base) = serve("dir-ttl", |b| b.http_options(accepting())).await;
    let c = client();
    let id = "urn:example:expirable-td";
    let url = format!("{base}{}", path_of(id));
    let mut td = simple_td(id, "Expirable TD");
    td["registration"] = json!({"ttl": 2, "expires": "2000-01-01T00:00:00Z"});
    let registered_at = chrono::Utc::now();
    assert_eq!(put(&c, &url, &td).await.status, StatusCode::CREATED);
    let registration = get(&c, &url).await.body["registration"].clone();
    assert_eq!(registration["ttl"], 2.0);
    let expires =
        chrono::DateTime::parse_from_rfc3339(registration["expires"].as_str().expect("expires")).expect("a time");
    let delta = expires.signed_duration_since(registered_at).num_milliseconds();
    assert!((1900..4000).contains(&delta), "expires = modified + ttl (the client's expires ignored): {registration}");
    // Renewed by empty merge patches (as the specification suggests), it outlives its TTL.
    let renewing = Instant::now();
    while renewing.elapsed() < Duration::from_secs(4) {
        let renewed = patch(&c, &url, &json!({})).await;
        assert_eq!(renewed.status, StatusCode::NO_CONTENT, "renewed after {:?}: {}", renewing.elapsed(), renewed.body);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(ids(&get(&c, &format!("{base}/things")).await.body).contains(&id.to_owned()));
    // Left alone, it expires: neither returned nor listed (within a bounded wait).
    let waiting = Instant::now();
    loop {
        let answer = get(&c, &url).await;
        if answer.status == StatusCode::NOT_FOUND {
            assert!(answer.problem().contains("expired"), "{}", answer.body);
            break;
        }
        assert!(waiting.elapsed() < Duration::from_secs(10), "still there after 10 s: {}", answer.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!ids(&get(&c, &format!("{base}/things")).await.body).contains(&id.to_owned()), "not listed");
    assert_eq!(patch(&c, &url, &json!({})).await.status, StatusCode::NOT_FOUND, "nothing left to renew");
    server.shutdown().await;
}

/// A table row: method, path, content type, body, status, part of the problem's `detail`.
type Bad<'a> = (&'a str, &'a str, Option<&'a str>, &'a [u8], u16, &'a str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_directory_requests_get_a_status_and_a_problem_that_says_what_was_wrong() {
    let options = HttpOptions {
        directory: DirectoryOptions { accept_registrations: true, max_td_size: 4096, ..DirectoryOptions::default() },
        ..HttpOptions::default()
    };
    let (server, base) = serve("dir-bad", |b| b.http_options(options)).await;
    let c = client();
    let td = |value: Value| value.to_string().into_bytes();
    let good = td(simple_td("urn:ex:a", "A"));
    let without = |member: &str| {
        let mut value = simple_td("urn:ex:a", "A");
        if let Some(m) = value.as_object_mut() {
            m.remove(member);
        }
        td(value)
    };
    let (no_title, no_security, no_definitions, no_context) =
        (without("title"), without("security"), without("securityDefinitions"), without("@context"));
    let wrong_context = td(
        json!({"@context": "https://schema.org", "title": "A", "security": "s", "securityDefinitions": {"s": {"scheme": "nosec"}}}),
    );
    let undefined = td(
        json!({"@context": "https://www.w3.org/2022/wot/td/v1.1", "title": "A", "security": "basic_sc", "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}}}),
    );
    let mismatch = td(simple_td("urn:ex:b", "B"));
    let with_id = td(simple_td("urn:ex:c", "C"));
    let bad_ttl = td({
        let mut v = simple_td("urn:ex:a", "A");
        v["registration"] = json!({"ttl": -5});
        v
    });
    let past = td({
        let mut v = simple_td("urn:ex:a", "A");
        v["registration"] = json!({"expires": "2001-01-01T00:00:00Z"});
        v
    });
    let numeric_props = td({
        let mut v = simple_td("urn:ex:a", "A");
        v["properties"] = json!([1]);
        v
    });
    let big = td({
        let mut v = simple_td("urn:ex:a", "A");
        v["description"] = json!("x".repeat(5000));
        v
    });
    let tdj = Some("application/td+json");
    let merge = Some("application/merge-patch+json");
    let a = "/things/urn:ex:a";
    let things_a = "/things/urn%3Aex%3Aa";
    #[rustfmt::skip]
    let rows: &[Bad<'_>] = &[
        ("GET", "/things?limit=0", None, b"", 400, "1 or more"),
        ("GET", "/things?limit=ten", None, b"", 400, "`limit` must be a whole number"),
        ("GET", "/things?offset=-1", None, b"", 400, "`offset` must be a whole number"),
        ("GET", "/things?format=xml", None, b"", 400, "`array` or `collection`"),
        ("GET", "/things?sort_by=title", None, b"", 400, "always sorted by TD id"),
        ("GET", "/things?page=2", None, b"", 400, "unknown query parameter `page`"),
        ("GET", "/things?limit=1&limit=2", None, b"", 400, "given twice"),
        ("GET", "/things/urn:ex:nothing", None, b"", 404, "no TD with id `urn:ex:nothing`"),
        ("GET", "/things/%ff", None, b"", 400, "Invalid UTF-8"),
        ("DELETE", "/things", None, b"", 405, "use GET to list, POST to register"),
        ("POST", "/things/urn:ex:a", tdj, &good, 405, "use GET, PUT, PATCH or DELETE"),
        ("PUT", a, tdj, b"{", 400, "not valid JSON"),
        ("PUT", a, tdj, b"", 400, "the body is empty"),
        ("PUT", a, tdj, b"[1, 2]", 400, "an array, not an object"),
        ("PUT", a, tdj, b"\"td\"", 400, "a string, not an object"),
        ("PUT", a, tdj, &no_title, 400, "`title` is missing"),
        ("PUT", a, tdj, &no_security, 400, "`security` is missing"),
        ("PUT", a, tdj, &no_definitions, 400, "`securityDefinitions` is missing"),
        ("PUT", a, tdj, &no_context, 400, "`@context` is missing"),
        ("PUT", a, tdj, &wrong_context, 400, "names no TD context"),
        ("PUT", a, tdj, &undefined, 400, "`security` names `basic_sc`, which `securityDefinitions` does not define"),
        ("PUT", things_a, tdj, &mismatch, 400, "the TD's `id` is `urn:ex:b` but the path names `urn:ex:a`"),
        ("PUT", a, tdj, &bad_ttl, 400, "`registration.ttl` must be a number of seconds above 0"),
        ("PUT", a, tdj, &past, 400, "already past"),
        ("PUT", a, tdj, &numeric_props, 400, "`properties` must be an object"),
        ("PUT", a, Some("text/csv"), &good, 415, "send it as application/td+json"),
        ("PUT", a, tdj, &big, 413, "DirectoryOptions::max_td_size"),
        ("PUT", "/things/stage", tdj, &good, 400, "`stage` is not a URI"),
        ("PUT", "/things/", tdj, &good, 405, "use GET to list"),
        ("POST", "/things", tdj, &with_id, 400, "register it with PUT /things/urn:ex:c"),
        ("POST", "/things", tdj, &no_title, 400, "`id`"),
        ("PATCH", "/things/urn:ex:nothing", merge, b"{}", 404, "PUT the whole TD to create it"),
        ("PATCH", a, tdj, b"{}", 415, "send it as application/merge-patch+json"),
        ("DELETE", "/things/urn:ex:nothing", None, b"", 404, "no TD with id `urn:ex:nothing`"),
    ];
    let mut wrong = Vec::new();
    for &(method, path, content_type, body, status, text) in rows {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = c.request(method.clone(), format!("{base}{path}")).body(body.to_vec());
        if let Some(ct) = content_type {
            request = request.header("Content-Type", ct);
        }
        let answer = send(request).await;
        let row = format!("{method} {path} {content_type:?}: {} {}", answer.status, answer.body);
        let problem = answer.content_type == "application/problem+json"
            && answer.body["status"] == status
            && answer.body["title"].is_string();
        if answer.status.as_u16() != status || !problem || !answer.problem().contains(text) {
            wrong.push(format!("{row}, wanted {status} `{text}`"));
        }
        // None of them registered anything, and the server still serves (on a fresh connection after a 413).
        let check = if status == 413 { client() } else { c.clone() };
        assert_eq!(get(&check, &format!("{base}{a}")).await.status, StatusCode::NOT_FOUND, "after {row}");
        assert_eq!(get(&check, &format!("{base}/sensor/serial")).await.body, json!("SN-001"), "after {row}");
    }
    assert!(wrong.is_empty(), "rows answered otherwise:\n{}", wrong.join("\n"));
    // A validation failure lists every problem, field by field.
    let answer = put(&c, &format!("{base}{a}"), &json!({"@context": "https://www.w3.org/2022/wot/td/v1.1"})).await;
    let fields: Vec<&str> = answer.body["validationErrors"]
        .as_array()
        .map(|l| l.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["title", "securityDefinitions", "security"], "{}", answer.body);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_number_of_registrations_is_bounded() {
    let options = HttpOptions {
        directory: DirectoryOptions { accept_registrations: true, max_registrations: 2, ..DirectoryOptions::default() },
        ..HttpOptions::default()
    };
    let (server, base) = serve("dir-full", |b| b.http_options(options)).await;
    let c = client();
    for n in 0..2 {
        let id = format!("urn:ex:{n}");
        assert_eq!(put(&c, &format!("{base}/things/{id}"), &simple_td(&id, "t")).await.status, StatusCode::CREATED);
    }
    let full = put(&c, &format!("{base}/things/urn:ex:2"), &simple_td("urn:ex:2", "t")).await;
    assert_eq!(full.status, StatusCode::INSUFFICIENT_STORAGE);
    assert!(full.problem().contains("DirectoryOptions::max_registrations"), "{}", full.body);
    let anonymous = json!({"@context": "https://www.w3.org/2022/wot/td/v1.1", "title": "t", "security": "s", "securityDefinitions": {"s": {"scheme": "nosec"}}});
    assert_eq!(send(c.post(format!("{base}/things")).json(&anonymous)).await.status, StatusCode::INSUFFICIENT_STORAGE);
    // Replacing one is no new registration; deleting one makes room.
    assert_eq!(
        put(&c, &format!("{base}/things/urn:ex:1"), &simple_td("urn:ex:1", "u")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(send(c.delete(format!("{base}/things/urn:ex:0"))).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        put(&c, &format!("{base}/things/urn:ex:2"), &simple_td("urn:ex:2", "t")).await.status,
        StatusCode::CREATED
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_describes_itself_at_the_well_known_address() {
    let schema = crate::td::validator("td-json-schema-validation.json");
    let (server, base) = serve("dir-self", |b| b.http_options(accepting())).await;
    let c = client();
    let td = get(&c, &format!("{base}/.well-known/wot")).await;
    assert_eq!((td.status, td.content_type.as_str()), (StatusCode::OK, "application/td+json"));
    crate::td::assert_valid(&schema, &td.body, "the directory's TD");
    assert_eq!(td.body["@type"], "ThingDirectory");
    assert_eq!(td.body["base"], base.as_str());
    assert!(
        td.body["@context"].as_array().is_some_and(|c| c.contains(&json!("https://www.w3.org/2022/wot/discovery")))
    );
    assert_eq!(td.body["properties"]["things"]["forms"][0]["href"], "/things{?offset,limit,format}");
    let actions: Vec<&String> = td.body["actions"].as_object().map(|a| a.keys().collect()).unwrap_or_default();
    for action in
        ["createThing", "createAnonymousThing", "retrieveThing", "updateThing", "partiallyUpdateThing", "deleteThing"]
    {
        assert!(actions.iter().any(|a| *a == action), "{action} in {actions:?}");
    }
    assert_eq!(td.body["actions"]["partiallyUpdateThing"]["forms"][0]["contentType"], "application/merge-patch+json");
    server.shutdown().await;

    // A directory that accepts no registrations describes only reading; one that is off serves nothing.
    let (server, base) = serve("dir-read-only", |b| b).await;
    let td = get(&c, &format!("{base}/.well-known/wot")).await.body;
    crate::td::assert_valid(&schema, &td, "the read-only directory's TD");
    let actions: Vec<&String> = td["actions"].as_object().map(|a| a.keys().collect()).unwrap_or_default();
    assert_eq!(actions, ["retrieveThing"]);
    server.shutdown().await;
    let off = HttpOptions {
        directory: DirectoryOptions { enabled: false, ..DirectoryOptions::default() },
        ..HttpOptions::default()
    };
    let (server, base) = serve("dir-off", |b| b.http_options(off)).await;
    assert_eq!(get(&c, &format!("{base}/.well-known/wot")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&c, &format!("{base}/things")).await.status, StatusCode::NOT_FOUND);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binding_credentials_guard_the_directory_but_not_its_description() {
    let auth = HttpAuth::new().token("lab-key");
    let options = HttpOptions { auth: Some(auth), ..accepting() };
    let (server, base) = serve("dir-auth", |b| b.http_options(options)).await;
    let c = client();
    let url = format!("{base}/things/urn:ex:a");
    for answer in [get(&c, &format!("{base}/things")).await, put(&c, &url, &simple_td("urn:ex:a", "A")).await] {
        assert_eq!(
            (answer.status, answer.content_type.as_str()),
            (StatusCode::UNAUTHORIZED, "application/problem+json")
        );
        assert!(answer.problem().contains("/.well-known/wot"), "{}", answer.body);
    }
    let authorized = send(
        c.put(&url)
            .bearer_auth("lab-key")
            .header("Content-Type", "application/td+json")
            .body(simple_td("urn:ex:a", "A").to_string()),
    )
    .await;
    assert_eq!(authorized.status, StatusCode::CREATED);
    assert_eq!(send(c.get(format!("{base}/things")).bearer_auth("lab-key")).await.status, StatusCode::OK);
    let td = get(&c, &format!("{base}/.well-known/wot")).await;
    assert_eq!(td.status, StatusCode::OK, "the introduction stays public: it says which credentials to bring");
    assert_eq!(td.body["security"], "bearer_sc");
    assert!(td.body["securityDefinitions"]["bearer_sc"].is_object(), "{}", td.body);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn things_with_the_directorys_path_names_are_refused_at_start() {
    for id in ["things", ".well-known"] {
        let refused = Server::builder("dir-names").thing(Sensor::new(id)).http("127.0.0.1:0").start().await;
        match refused {
            Err(ServerError::InvalidId { id: refused, reason }) => {
                assert_eq!(refused, id);
                assert!(reason.contains("rename the Thing, or turn the directory off"), "{reason}");
            }
            other => panic!("`{id}` was not refused: {other:?}"),
        }
    }
    // Without the directory the name is free, and `/things/...` is the Thing's.
    let off = HttpOptions {
        directory: DirectoryOptions { enabled: false, ..DirectoryOptions::default() },
        ..HttpOptions::default()
    };
    let server = Server::builder("dir-names")
        .thing(Sensor::new("things"))
        .http("127.0.0.1:0")
        .http_options(off)
        .start()
        .await
        .expect("starts");
    let base = server.http_base_url().expect("http").to_owned();
    assert_eq!(get(&client(), &format!("{base}/things/serial")).await.body, json!("SN-001"));
    server.shutdown().await;
}

/// Waits (bounded) until `id` is or is not in `directory`'s listing; the listed TD.
async fn wait_listed(c: &reqwest::Client, directory: &str, id: &str, listed: bool) -> Option<Value> {
    let since = Instant::now();
    loop {
        let listing = get(c, &format!("{directory}/things?limit=100")).await.body;
        let found = listing.as_array().and_then(|l| l.iter().find(|td| td["id"] == id).cloned());
        if found.is_some() == listed {
            return found;
        }
        assert!(
            since.elapsed() < Duration::from_secs(15),
            "`{id}` listed: {}, wanted {listed}, after 15 s",
            found.is_some()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_with_lists_a_servers_things_renews_them_and_removes_them_at_shutdown() {
    let c = client();
    let (directory, a) = serve("dir-a", |b| b.http_options(accepting())).await;
    let (b, b_base) =
        serve("dir-b", |builder| builder.register_with(a.as_str()).registration_ttl(Duration::from_secs(2))).await;
    let id = urn("dir-b", "sensor");
    let td = wait_listed(&c, &a, &id, true).await.expect("listed");
    // B's TD as B serves it: HTTP forms first (B's address), the ZeroMQ forms after; and registered with a TTL.
    let forms = td["properties"]["gain"]["forms"].as_array().expect("forms");
    assert!(forms[0]["href"].as_str().is_some_and(|h| h.starts_with(&b_base)), "{}", forms[0]);
    assert!(forms.iter().any(|f| f["href"].as_str().is_some_and(|h| h.starts_with("inproc://"))), "{forms:?}");
    assert_eq!(td["registration"]["ttl"], 2.0);
    let first_modified = td["registration"]["modified"].clone();
    // Renewed: still there more than two TTLs later, modified since.
    let since = Instant::now();
    while since.elapsed() < Duration::from_secs(5) {
        let answer = get(&c, &format!("{a}{}", path_of(&id))).await;
        assert_eq!(answer.status, StatusCode::OK, "expired after {:?}: {}", since.elapsed(), answer.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let renewed = get(&c, &format!("{a}{}", path_of(&id))).await.body;
    assert_ne!(renewed["registration"]["modified"], first_modified, "renewed");
    assert_eq!(renewed["registration"]["created"], td["registration"]["created"], "the same registration");
    // B shuts down: its registration is deleted then and there, not left to expire.
    b.shutdown().await;
    let gone = get(&c, &format!("{a}{}", path_of(&id))).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
    directory.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_that_is_down_or_refuses_never_delays_the_start_and_is_retried() {
    let c = client();
    let port = crate::common::broker::free_port();
    let down = format!("http://127.0.0.1:{port}");
    // A directory that refuses (it accepts no registrations) and one that is not there yet.
    let (refusing, refusing_base) = serve("dir-refusing", |b| b).await;
    let started = Instant::now();
    let (b, b_base) = serve("dir-late-b", |builder| {
        builder
            .register_with(refusing_base.as_str())
            .register_with(down.as_str())
            .registration_ttl(Duration::from_secs(600))
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(3), "start waited for the directories: {:?}", started.elapsed());
    assert_eq!(get(&c, &format!("{b_base}/sensor/serial")).await.body, json!("SN-001"), "B serves");
    // The directory comes up on that port: B's retries reach it.
    let late = Server::builder("dir-late-a")
        .http(format!("127.0.0.1:{port}"))
        .http_options(accepting())
        .in_memory()
        .start()
        .await
        .expect("the late directory");
    let id = urn("dir-late-b", "sensor");
    wait_listed(&c, &down, &id, true).await;
    assert_eq!(
        ids(&get(&c, &format!("{refusing_base}/things")).await.body),
        [urn("dir-refusing", "sensor")],
        "refused"
    );
    // With a TTL of 10 minutes, only the deregistration at shutdown can remove it at once.
    b.shutdown().await;
    assert_eq!(get(&c, &format!("{down}{}", path_of(&id))).await.status, StatusCode::NOT_FOUND);
    late.shutdown().await;
    refusing.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_with_refuses_urls_it_cannot_use() {
    for (url, says) in [("https://lab:8443", "not supported yet"), ("lab:8080", "starts with http://")] {
        let refused =
            Server::builder("dir-urls").thing(Sensor::new("sensor")).in_memory().register_with(url).start().await;
        match refused {
            Err(e @ ServerError::Address { .. }) => assert!(e.to_string().contains(says), "{url}: {e}"),
            other => panic!("{url} was taken: {other:?}"),
        }
    }
}
