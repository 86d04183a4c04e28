//! Things served over HTTP: by hololinked 0.4's own HTTP server, or by thingwire's HTTP binding (the same
//! routes). Only the Thing Description's URL is fixed, `<base>/<thing>/resources/wot-td`; every operation
//! goes where the description's forms say, with the form's method.
//!
//! A reply whose body is `{"exception": {…}}` is an error whatever its status: hololinked answers `200` with
//! it, thingwire's binding with a status that says what kind of error it is.

use std::collections::VecDeque;
use std::error::Error as _;
use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode, Url};
use serde_json::{Map, Value};
use thingwire::error::RemoteError;
use thingwire::protocol::{ErrorObject, ErrorPayload, TimeoutKind};
use thingwire::{CallOptions, ClientError};

use crate::address::HttpAddress;
use crate::failure::{Failure, Kind};
use crate::values::human_duration;
use crate::{output, progress};

/// WoT operation names, as the forms' `op` says them.
pub mod op {
    /// Read a property.
    pub const READ_PROPERTY: &str = "readproperty";
    /// Write a property.
    pub const WRITE_PROPERTY: &str = "writeproperty";
    /// Stream a property's changes.
    pub const OBSERVE_PROPERTY: &str = "observeproperty";
    /// Invoke an action.
    pub const INVOKE_ACTION: &str = "invokeaction";
    /// Stream an event.
    pub const SUBSCRIBE_EVENT: &str = "subscribeevent";
}

/// The action whose form serves the Thing Model (hololinked lists it; GET `<base>/<thing>/resources/wot-tm`).
const THING_MODEL_ACTION: &str = "get_thing_model";

/// Events as they come: a value, or a line about one that could not be read (the stream goes on).
pub type EventStream = Pin<Box<dyn Stream<Item = Result<Value, String>> + Send>>;

/// An HTTP server and the options of this run.
pub struct HttpLink {
    client: reqwest::Client,
    address: HttpAddress,
    timeout: Option<Duration>,
    connect_timeout: Duration,
    quiet: bool,
    verbose: bool,
}

/// Where and how to send one operation, from a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The form's method (`htv:methodName`), or the WoT default for the operation.
    pub method: Method,
    /// The form's `href`, resolved and moved to the server as this command reached it.
    pub url: Url,
    /// The form's `contentType` when it is JSON, else `application/json`.
    pub content_type: String,
}

/// What a reply means, from its status, reason phrase and body.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Success, with the body as JSON (`null` when empty).
    Value(Value),
    /// The server raised an exception (with the status it came with: hololinked says 200).
    Remote(StatusCode, ErrorObject),
    /// The server gave up on the operation (`408`, `504`).
    Timeout(TimeoutKind, Option<ErrorObject>),
    /// Any other error status, as `404 Not Found` (the server's own reason phrase when it sent one).
    Status(StatusCode, String),
}

