//! The HTTP binding over real sockets: every route, query parameter, content type and status code, event
//! streams, Thing Descriptions with HTTP forms, HTTP/2 without TLS, and the limits.

use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use thingwire::Server;
use thingwire::binding::http::HttpOptions;

use crate::common::Sensor;

/// A `Sensor` served over HTTP (and ZeroMQ over INPROC, so that the TD carries both).
async fn sensor(
    id: &str,
    configure: impl FnOnce(thingwire::ServerBuilder) -> thingwire::ServerBuilder,
) -> (Server, String) {
    let builder = Server::builder(id).thing(Sensor::new("sensor")).http("127.0.0.1:0").inproc();
    let server = configure(builder).start().await.expect("server");
    let base = server.http_base_url().expect("http").to_owned();
    (server, base)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client")
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let body = response.bytes().await.expect("body");
    (status, serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into())))
}

async fn put(c: &reqwest::Client, url: &str, body: &str) -> (StatusCode, Value) {
    json_of(c.put(url).header("Content-Type", "application/json").body(body.to_owned()).send().await.expect("put"))
        .await
}

async fn post(c: &reqwest::Client, url: &str, body: Value) -> (StatusCode, Value) {
    json_of(c.post(url).json(&body).send().await.expect("post")).await
}

async fn get(c: &reqwest::Client, url: &str) -> (StatusCode, Value) {
    json_of(c.get(url).send().await.expect("get")).await
}