impl HttpLink {
    /// A client for the server at `address`; nothing is sent yet.
    pub fn new(
        address: HttpAddress,
        timeout: Option<Duration>,
        connect_timeout: Duration,
        quiet: bool,
        verbose: bool,
    ) -> Result<Self, Failure> {
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .user_agent(concat!("thingwire-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Failure::failed(format!("could not set up the HTTP client: {}", causes(&e))))?;
        Ok(Self { client, address, timeout, connect_timeout, quiet, verbose })
    }

    /// The server's base URL, as people read it.
    pub fn display(&self) -> String {
        self.address.display()
    }

    fn td_url(&self, thing: &str) -> Result<Url, Failure> {
        if let Some(named) = &self.address.thing
            && named != thing
        {
            return Err(Failure::usage(format!(
                "the address is the description of `{named}`, but the command names thing `{thing}`"
            )));
        }
        self.address.td_url(thing).map_err(Failure::usage)
    }

    /// Thing `thing`'s description, from `<base>/<thing>/resources/wot-td`.
    pub async fn thing_description(&self, thing: &str) -> Result<Value, Failure> {
        let url = self.td_url(thing)?;
        let target = Target { method: Method::GET, url: url.clone(), content_type: "application/json".into() };
        let what = format!("waiting for the description of {thing} from {url}");
        let label = format!("the description of `{thing}`");
        let reply = self.send(&label, &target, None, &[], self.timeout, &what).await?;
        match reply {
            Outcome::Value(td @ Value::Object(_)) => Ok(td),
            Outcome::Value(other) => Err(Failure::failed(format!(
                "the answer at {url} is not a Thing Description (a JSON object): {}",
                clip(&output::one_line(&other))
            ))
            .detail("is the address the base URL of a thingwire or hololinked HTTP server?")),
            Outcome::Status(StatusCode::NOT_FOUND, _) | Outcome::Remote(StatusCode::NOT_FOUND, _) => {
                let mut failure = Failure::failed(format!(
                    "the server at {} serves no thing `{thing}` (404 at {url})",
                    self.display()
                ));
                if let Outcome::Remote(_, e) = reply {
                    // thingwire's binding says which Things there are, or which one was meant.
                    failure = failure.detail(format!("the server said: {}", e.message));
                }
                Err(failure.detail(
                    "it cannot list its Things over HTTP: check the thing id, and that the address is the server's \
                     base URL",
                ))
            }
            other => Err(self.failure(thing, "resources/wot-td", &url, other, Operation::Describe)),
        }
    }

    /// Thing `thing`'s model (the description without forms), from the form of the description's
    /// `get_thing_model` action.
    pub async fn thing_model(&self, thing: &str) -> Result<Value, Failure> {
        let td = self.thing_description(thing).await?;
        let Some(action) = td.get("actions").and_then(|a| a.get(THING_MODEL_ACTION)) else {
            return Err(Failure::failed(format!(
                "the description of `{thing}` offers no Thing Model over HTTP (no `{THING_MODEL_ACTION}` action)"
            )));
        };
        let options = CallOptions { timeout: self.timeout, ..CallOptions::default() };
        self.invoke(thing, &td, THING_MODEL_ACTION, action, &Map::new(), &options).await
    }

    /// Reads property `name` (whose affordance is `property`) of `thing`.
    pub async fn read(&self, thing: &str, td: &Value, name: &str, property: &Value) -> Result<Value, Failure> {
        let target = self.form(thing, td, name, property, op::READ_PROPERTY, "read")?;
        let what = format!("waiting for {thing}.{name} from {}", target.url);
        match self.send(&format!("{thing}.{name}"), &target, None, &[], self.timeout, &what).await? {
            Outcome::Value(v) => Ok(v),
            other => Err(self.failure(thing, name, &target.url, other, Operation::Read)),
        }
    }

    /// Writes `value` to property `name` of `thing`.
    pub async fn write(
        &self,
        thing: &str,
        td: &Value,
        name: &str,
        property: &Value,
        value: &Value,
    ) -> Result<(), Failure> {
        let target = self.form(thing, td, name, property, op::WRITE_PROPERTY, "write")?;
        let what = format!("waiting for {thing}.{name} from {}", target.url);
        match self.send(&format!("{thing}.{name}"), &target, Some(value), &[], self.timeout, &what).await? {
            Outcome::Value(_) => Ok(()),
            other => Err(self.failure(thing, name, &target.url, other, Operation::Write)),
        }
    }

    /// Invokes action `name` of `thing` with keyword arguments `args`; `options` add hololinked's query
    /// parameters (`executionTimeout`, `invokationTimeout`, `oneway`) and set the reply deadline.
    pub async fn invoke(
        &self,
        thing: &str,
        td: &Value,
        name: &str,
        action: &Value,
        args: &Map<String, Value>,
        options: &CallOptions,
    ) -> Result<Value, Failure> {
        let target = self.form(thing, td, name, action, op::INVOKE_ACTION, "invoke")?;
        let mut query: Vec<(String, String)> = Vec::new();
        if let Some(t) = options.execution_timeout {
            query.push(("executionTimeout".into(), t.as_secs_f64().to_string()));
        }
        if let Some(t) = options.invocation_timeout {
            // hololinked's spelling.
            query.push(("invokationTimeout".into(), t.as_secs_f64().to_string()));
        }
        if options.oneway {
            query.push(("oneway".into(), "true".into()));
        }
        // The WoT HTTP binding sends arguments in the body; a GET or DELETE has none, so they go in the query
        // (hololinked reads each query parameter as JSON).
        let in_query = matches!(target.method, Method::GET | Method::DELETE | Method::HEAD);
        let body = Value::Object(args.clone());
        if in_query {
            query.extend(args.iter().map(|(k, v)| (k.clone(), v.to_string())));
        }
        let what = format!("waiting for {thing}.{name} from {}", target.url);
        let body = if in_query { None } else { Some(&body) };
        match self.send(&format!("{thing}.{name}"), &target, body, &query, options.timeout, &what).await? {
            Outcome::Value(v) => Ok(v),
            other => Err(self.failure(thing, name, &target.url, other, Operation::Invoke)),
        }
    }

    /// Subscribes to `event` of `thing` (or the changes of property `property`), over Server-Sent Events.
    /// Returns the stream's URL and its events; the subscription is in place when this returns.
    pub async fn subscribe(
        &self,
        thing: &str,
        td: &Value,
        event: &str,
        property: Option<&str>,
    ) -> Result<(Url, EventStream), Failure> {
        let (name, affordance, operation) = match property {
            Some(p) => (p, td.get("properties").and_then(|m| m.get(p)), op::OBSERVE_PROPERTY),
            None => (event, td.get("events").and_then(|m| m.get(event)), op::SUBSCRIBE_EVENT),
        };
        let Some(affordance) = affordance else {
            return Err(Failure::failed(format!("the description of `{thing}` has no `{name}`")));
        };
        let target = self.form(thing, td, name, affordance, operation, "watch")?;
        let request =
            self.client.request(target.method.clone(), target.url.clone()).header(ACCEPT, "text/event-stream");
        let what = format!("subscribing to {thing}/{event} at {}", target.url);
        // The stream has no deadline; only the wait for its first bytes (the status line) has.
        let send = async {
            match self.timeout {
                Some(limit) => tokio::time::timeout(limit, request.send()).await.ok(),
                None => Some(request.send().await),
            }
        };
        let response = match progress::waiting(&what, self.quiet, send).await {
            None => return Err(no_reply(&format!("{thing}/{event}"), &target.url, self.timeout.unwrap_or_default())),
            Some(Err(e)) => return Err(self.transport_failure(&format!("{thing}/{event}"), &target.url, &e)),
            Some(Ok(response)) => response,
        };
        let is_stream = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !response.status().is_success() || !is_stream {
            let outcome = self.outcome(thing, event, &target.url, response).await?;
            let outcome = match outcome {
                Outcome::Value(v) => Outcome::Status(
                    StatusCode::OK,
                    format!("200 OK, not an event stream: {}", clip(&output::one_line(&v))),
                ),
                other => other,
            };
            return Err(self.failure(thing, event, &target.url, outcome, Operation::Watch));
        }
        Ok((target.url, events(response)))
    }

    /// The form of `affordance` (named `name`) for `operation`, or why there is none.
    fn form(
        &self,
        thing: &str,
        td: &Value,
        name: &str,
        affordance: &Value,
        operation: &str,
        verb: &str,
    ) -> Result<Target, Failure> {
        let reached = self.td_url(thing)?;
        find_form(td, &reached, affordance, operation).ok_or_else(|| {
            Failure::failed(format!(
                "the description of `{thing}` gives no HTTP form to {verb} `{name}` (no `{operation}` form)"
            ))
        })
    }

    /// Sends one request and reads its whole reply; `label` says what it is for in errors (`thing.name`).
    async fn send(
        &self,
        label: &str,
        target: &Target,
        body: Option<&Value>,
        query: &[(String, String)],
        timeout: Option<Duration>,
        what: &str,
    ) -> Result<Outcome, Failure> {
        let mut request =
            self.client.request(target.method.clone(), target.url.clone()).header(ACCEPT, "application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            // hololinked refuses a body without a JSON content type (400, "Content-Type not supported").
            request = request.header(CONTENT_TYPE, &target.content_type).body(body.to_string());
        }
        if let Some(limit) = timeout {
            request = request.timeout(limit);
        }
        let exchange = async {
            let response = request.send().await?;
            let status = response.status();
            let reason = reason_phrase(&response);
            let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let bytes = response.bytes().await?;
            Ok::<_, reqwest::Error>(interpret(status, reason.as_deref(), content_type.as_deref(), &bytes))
        };
        progress::waiting(what, self.quiet, exchange).await.map_err(|e| match timeout {
            Some(limit) if e.is_timeout() && !e.is_connect() => no_reply(label, &target.url, limit),
            _ => self.transport_failure(label, &target.url, &e),
        })
    }

    /// Reads a whole reply that is not an event stream.
    async fn outcome(
        &self,
        thing: &str,
        name: &str,
        url: &Url,
        response: reqwest::Response,
    ) -> Result<Outcome, Failure> {
        let status = response.status();
        let reason = reason_phrase(&response);
        let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let read = tokio::time::timeout(self.timeout.unwrap_or(Duration::MAX), response.bytes()).await;
        match read {
            Ok(Ok(bytes)) => Ok(interpret(status, reason.as_deref(), content_type.as_deref(), &bytes)),
            Ok(Err(e)) => Err(self.transport_failure(&format!("{thing}/{name}"), url, &e)),
            Err(_) => Ok(Outcome::Status(status, describe_status(status, reason.as_deref()))),
        }
    }

    fn client_error(&self, error: ClientError) -> Failure {
        Failure::from_client(&error, self.verbose)
    }

    /// A request that got no HTTP reply: refused, timed out connecting, or not HTTP at all.
    fn transport_failure(&self, label: &str, url: &Url, error: &reqwest::Error) -> Failure {
        let origin = url.origin().ascii_serialization();
        if error.is_connect() {
            let why = if error.is_timeout() {
                format!("no connection within {}", human_duration(self.connect_timeout))
            } else {
                causes(error)
            };
            let failure = Failure::new(Kind::NoAnswer, format!("could not reach a server at {origin}: {why}"))
                .detail("is a thingwire or hololinked HTTP server running there? (--connect-timeout waits longer)");
            return if url.scheme() == "https" {
                failure.detail("an https:// address needs a server with TLS; http:// is for one without")
            } else {
                failure
            };
        }
        Failure::new(Kind::NoAnswer, format!("{label}: no HTTP reply from {origin}: {}", causes(error)))
            .detail("is it an HTTP server? (a ZeroMQ server's address is tcp://host:port)")
    }

    /// Says what an error outcome means for `operation` on `thing`.`name` at `url`.
    fn failure(&self, thing: &str, name: &str, url: &Url, outcome: Outcome, operation: Operation) -> Failure {
        match outcome {
            Outcome::Value(_) => Failure::failed(format!("{thing}.{name}: unexpected reply from {url}")),
            Outcome::Remote(StatusCode::METHOD_NOT_ALLOWED, error) if operation == Operation::Write => {
                Failure::failed(format!("property `{name}` of `{thing}` is read-only: the server refused to write it"))
                    .detail(format!("the server said: {}: {}", error.kind, error.message))
            }
            Outcome::Remote(StatusCode::SERVICE_UNAVAILABLE, error) => Failure::new(
                Kind::NoAnswer,
                format!("{thing}.{name}: the server cannot serve the Thing right now: {}", error.message),
            ),
            Outcome::Remote(_, error) => self.client_error(remote(thing, name, error)),
            Outcome::Timeout(kind, error) => {
                let mut f =
                    self.client_error(ClientError::ServerTimeout { thing: thing.into(), name: name.into(), kind });
                if let Some(e) = error {
                    f = f.detail(format!("the server said: {}: {}", e.kind, e.message));
                }
                f
            }
            Outcome::Status(status, text) => match (status, operation) {
                (StatusCode::METHOD_NOT_ALLOWED, Operation::Write) => Failure::failed(format!(
                    "property `{name}` of `{thing}` is read-only: the server refused to write it ({text})"
                )),
                (StatusCode::NOT_FOUND, _) => Failure::failed(format!(
                    "{thing}.{name}: the server has nothing at {url} ({text})"
                ))
                .detail("its description names this URL; has the Thing changed since? (`thingwire td` shows it)"),
                (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, _) => {
                    Failure::failed(format!("{thing}.{name}: the server refused the request ({text})"))
                        .detail("it wants credentials, and this command sends none over HTTP")
                }
                (StatusCode::SERVICE_UNAVAILABLE, _) => Failure::new(
                    Kind::NoAnswer,
                    format!("{thing}.{name}: the server cannot serve the Thing right now ({text})"),
                ),
                _ => Failure::failed(format!("{thing}.{name}: the server answered {text}")),
            },
        }
    }
}

/// What was asked, for what an error status means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Describe,
    Read,
    Write,
    Invoke,
    Watch,
}

/// No reply within the deadline (`--timeout`), worded as over ZeroMQ.
fn no_reply(label: &str, url: &Url, limit: Duration) -> Failure {
    Failure::new(Kind::NoAnswer, format!("{label}: no reply from {url} within {}", human_duration(limit)))
        .detail("wait longer with --timeout (e.g. --timeout 60s, or --timeout none)")
}

fn remote(thing: &str, name: &str, error: ErrorObject) -> ClientError {
    ClientError::Remote(Box::new(RemoteError {
        thing: thing.into(),
        name: name.into(),
        kind: error.kind,
        message: error.message,
        traceback: error.traceback,
        notes: error.notes,
    }))
}

/// The status line's own reason phrase, when the server sent one other than the standard one (hololinked
/// says why there: `400 error while decoding request - …`, `408 execution timeout while …`).
fn reason_phrase(response: &reqwest::Response) -> Option<String> {
    response.extensions().get::<hyper::ext::ReasonPhrase>().map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
}

/// `404 Not Found`, or `400 error while decoding request - …` with the server's reason phrase.
fn describe_status(status: StatusCode, reason: Option<&str>) -> String {
    let reason = reason.filter(|r| !r.trim().is_empty()).or(status.canonical_reason()).unwrap_or("");
    format!("{} {reason}", status.as_u16()).trim_end().to_owned()
}

/// What a reply means. A body `{"exception": {…}}` is an error whatever the status.
pub fn interpret(status: StatusCode, reason: Option<&str>, content_type: Option<&str>, body: &[u8]) -> Outcome {
    let value = body_value(content_type, body);
    let exception = value.as_ref().and_then(exception_of);
    if status == StatusCode::REQUEST_TIMEOUT || status == StatusCode::GATEWAY_TIMEOUT {
        let said = format!("{} {}", reason.unwrap_or(""), exception.as_ref().map(|e| e.message.as_str()).unwrap_or(""))
            .to_lowercase();
        let kind = if said.contains("invokation") || said.contains("invocation") {
            TimeoutKind::Invocation
        } else {
            TimeoutKind::Execution
        };
        return Outcome::Timeout(kind, exception);
    }
    if let Some(e) = exception {
        return Outcome::Remote(status, e);
    }
    if !status.is_success() {
        return Outcome::Status(status, describe_status(status, reason));
    }
    Outcome::Value(value.unwrap_or(Value::Null))
}

/// The body as JSON; raw bytes (`{"bytes", "hex"}`) when it is not JSON, text for `text/…`.
fn body_value(content_type: Option<&str>, body: &[u8]) -> Option<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let content_type = content_type.unwrap_or("application/json").to_ascii_lowercase();
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        return Some(v);
    }
    if content_type.starts_with("text/") {
        return Some(Value::String(String::from_utf8_lossy(body).into_owned()));
    }
    Some(output::bytes(body))
}