fn exception(body: &Value) -> (&str, &str) {
    (body["exception"]["type"].as_str().unwrap_or(""), body["exception"]["message"].as_str().unwrap_or(""))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn properties_actions_and_errors_have_their_routes_and_status_codes() {
    let (server, base) = sensor("http-routes", |b| b).await;
    let c = client();
    let s = format!("{base}/sensor");
    assert_eq!(get(&c, &format!("{s}/gain")).await, (StatusCode::OK, json!(1.0)));
    assert_eq!(put(&c, &format!("{s}/gain"), "2.5").await, (StatusCode::OK, Value::Null));
    assert_eq!(get(&c, &format!("{s}/gain")).await, (StatusCode::OK, json!(2.5)));
    // A refused value: 400 with hololinked's error object.
    let (status, body) = put(&c, &format!("{s}/gain"), "500").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(exception(&body).0, "ValueError");
    assert!(exception(&body).1.contains("between 0.1 and 100"), "{body}");
    assert!(body["exception"]["traceback"].as_array().is_some_and(|t| !t.is_empty()));
    // A value of the wrong type, a body that is not JSON.
    assert_eq!(put(&c, &format!("{s}/gain"), "\"loud\"").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(put(&c, &format!("{s}/gain"), "{").await.0, StatusCode::BAD_REQUEST);
    // Read-only: 405 with Allow.
    let response = c.put(format!("{s}/serial")).json(&"x").send().await.expect("put");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "GET");
    // Actions: POST with keyword arguments.
    assert_eq!(post(&c, &format!("{s}/add"), json!({"a": 1, "b": 2})).await, (StatusCode::OK, json!(3.0)));
    let (status, body) = post(&c, &format!("{s}/fail"), json!({"message": "no sample"})).await;
    assert_eq!((status, exception(&body)), (StatusCode::BAD_REQUEST, ("ValueError", "no sample")));
    let (status, body) = post(&c, &format!("{s}/add"), json!({"a": 1})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a missing argument: {body}");
    let (status, body) = post(&c, &format!("{s}/panic"), json!({})).await;
    assert_eq!((status, exception(&body).0), (StatusCode::INTERNAL_SERVER_ERROR, "RuntimeError"));
    assert_eq!(c.get(format!("{s}/add")).send().await.expect("get").status(), StatusCode::METHOD_NOT_ALLOWED);
    // Unknown names and Things: 404 with a suggestion.
    let (status, body) = get(&c, &format!("{s}/gian")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(exception(&body).1.contains("did you mean `gain`"), "{body}");
    let (status, body) = get(&c, &format!("{base}/sensr/gain")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(exception(&body).1.contains("did you mean `sensor`"), "{body}");
    assert_eq!(get(&c, &format!("{base}/no/such/route/here")).await.0, StatusCode::NOT_FOUND);
    // Properties all and several at once; write several.
    let (status, all) = get(&c, &format!("{s}/properties")).await;
    assert_eq!((status, all["gain"].clone(), all["serial"].clone()), (StatusCode::OK, json!(2.5), json!("SN-001")));
    let (status, two) = get(&c, &format!("{s}/properties?names=gain&names=mode")).await;
    assert_eq!((status, two), (StatusCode::OK, json!({"gain": 2.5, "mode": "internal"})));
    let response = c.patch(format!("{s}/properties")).json(&json!({"gain": 3.0, "mode": "external"})).send().await;
    assert_eq!(response.expect("patch").status(), StatusCode::OK);
    assert_eq!(get(&c, &format!("{s}/mode")).await.1, json!("external"));
    // Deleting a property is not offered.
    assert_eq!(c.delete(format!("{s}/gain")).send().await.expect("delete").status(), StatusCode::METHOD_NOT_ALLOWED);
    // Liveness and readiness.
    assert_eq!(c.get(format!("{base}/liveness")).send().await.expect("live").status(), StatusCode::OK);
    assert_eq!(c.get(format!("{base}/readiness")).send().await.expect("ready").status(), StatusCode::OK);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_parameters_work_as_in_hololinked() {
    let (server, base) = sensor("http-query", |b| b).await;
    let c = client();
    let s = format!("{base}/sensor");
    // oneway: 204 at once; the operation runs.
    let response = c.post(format!("{s}/record?oneway=true")).json(&json!({"n": 7})).send().await.expect("oneway");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for _ in 0..100 {
        if get(&c, &format!("{s}/order")).await.1 == json!([7]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(get(&c, &format!("{s}/order")).await.1, json!([7]), "the oneway call ran");
    // noblock: 204 with a message id, then the answer by that id.
    let response =
        c.post(format!("{s}/add?noblock=true")).json(&json!({"a": 2, "b": 3})).send().await.expect("noblock");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let id = response.headers()["x-message-id"].to_str().expect("id").to_owned();
    assert_eq!(get(&c, &format!("{s}/add?messageID={id}&timeout=5")).await, (StatusCode::OK, json!(5.0)));
    assert_eq!(get(&c, &format!("{s}/add?messageID={id}")).await.0, StatusCode::NOT_FOUND, "collected once");
    // A noblock answer not ready yet: 408, ask again.
    let response =
        c.post(format!("{s}/sleep?noblock=true")).json(&json!({"seconds": 0.5})).send().await.expect("noblock");
    let id = response.headers()["x-message-id"].to_str().expect("id").to_owned();
    assert_eq!(get(&c, &format!("{s}/sleep?messageID={id}&timeout=0")).await.0, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(get(&c, &format!("{s}/sleep?messageID={id}&timeout=10")).await, (StatusCode::OK, Value::Null));
    // Execution timeout: 504.
    let (status, body) = post(&c, &format!("{s}/sleep?executionTimeout=0.2"), json!({"seconds": 5})).await;
    assert_eq!((status, exception(&body).0), (StatusCode::GATEWAY_TIMEOUT, "TimeoutError"));
    // Execution logs.
    let (status, body) = post(&c, &format!("{s}/log?fetchExecutionLogs=true"), json!({"message": "hello"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["return_value"], json!(5));
    assert!(
        body["execution_logs"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x.as_str().is_some_and(|x| x.contains("hello")))),
        "{body}"
    );
    // Arguments in the query when there is no body (a body, even `null`, is the arguments).
    assert_eq!(post(&c, &format!("{s}/add?a=4&b=5"), Value::Null).await.0, StatusCode::BAD_REQUEST);
    let response = c.post(format!("{s}/add?a=4&b=5")).send().await.expect("post");
    assert_eq!(json_of(response).await, (StatusCode::OK, json!(9.0)));
    // A bad parameter is refused with what was wrong.
    let (status, body) = post(&c, &format!("{s}/add?executionTimeout=soon"), json!({"a": 1, "b": 1})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(exception(&body).1.contains("executionTimeout"), "{body}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_types_json_msgpack_and_raw_bytes() {
    let (server, base) = sensor("http-content", |b| b).await;
    let c = client();
    let s = format!("{base}/sensor");
    let response = c.get(format!("{s}/gain")).header("Accept", "application/msgpack").send().await.expect("get");
    assert_eq!(response.headers()["content-type"], "application/msgpack");
    let value: f64 = rmp_serde::from_slice(&response.bytes().await.expect("body")).expect("msgpack");
    assert_eq!(value, 1.0);
    // A msgpack body, a JSON answer.
    let body = rmp_serde::to_vec(&4.5f64).expect("encode");
    let response = c.put(format!("{s}/gain")).header("Content-Type", "application/msgpack").body(body).send().await;
    assert_eq!(response.expect("put").status(), StatusCode::OK);
    assert_eq!(get(&c, &format!("{s}/gain")).await.1, json!(4.5));
    // A JSON body, a msgpack answer.
    let response = c
        .post(format!("{s}/add"))
        .header("Accept", "application/msgpack")
        .json(&json!({"a": 1, "b": 1}))
        .send()
        .await
        .expect("post");
    let sum: f64 = rmp_serde::from_slice(&response.bytes().await.expect("body")).expect("msgpack");
    assert_eq!(sum, 2.0);
    // Raw bytes both ways.
    let raw = vec![0u8, 1, 2, 255, 254];
    let response = c
        .post(format!("{s}/echo_bytes"))
        .header("Content-Type", "application/octet-stream")
        .body(raw.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/octet-stream");
    assert_eq!(response.bytes().await.expect("body").to_vec(), raw);
    // An unknown content type: 415.
    let response = c.put(format!("{s}/gain")).header("Content-Type", "text/csv").body("1").send().await;
    assert_eq!(response.expect("put").status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // `curl -d` labels JSON as a form; it is taken as the JSON it is.
    let response =
        c.put(format!("{s}/gain")).header("Content-Type", "application/x-www-form-urlencoded").body("2").send();
    assert_eq!(response.await.expect("put").status(), StatusCode::OK);
    server.shutdown().await;
}

/// Reads an event stream until `want` data lines arrived (bounded: 10 s).
async fn data_lines(response: reqwest::Response, want: usize) -> Vec<Value> {
    let mut stream = response.bytes_stream();
    let mut text = String::new();
    let mut found = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while found.len() < want {
        let Ok(Some(chunk)) = tokio::time::timeout_at(deadline, stream.next()).await else { break };
        text.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
        while let Some(end) = text.find("\n\n") {
            let frame: String = text.drain(..end + 2).collect();
            for line in frame.lines() {
                if let Some(data) = line.strip_prefix("data: ") {
                    found.push(serde_json::from_str(data).expect("json data"));
                }
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_property_changes_stream_as_server_sent_events() {
    let (server, base) =
        sensor("http-sse", |b| b.http_options(HttpOptions { max_event_streams: 2, ..HttpOptions::default() })).await;
    let c = client();
    let s = format!("{base}/sensor");
    let ticks = c.get(format!("{s}/tick")).send().await.expect("subscribe");
    assert_eq!(ticks.status(), StatusCode::OK);
    assert_eq!(ticks.headers()["content-type"], "text/event-stream");
    let changes = c.get(format!("{s}/gain/change-event")).send().await.expect("observe");
    assert_eq!(changes.status(), StatusCode::OK);
    // The limit: a third stream is refused, and a slot comes back when a client goes away.
    let third = c.get(format!("{s}/tick")).send().await.expect("third");
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    // The headers arrived: the streams are subscribed. Emit and change.
    for n in 0..3 {
        assert_eq!(post(&c, &format!("{s}/emit"), json!({"value": n})).await.0, StatusCode::OK);
    }
    assert_eq!(put(&c, &format!("{s}/gain"), "7.5").await.0, StatusCode::OK);
    assert_eq!(data_lines(ticks, 3).await, vec![json!({"value": 0}), json!({"value": 1}), json!({"value": 2})]);
    assert_eq!(data_lines(changes, 1).await, vec![json!(7.5)]);
    // Both streams are dropped now; a new one is admitted (bounded wait for the server to notice).
    let mut admitted = false;
    for _ in 0..100 {
        let again = c.get(format!("{s}/tick")).send().await.expect("again");
        if again.status() == StatusCode::OK {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(admitted, "closed streams give their slots back");
    // Not an event, not observable.
    assert_eq!(get(&c, &format!("{s}/mode/change-event")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(c.post(format!("{s}/tick")).send().await.expect("post").status(), StatusCode::METHOD_NOT_ALLOWED);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_thing_description_has_http_forms_first_and_is_valid() {
    let (server, base) = sensor("http-td", |b| b).await;
    let c = client();
    let response = c.get(format!("{base}/sensor/resources/wot-td")).send().await.expect("td");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/td+json");
    let td: Value = response.json().await.expect("json");
    crate::td::assert_valid(&crate::td::validator("td-json-schema-validation.json"), &td, "the TD served over HTTP");
    let gain = td["properties"]["gain"]["forms"].as_array().expect("forms");
    assert_eq!(gain[0]["href"], json!(format!("{base}/sensor/gain")));
    assert_eq!((gain[0]["op"].clone(), gain[0]["htv:methodName"].clone()), (json!("readproperty"), json!("GET")));
    assert_eq!((gain[1]["op"].clone(), gain[1]["htv:methodName"].clone()), (json!("writeproperty"), json!("PUT")));
    let observe = gain.iter().find(|f| f["op"] == "observeproperty").expect("observe");
    assert_eq!(observe["subprotocol"], "sse");
    assert_eq!(observe["href"], json!(format!("{base}/sensor/gain/change-event")));
    assert!(
        gain.iter().any(|f| f["href"].as_str().is_some_and(|h| h.starts_with("inproc://"))),
        "and the ZeroMQ forms"
    );
    let serial = td["properties"]["serial"]["forms"].as_array().expect("forms");
    assert!(
        !serial.iter().any(|f| f["op"] == "writeproperty" && f["href"].as_str().is_some_and(|h| h.starts_with("http")))
    );
    let tick = &td["events"]["tick"]["forms"][0];
    assert_eq!((tick["op"].clone(), tick["subprotocol"].clone()), (json!("subscribeevent"), json!("sse")));
    let top: Vec<&str> = td["forms"].as_array().expect("forms").iter().filter_map(|f| f["op"].as_str()).collect();
    assert_eq!(top, ["readallproperties", "writeallproperties", "readmultipleproperties", "writemultipleproperties"]);
    // The TD over ZeroMQ has its ZeroMQ forms first, and the HTTP ones too.
    let zmq =
        thingwire::Client::connect(server.address(thingwire::Protocol::Inproc).expect("inproc")).await.expect("zmq");
    let over_zmq = zmq.thing_description("sensor").await.expect("td");
    let gain = over_zmq["properties"]["gain"]["forms"].as_array().expect("forms");
    assert!(gain[0]["href"].as_str().is_some_and(|h| h.starts_with("inproc://")), "{gain:?}");
    assert!(gain.iter().any(|f| f["href"] == json!(format!("{base}/sensor/gain"))));
    // The hrefs follow the address the client used (a server bound to 0.0.0.0 has several).
    let td: Value = c
        .get(format!("{base}/sensor/resources/wot-td"))
        .header("Host", "lab-pc:9999")
        .send()
        .await
        .expect("td")
        .json()
        .await
        .expect("json");
    assert_eq!(td["properties"]["gain"]["forms"][0]["href"], "http://lab-pc:9999/sensor/gain");
    let td: Value = c
        .get(format!("{base}/sensor/resources/wot-td"))
        .header("Host", "evil/x?y")
        .send()
        .await
        .expect("td")
        .json()
        .await
        .expect("json");
    assert_eq!(
        td["properties"]["gain"]["forms"][0]["href"],
        json!(format!("{base}/sensor/gain")),
        "not a host: ignored"
    );
    // The Thing Model.
    let (status, model) = get(&c, &format!("{base}/sensor/resources/wot-tm")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(model["properties"]["gain"].is_object() && model["properties"]["gain"].get("forms").is_none());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hololinked_error_style_answers_errors_with_200() {
    let options = HttpOptions { hololinked_errors: true, ..HttpOptions::default() };
    let (server, base) = sensor("http-hololinked", |b| b.http_options(options)).await;
    let c = client();
    let (status, body) = put(&c, &format!("{base}/sensor/gain"), "500").await;
    assert_eq!((status, exception(&body).0), (StatusCode::OK, "ValueError"));
    let (status, _) = post(&c, &format!("{base}/sensor/sleep?executionTimeout=0.1"), json!({"seconds": 5})).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "as hololinked answers a timeout");
    assert_eq!(get(&c, &format!("{base}/sensor/gian")).await.0, StatusCode::NOT_FOUND, "404 as in hololinked");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_without_tls_serves_on_the_same_port() {
    let (server, base) = sensor("http-h2c", |b| b).await;
    let h2 = reqwest::Client::builder().http2_prior_knowledge().build().expect("client");
    let response = h2.get(format!("{base}/sensor/gain")).send().await.expect("h2c");
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(json_of(response).await, (StatusCode::OK, json!(1.0)));
    let h1 = client().get(format!("{base}/sensor/gain")).send().await.expect("http/1.1");
    assert_eq!(h1.version(), reqwest::Version::HTTP_11);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_answer_413_503_and_close_slow_headers() {
    let options =
        HttpOptions { max_body: 1024, header_read_timeout: Duration::from_millis(300), ..HttpOptions::default() };
    let (server, base) = sensor("http-limits", |b| b.http_options(options).max_queue_length(1)).await;
    let c = client();
    let big = "1".repeat(4096);
    assert_eq!(put(&c, &format!("{base}/sensor/gain"), &big).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    // A busy queue: 503 with Retry-After. The slow action holds the one place in the queue for 3 s; should a
    // record hold it at the moment the slow one arrives, the slow one is refused too and tried again.
    let slow = tokio::spawn({
        let c = c.clone();
        let url = format!("{base}/sensor/slow");
        async move {
            for _ in 0..50 {
                let response = c.post(&url).json(&json!({"seconds": 3.0})).send().await?;
                if response.status() != StatusCode::SERVICE_UNAVAILABLE {
                    return Ok(response);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("the slow action was refused 50 times in a row");
        }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut busy = None;
    while busy.is_none() && !slow.is_finished() && tokio::time::Instant::now() < deadline {
        let response = c.post(format!("{base}/sensor/record")).json(&json!({"n": 1})).send().await.expect("post");
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            busy = Some(response);
        } else {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let busy = busy.expect("a record sent while the slow action runs is answered 503");
    assert_eq!(busy.headers()["retry-after"], "1");
    assert!(exception(&json_of(busy).await.1).1.contains("busy"));
    let slow: reqwest::Result<reqwest::Response> = slow.await.expect("join");
    assert_eq!(slow.expect("slow").status(), StatusCode::OK);
    // A client that never finishes its headers is disconnected.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address).await.expect("connect");
    socket.write_all(b"GET /sensor/gain HTTP/1.1\r\nHost: x\r\n").await.expect("partial headers");
    let mut buffer = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buffer)).await;
    assert!(matches!(read, Ok(Ok(_)) | Ok(Err(_))), "the server closed (or answered and closed) the slow connection");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_users_and_bearer_tokens_are_required_and_declared() {
    use thingwire::binding::http::HttpAuth;
    let auth = HttpAuth::new().user("alice", &HttpAuth::hash_password("s3cret")).expect("hash").token("lab-key-1");
    let options = HttpOptions { auth: Some(auth), ..HttpOptions::default() };
    let (server, base) = sensor("http-auth", |b| b.http_options(options)).await;
    let c = client();
    let url = format!("{base}/sensor/gain");
    let refused = c.get(&url).send().await.expect("get");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.headers()["www-authenticate"].to_str().expect("text").starts_with("Basic"), "a browser asks");
    let (status, body) = json_of(refused).await;
    assert_eq!((status, exception(&body).0), (StatusCode::UNAUTHORIZED, "PermissionError"));
    assert_eq!(
        c.get(&url).basic_auth("alice", Some("wrong")).send().await.expect("get").status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        c.get(&url).basic_auth("mallory", Some("s3cret")).send().await.expect("get").status(),
        StatusCode::UNAUTHORIZED
    );
    let ok = c.get(&url).basic_auth("alice", Some("s3cret")).send().await.expect("get");
    assert_eq!(json_of(ok).await, (StatusCode::OK, json!(1.0)));
    assert_eq!(c.get(&url).bearer_auth("lab-key-1").send().await.expect("get").status(), StatusCode::OK);
    assert_eq!(c.get(&url).bearer_auth("lab-key-2").send().await.expect("get").status(), StatusCode::UNAUTHORIZED);
    let stream = c.get(format!("{base}/sensor/tick")).send().await.expect("events");
    assert_eq!(stream.status(), StatusCode::UNAUTHORIZED, "event streams too");
    // The description is public: it says what to present.
    let (status, td) = get(&c, &format!("{base}/sensor/resources/wot-td")).await;
    assert_eq!(status, StatusCode::OK);
    crate::td::assert_valid(&crate::td::validator("td-json-schema-validation.json"), &td, "a secured TD");
    assert_eq!(td["security"], json!(["http_sc"]));
    assert_eq!(td["securityDefinitions"]["http_sc"]["scheme"], "combo");
    assert_eq!(td["securityDefinitions"]["http_sc"]["oneOf"], json!(["http_basic_sc", "bearer_sc"]));
    assert_eq!(td["securityDefinitions"]["http_basic_sc"]["scheme"], "basic");
    assert_eq!(td["securityDefinitions"]["bearer_sc"]["scheme"], "bearer");
    // The INPROC forms in it need nothing, and say so.
    let inproc = td["properties"]["gain"]["forms"]
        .as_array()
        .expect("forms")
        .iter()
        .find(|f| f["href"].as_str().is_some_and(|h| h.starts_with("inproc://")))
        .cloned()
        .expect("inproc form");
    assert_eq!(inproc["security"], json!(["nosec_sc"]));
    // Over ZeroMQ the TD's own scheme is ZeroMQ's (none here), and the HTTP forms name theirs.
    let zmq =
        thingwire::Client::connect(server.address(thingwire::Protocol::Inproc).expect("inproc")).await.expect("zmq");
    let over_zmq = zmq.thing_description("sensor").await.expect("td");
    assert_eq!(over_zmq["security"], json!(["nosec_sc"]));
    let http_form = over_zmq["properties"]["gain"]["forms"]
        .as_array()
        .expect("forms")
        .iter()
        .find(|f| f["href"] == json!(url))
        .cloned()
        .expect("http form");
    assert_eq!(http_form["security"], json!(["http_sc"]));
    crate::td::assert_valid(&crate::td::validator("td-json-schema-validation.json"), &over_zmq, "the TD over ZeroMQ");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_certificate_serves_http1_and_http2() {
    use thingwire::binding::http::HttpTls;
    let dir = crate::common::scratch_dir("tls");
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).expect("cert");
    std::fs::write(dir.join("cert.pem"), generated.cert.pem()).expect("write");
    std::fs::write(dir.join("key.pem"), generated.signing_key.serialize_pem()).expect("write");
    let tls = HttpTls { certificate: dir.join("cert.pem"), key: dir.join("key.pem") };
    let options = HttpOptions { tls: Some(tls), ..HttpOptions::default() };
    let (server, base) = sensor("http-tls", |b| b.http_options(options)).await;
    assert!(base.starts_with("https://"), "{base}");
    let root = reqwest::Certificate::from_pem(generated.cert.pem().as_bytes()).expect("root");
    let c = reqwest::Client::builder().add_root_certificate(root.clone()).build().expect("client");
    let response = c.get(format!("{base}/sensor/gain")).send().await.expect("https");
    assert_eq!(response.version(), reqwest::Version::HTTP_2, "ALPN chose HTTP/2");
    assert_eq!(json_of(response).await, (StatusCode::OK, json!(1.0)));
    let h1 = reqwest::Client::builder().add_root_certificate(root).http1_only().build().expect("client");
    let response = h1.get(format!("{base}/sensor/gain")).send().await.expect("https/1.1");
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    let (_, td) = get(&c, &format!("{base}/sensor/resources/wot-td")).await;
    assert!(td["properties"]["gain"]["forms"][0]["href"].as_str().is_some_and(|h| h.starts_with("https://")));
    // A plain-HTTP client gets no answer but a failed handshake.
    let plain = base.replacen("https://", "http://", 1);
    assert!(client().get(format!("{plain}/sensor/gain")).send().await.is_err());
    server.shutdown().await;
    // A key that is not there: a typed error at start, naming the file.
    let missing = HttpTls { certificate: dir.join("cert.pem"), key: dir.join("nope.pem") };
    let error = Server::builder("http-tls-bad")
        .thing(Sensor::new("sensor"))
        .http("127.0.0.1:0")
        .http_options(HttpOptions { tls: Some(missing), ..HttpOptions::default() })
        .start()
        .await
        .expect_err("refused");
    assert!(error.to_string().contains("nope.pem"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_the_configured_origins() {
    let options = HttpOptions { cors_origins: vec!["http://panel.lab".into()], ..HttpOptions::default() };
    let (server, base) = sensor("http-cors", |b| b.http_options(options)).await;
    let c = client();
    let preflight = c
        .request(reqwest::Method::OPTIONS, format!("{base}/sensor/gain"))
        .header("Origin", "http://panel.lab")
        .header("Access-Control-Request-Method", "PUT")
        .send()
        .await
        .expect("preflight");
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "http://panel.lab");
    let other = c.get(format!("{base}/sensor/gain")).header("Origin", "http://elsewhere").send().await.expect("get");
    assert!(other.headers().get("access-control-allow-origin").is_none(), "other origins are not allowed");
    server.shutdown().await;
}

/// Method, path and query, content type, body; the status, error type and a part of the message wanted.
type BadRequest<'a> = (&'a str, &'a str, Option<&'a str>, &'a [u8], u16, &'a str, &'a str);

/// The HTTP rows of docs/bad-input.md: each bad request, its status, error type and a part of its message;
/// after every row a normal read is still answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_a_status_and_a_message_that_says_what_was_wrong() {
    let (server, base) =
        sensor("http-bad-input", |b| b.http_options(HttpOptions { max_body: 1 << 20, ..HttpOptions::default() })).await;
    let c = client();
    let json = Some("application/json");
    let msgpack = Some("application/msgpack");
    #[rustfmt::skip]
    let rows: &[BadRequest<'_>] = &[
        // method, path and query, content type, body, status, error type, part of the message
        ("GET", "/sensor/%ff", None, b"", 400, "ValueError", "Invalid UTF-8"),
        ("GET", "/%C3%28/gain", None, b"", 400, "ValueError", "Invalid UTF-8"),
        ("GET", "/sensr/gain", None, b"", 404, "KeyError", "did you mean `sensor`"),
        ("GET", "/sensor/gian", None, b"", 404, "KeyError", "did you mean `gain`"),
        ("GET", "/sensor/gain/more", None, b"", 404, "KeyError", "no route `/sensor/gain/more`"),
        ("GET", "/sensr/", None, b"", 404, "KeyError", "did you mean `sensor`"),
        ("GET", "/sensor/resources/wot-xx", None, b"", 404, "KeyError", "there are wot-td and wot-tm"),
        ("POST", "/sensor/resources/wot-td", json, b"{}", 405, "MethodNotAllowed", "use GET"),
        ("PUT", "/sensor/gain/change-event", json, b"1", 405, "MethodNotAllowed", "use GET"),
        ("GET", "/sensor/serial/change-event", None, b"", 404, "KeyError", "not observable"),
        ("PUT", "/sensor/gain", json, b"500", 400, "ValueError", "between 0.1 and 100"),
        ("PUT", "/sensor/gain", json, b"\"loud\"", 400, "TypeError", "invalid type"),
        ("PUT", "/sensor/gain", json, b"{", 400, "TypeError", "invalid type: map"),
        ("PUT", "/sensor/gain", json, b"", 400, "ValueError", "takes the new value as the request's body"),
        ("PUT", "/sensor/gain", json, b"2 3", 400, "DecodeError", "trailing"),
        ("PUT", "/sensor/gain", msgpack, b"2.5", 400, "DecodeError", "trailing bytes"),
        ("PUT", "/sensor/gain", msgpack, b"\xc1", 400, "DecodeError", "not valid msgpack"),
        ("PUT", "/sensor/gain", Some("text/csv"), b"1", 415, "ValueError", "application/json"),
        ("PUT", "/sensor/serial", json, b"\"x\"", 405, "AttributeError", "read-only"),
        ("DELETE", "/sensor/gain", None, b"", 405, "NotImplementedError", "cannot be deleted"),
        ("PATCH", "/sensor/gain", json, b"1", 405, "MethodNotAllowed", "use GET, PUT"),
        ("GET", "/sensor/add", None, b"", 405, "MethodNotAllowed", "use POST"),
        ("POST", "/sensor/add", json, b"{\"a\": 1}", 400, "TypeError", "missing"),
        ("POST", "/sensor/add", json, b"{\"a\": 1, \"b\": 2, \"c\": 3}", 400, "TypeError", "unexpected argument `c`"),
        ("POST", "/sensor/add", json, b"[1, 2, 3, 4]", 400, "TypeError", ""),
        ("POST", "/sensor/add", json, b"7", 400, "TypeError", "keyword arguments"),
        ("POST", "/sensor/panic", json, b"{}", 500, "RuntimeError", "panicked"),
        ("PATCH", "/sensor/properties", json, b"[1, 2]", 400, "TypeError", "property values"),
        ("PATCH", "/sensor/properties", json, b"{\"nope\": 1}", 400, "KeyError", "no property `nope`"),
        ("POST", "/sensor/properties", json, b"{}", 405, "MethodNotAllowed", "use GET, PUT, PATCH"),
        ("GET", "/sensor/properties?names=gain&names=nope", None, b"", 404, "KeyError", "nope"),
        ("GET", "/sensor/gain?executionTimeout=soon", None, b"", 400, "ValueError", "number of seconds"),
        ("GET", "/sensor/gain?executionTimeout=-1", None, b"", 400, "ValueError", "number of seconds"),
        ("GET", "/sensor/gain?oneway=maybe", None, b"", 400, "ValueError", "true or false"),
        ("POST", "/sensor/add?a=1&b=x", None, b"", 400, "TypeError", "argument `b`"),
        ("GET", "/sensor/gain?messageID=0000", None, b"", 404, "KeyError", "no noblock answer"),
        ("PUT", "/sensor/gain", json, &[b'1'; 2 << 20], 413, "ValueError", "HttpOptions::max_body"),
    ];
    let mut wrong = Vec::new();
    for &(method, path, content_type, body, status, kind, text) in rows {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = c.request(method.clone(), format!("{base}{path}")).body(body.to_vec());
        if let Some(ct) = content_type {
            request = request.header("Content-Type", ct);
        }
        let (got, answer) = json_of(request.send().await.expect("request")).await;
        let row = format!("{method} {path} {content_type:?}: {got} {}", exception(&answer).1);
        if got.as_u16() != status || exception(&answer).0 != kind || !exception(&answer).1.contains(text) {
            wrong.push(format!("{row} (type {}), wanted {status} {kind} `{text}`", exception(&answer).0));
        }
        // After a 413 the server closes the connection without `Connection: close` (the body was not read), and
        // a pooled client may reuse it before it sees the close (`IncompleteMessage`; seen under load, with the
        // MQTT tests running beside): check on a fresh connection. (A finding for the HTTP binding, not fixed here.)
        let check = if status == 413 { client() } else { c.clone() };
        assert_eq!(
            get(&check, &format!("{base}/sensor/serial")).await,
            (StatusCode::OK, json!("SN-001")),
            "after {row}"
        );
    }
    assert!(wrong.is_empty(), "rows answered otherwise:\n{}", wrong.join("\n"));
    server.shutdown().await;
}