/// The error of a `{"exception": {…}}` body.
fn exception_of(value: &Value) -> Option<ErrorObject> {
    let inner = value.as_object()?.get("exception")?;
    if !inner.is_object() {
        return None;
    }
    Some(serde_json::from_value::<ErrorPayload>(value.clone()).map(|p| p.exception).unwrap_or_else(|_| ErrorObject {
        message: inner.get("message").and_then(Value::as_str).map_or_else(|| inner.to_string(), str::to_owned),
        kind: inner.get("type").and_then(Value::as_str).unwrap_or("Exception").to_owned(),
        traceback: Vec::new(),
        notes: None,
    }))
}

/// The form of `affordance` for `operation`, with its `href` resolved against the description's `base` (or
/// its own URL) and moved to the scheme, host and port this command reached the description at: hololinked
/// writes its machine's host name into every `href`, which other machines often cannot resolve.
pub fn find_form(td: &Value, reached: &Url, affordance: &Value, operation: &str) -> Option<Target> {
    let forms = affordance.get("forms")?.as_array()?;
    let base = td.get("base").and_then(Value::as_str).and_then(|b| reached.join(b).ok()).unwrap_or(reached.clone());
    let streaming = matches!(operation, op::OBSERVE_PROPERTY | op::SUBSCRIBE_EVENT);
    let mut candidates: Vec<(&Map<String, Value>, Url)> = forms
        .iter()
        .filter_map(Value::as_object)
        .filter(|form| match form.get("op") {
            Some(Value::String(o)) => o == operation,
            Some(Value::Array(ops)) => ops.iter().any(|o| o.as_str() == Some(operation)),
            // WoT's defaults: a property form reads and writes, an action's invokes, an event's subscribes.
            None => {
                matches!(operation, op::READ_PROPERTY | op::WRITE_PROPERTY | op::INVOKE_ACTION | op::SUBSCRIBE_EVENT)
            }
            _ => false,
        })
        .filter_map(|form| {
            let href = form.get("href")?.as_str()?;
            let url = base.join(href).ok()?;
            matches!(url.scheme(), "http" | "https").then_some((form, url))
        })
        .collect();
    if streaming {
        // Server-Sent Events is what this command reads; prefer it over long polling and the like.
        candidates.sort_by_key(|(form, _)| form.get("subprotocol").and_then(Value::as_str) != Some("sse"));
    }
    let (form, href) = candidates.into_iter().next()?;
    let mut url = reached.clone();
    url.set_path(href.path());
    url.set_query(href.query());
    url.set_fragment(None);
    let method = form
        .get("htv:methodName")
        .and_then(Value::as_str)
        .and_then(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
        .unwrap_or(match operation {
            op::WRITE_PROPERTY => Method::PUT,
            op::INVOKE_ACTION => Method::POST,
            _ => Method::GET,
        });
    let content_type = form
        .get("contentType")
        .and_then(Value::as_str)
        .filter(|c| c.to_ascii_lowercase().contains("json"))
        .unwrap_or("application/json")
        .to_owned();
    Some(Target { method, url, content_type })
}

/// The events of a Server-Sent Events response.
fn events(response: reqwest::Response) -> EventStream {
    struct State<S> {
        body: S,
        parser: SseParser,
        ready: VecDeque<Result<Value, String>>,
        done: bool,
    }
    let state = State {
        body: Box::pin(response.bytes_stream()),
        parser: SseParser::default(),
        ready: VecDeque::new(),
        done: false,
    };
    Box::pin(futures::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(item) = s.ready.pop_front() {
                return Some((item, s));
            }
            if s.done {
                return None;
            }
            match s.body.next().await {
                Some(Ok(chunk)) => s.ready.extend(s.parser.feed(&chunk).into_iter().map(|data| event_value(&data))),
                Some(Err(e)) => {
                    s.done = true;
                    s.ready.push_back(Err(format!("the stream broke: {}", causes(&e))));
                }
                None => s.done = true,
            }
        }
    }))
}

/// One event's `data`, as JSON (or the raw text); an `{"exception": …}` the server sent instead is an error.
fn event_value(data: &str) -> Result<Value, String> {
    let value = serde_json::from_str::<Value>(data).unwrap_or_else(|_| Value::String(data.to_owned()));
    match exception_of(&value) {
        Some(e) => Err(format!("the server sent {}: {}", e.kind, e.message)),
        None => Ok(value),
    }
}

/// Splits a `text/event-stream` body into the `data` of its events (the HTML standard's rules: lines end
/// with CR, LF or CRLF; `data:` lines of one event join with LF; a blank line ends an event; comments,
/// `event:`, `id:` and `retry:` are skipped).
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    data: Option<String>,
    after_cr: bool,
}

impl SseParser {
    /// Feeds the next bytes; returns the events they completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        for &b in chunk {
            if std::mem::take(&mut self.after_cr) && b == b'\n' {
                continue;
            }
            match b {
                b'\r' | b'\n' => {
                    self.after_cr = b == b'\r';
                    let line = std::mem::take(&mut self.line);
                    self.line_done(&line, &mut out);
                }
                _ => self.line.push(b),
            }
        }
        out
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<String>) {
        if line.is_empty() {
            if let Some(data) = self.data.take() {
                out.push(data);
            }
            return;
        }
        let line = String::from_utf8_lossy(line);
        if line.starts_with(':') {
            return;
        }
        let (field, value) = line.split_once(':').unwrap_or((&line, ""));
        if field == "data" {
            let value = value.strip_prefix(' ').unwrap_or(value);
            match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            }
        }
    }
}

/// What went wrong at the bottom of an error: `Connection refused (os error 111)`, not reqwest's and hyper's
/// wrappers around it.
fn causes(error: &reqwest::Error) -> String {
    let mut deepest: Option<&dyn std::error::Error> = None;
    let mut next = error.source();
    while let Some(e) = next {
        deepest = Some(e);
        next = e.source();
    }
    deepest.map_or_else(|| error.to_string(), ToString::to_string)
}

/// At most 120 characters of `text`.
fn clip(text: &str) -> String {
    if text.chars().count() <= 120 {
        return text.to_owned();
    }
    let cut: String = text.chars().take(119).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replies_mean_what_their_body_and_status_say() {
        let ok = |body: &str| interpret(StatusCode::OK, None, Some("application/json"), body.as_bytes());
        assert_eq!(ok("2.5"), Outcome::Value(json!(2.5)));
        assert_eq!(ok(""), Outcome::Value(Value::Null));
        assert_eq!(ok("null"), Outcome::Value(Value::Null));
        let error =
            r#"{"exception": {"message": "at most 100", "type": "ValueError", "traceback": ["a"], "notes": null}}"#;
        let Outcome::Remote(StatusCode::OK, e) = ok(error) else { panic!("an exception body is an error") };
        assert_eq!((e.kind.as_str(), e.message.as_str(), e.traceback.len()), ("ValueError", "at most 100", 1));
        // thingwire's binding: the same body with a status.
        let refused = interpret(StatusCode::BAD_REQUEST, None, Some("application/json"), error.as_bytes());
        assert!(
            matches!(refused, Outcome::Remote(StatusCode::BAD_REQUEST, ref e) if e.kind == "ValueError"),
            "{refused:?}"
        );
        // hololinked: an empty body, the reason in the status line.
        let read_only = interpret(StatusCode::METHOD_NOT_ALLOWED, Some("method not allowed"), Some("text/html"), b"");
        assert_eq!(read_only, Outcome::Status(StatusCode::METHOD_NOT_ALLOWED, "405 method not allowed".into()));
        let html = b"<html><title>404: Not Found</title><body>404: Not Found</body></html>";
        let missing = interpret(StatusCode::NOT_FOUND, None, Some("text/html; charset=UTF-8"), html);
        assert_eq!(missing, Outcome::Status(StatusCode::NOT_FOUND, "404 Not Found".into()));
        let slow = Some("execution timeout while executing the operation");
        assert_eq!(
            interpret(StatusCode::REQUEST_TIMEOUT, slow, None, b""),
            Outcome::Timeout(TimeoutKind::Execution, None)
        );
        let queued = Some("invokation timeout while executing the operation");
        assert_eq!(
            interpret(StatusCode::REQUEST_TIMEOUT, queued, None, b""),
            Outcome::Timeout(TimeoutKind::Invocation, None)
        );
        assert!(matches!(interpret(StatusCode::GATEWAY_TIMEOUT, None, None, b""), Outcome::Timeout(..)));
        // Not JSON: raw bytes, or text for text/*.
        assert_eq!(
            interpret(StatusCode::OK, None, Some("image/png"), &[0x89, 0x50]),
            Outcome::Value(output::bytes(&[0x89, 0x50]))
        );
        assert_eq!(interpret(StatusCode::OK, None, Some("text/plain"), b"hi there"), Outcome::Value(json!("hi there")));
        // A property whose value merely has a key `exception` that is not an error object stays a value.
        assert_eq!(ok(r#"{"exception": 3}"#), Outcome::Value(json!({"exception": 3})));
    }

    #[test]
    fn error_statuses_of_thingwires_binding_say_what_happened() {
        let address = match crate::address::parse("http://127.0.0.1:8095") {
            Ok(crate::address::Address::Http(a)) => a,
            other => panic!("{other:?}"),
        };
        let link = HttpLink::new(address, None, Duration::from_secs(1), true, false).expect("client");
        let url = Url::parse("http://127.0.0.1:8095/interop/gain").expect("url");
        let body = |kind: &str, message: &str| {
            json!({"exception": {"message": message, "type": kind, "traceback": [], "notes": null}}).to_string()
        };
        let with = |status: StatusCode, body: &str| interpret(status, None, Some("application/json"), body.as_bytes());
        let fail = |outcome, operation| link.failure("interop", "gain", &url, outcome, operation);

        let refused = fail(with(StatusCode::BAD_REQUEST, &body("ValueError", "at most 100")), Operation::Write);
        assert_eq!(
            (refused.kind, refused.message.as_str()),
            (Kind::Failed, "interop.gain: the server raised ValueError: at most 100")
        );
        let read_only =
            fail(with(StatusCode::METHOD_NOT_ALLOWED, &body("AttributeError", "read-only")), Operation::Write);
        assert!(read_only.message.contains("property `gain` of `interop` is read-only"), "{read_only:?}");
        let plain_405 = fail(interpret(StatusCode::METHOD_NOT_ALLOWED, None, None, b""), Operation::Write);
        assert!(plain_405.message.contains("is read-only") && plain_405.message.contains("405"), "{plain_405:?}");
        let timeout = fail(with(StatusCode::GATEWAY_TIMEOUT, &body("TimeoutError", "execution")), Operation::Invoke);
        assert_eq!(timeout.kind, Kind::NoAnswer);
        assert!(timeout.message.contains("execution timeout"), "{timeout:?}");
        let unavailable =
            fail(with(StatusCode::SERVICE_UNAVAILABLE, &body("RuntimeError", "stopping")), Operation::Read);
        assert_eq!(
            (unavailable.kind, unavailable.message.as_str()),
            (Kind::NoAnswer, "interop.gain: the server cannot serve the Thing right now: stopping")
        );
        let broken = fail(with(StatusCode::INTERNAL_SERVER_ERROR, &body("RuntimeError", "bug")), Operation::Read);
        assert_eq!(broken.kind, Kind::Failed);
        let missing = fail(interpret(StatusCode::NOT_FOUND, None, None, b""), Operation::Read);
        assert!(
            missing.message.contains("nothing at http://127.0.0.1:8095/interop/gain (404 Not Found)"),
            "{missing:?}"
        );
    }

    #[test]
    fn forms_are_found_by_operation_and_moved_to_the_reached_server() {
        let td = json!({
            "properties": {"gain": {"forms": [
                {"href": "http://vm:8095/interop/gain", "op": "readproperty", "htv:methodName": "GET", "contentType": "application/json"},
                {"href": "http://vm:8095/interop/gain", "op": "writeproperty", "htv:methodName": "PUT", "contentType": "application/json"},
                {"href": "http://vm:8095/interop/gain/change-event", "op": "observeproperty", "htv:methodName": "GET", "subprotocol": "sse"}
            ]}, "plain": {"forms": [{"href": "plain"}]}},
            "actions": {"add": {"forms": [
                {"href": "tcp://127.0.0.1:5555", "op": "invokeaction"},
                {"href": "http://vm:8095/interop/add", "op": ["invokeaction"], "htv:methodName": "POST"}
            ]}}
        });
        let reached = Url::parse("http://127.0.0.1:18095/interop/resources/wot-td").expect("url");
        let gain = &td["properties"]["gain"];
        let read = find_form(&td, &reached, gain, op::READ_PROPERTY).expect("read form");
        assert_eq!((read.method, read.url.as_str()), (Method::GET, "http://127.0.0.1:18095/interop/gain"));
        let write = find_form(&td, &reached, gain, op::WRITE_PROPERTY).expect("write form");
        assert_eq!((write.method, write.content_type.as_str()), (Method::PUT, "application/json"));
        let watch = find_form(&td, &reached, gain, op::OBSERVE_PROPERTY).expect("observe form");
        assert_eq!(watch.url.as_str(), "http://127.0.0.1:18095/interop/gain/change-event");
        assert!(find_form(&td, &reached, &td["actions"]["add"], op::READ_PROPERTY).is_none());
        let add = find_form(&td, &reached, &td["actions"]["add"], op::INVOKE_ACTION).expect("http form");
        assert_eq!((add.method, add.url.as_str()), (Method::POST, "http://127.0.0.1:18095/interop/add"));
        // No `op`: a property form reads and writes (WoT's defaults), relative to the description's URL.
        let plain = &td["properties"]["plain"];
        let write = find_form(&td, &reached, plain, op::WRITE_PROPERTY).expect("default op");
        assert_eq!((write.method, write.url.as_str()), (Method::PUT, "http://127.0.0.1:18095/interop/resources/plain"));
        let based = json!({"base": "http://lab:1/things/interop/", "properties": td["properties"].clone()});
        let read = find_form(&based, &reached, &based["properties"]["plain"], op::READ_PROPERTY).expect("base");
        assert_eq!(read.url.as_str(), "http://127.0.0.1:18095/things/interop/plain");
    }

    #[test]
    fn server_sent_events_are_split_as_the_standard_says() {
        let mut p = SseParser::default();
        assert_eq!(p.feed(b"data: {\"value\":7}\n\ndata: 3.5\n"), ["{\"value\":7}"]);
        assert_eq!(p.feed(b"\n"), ["3.5"]);
        // CRLF split across chunks, comments, other fields, multi-line data, no space after the colon.
        assert_eq!(p.feed(b": keep-alive\r"), Vec::<String>::new());
        assert_eq!(p.feed(b"\nevent: tick\r\nid: 4\r\ndata:a\r\ndata: b\r\n\r\n"), ["a\nb"]);
        // A blank line with no data dispatches nothing.
        assert_eq!(p.feed(b"\n\nretry: 100\n\n"), Vec::<String>::new());
        assert_eq!(event_value("{\"value\":1}"), Ok(json!({"value": 1})));
        assert_eq!(event_value("plain"), Ok(json!("plain")));
        let e = event_value(r#"{"exception": {"message": "no", "type": "RuntimeError"}}"#).unwrap_err();
        assert_eq!(e, "the server sent RuntimeError: no");
    }
}
