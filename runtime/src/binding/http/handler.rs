//! HTTP requests as core requests.
//!
//! | route | method | operation |
//! |---|---|---|
//! | `/<thing>/<property>` | `GET` | `readproperty` (with `?messageID=` : the answer of an earlier `noblock` request) |
//! | | `PUT`, `POST` | `writeproperty`, the body the value |
//! | | `DELETE` | `deleteproperty` (refused) |
//! | `/<thing>/<property>/change-event` | `GET` | the property's changes, as Server-Sent Events |
//! | `/<thing>/<action>` | `POST`, `PUT` | `invokeaction`, the body the keyword arguments |
//! | `/<thing>/<event>` | `GET` | the event, as Server-Sent Events |
//! | `/<thing>/properties` | `GET` | `readallproperties`, or `readmultipleproperties` with `?names=a&names=b` |
//! | | `PUT`, `PATCH` | `writemultipleproperties`, the body `{name: value, …}` |
//! | `/<thing>/resources/wot-td`, `…/wot-tm` | `GET` | the Thing Description with this server's forms (HTTP first), the Thing Model |
//! | `/liveness`, `/readiness` | `GET` | `200` while the server runs; readiness `503` once it stops |
//! | `/things`, `/things/{id}`, `/.well-known/wot` | | the Thing Description Directory (`directory.rs`) |
//!
//! Query parameters, as hololinked's: `oneway=true` (`204` at once, no answer), `noblock=true` (`204` with
//! `X-Message-ID`; collect with `GET …?messageID=<id>[&timeout=<s>]`), `invokationTimeout`,
//! `executionTimeout` (seconds), `fetchExecutionLogs=true`; any other parameter is a keyword argument when
//! the request has no body (its value JSON, or a string; repeated: a list).
//!
//! Content types: a body is `application/json` (also when unlabelled, or labelled as a form the way `curl -d`
//! does), `application/msgpack`, or
//! `application/octet-stream` (raw bytes: written to a `Bytes` property, or an action's first positional
//! argument); the answer is JSON unless the request's `Accept` asks for `application/msgpack`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{any, get};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use serde_json::{Map, Value};
use tokio::sync::{Semaphore, oneshot, watch};

use super::directory::{self, Registry};
use super::reply::{self, Answer, Discard, HttpSink};
use super::routes::{Routes, Target, ThingRoutes};
use super::sse::{self, Hub};
use super::{HttpForms, HttpOptions, NAME};
use crate::binding::Control;
use crate::core::{BindingContext, Core, ExecutionContext, HashMap, Operation, RequestHead};
use crate::error::ThingError;
use crate::event::EventKind;
use crate::protocol::{ContentType, names};
use crate::td::ThingDescription;

/// What every request of one server shares.
pub(crate) struct Shared {
    pub(super) core: Arc<Core>,
    pub(super) routes: Routes,
    pub(super) forms: HttpForms,
    pub(super) options: HttpOptions,
    /// The Thing Description Directory's registrations.
    pub(super) directory: Registry,
    hub: Arc<Hub>,
    streams: Arc<Semaphore>,
    noblock: Mutex<HashMap<String, Parked>>,
    shutdown: watch::Receiver<bool>,
}

/// A `noblock` request's answer, waiting to be collected.
struct Parked {
    answer: oneshot::Receiver<Answer>,
    since: tokio::time::Instant,
}

impl Shared {
    pub(crate) fn new(
        core: Arc<Core>,
        forms: HttpForms,
        options: HttpOptions,
        hub: Arc<Hub>,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<Self> {
        let routes = Routes::new(&core);
        let streams = Arc::new(Semaphore::new(options.max_event_streams));
        let directory = Registry::new(options.directory.clone());
        Arc::new(Self { core, routes, forms, options, directory, hub, streams, noblock: Mutex::default(), shutdown })
    }
}

/// What the HTTP binding adds to a request's handling in the core: its forms first in the TD.
struct Via<'a>(&'a HttpForms);

impl BindingContext<HttpSink> for Via<'_> {
    fn name(&self) -> &'static str {
        NAME
    }

    fn describe<'t>(
        &'t self,
        td: ThingDescription<'t>,
        protocol: Option<&str>,
    ) -> Result<ThingDescription<'t>, ThingError> {
        match protocol {
            None => Ok(td.with_forms_first(self.0).documented_as(self.0.scheme())),
            Some(p) if p.eq_ignore_ascii_case("HTTP") => Ok(td.with_forms_first(self.0).documented_as(self.0.scheme())),
            Some(p) => Err(ThingError::value_error(format!("the HTTP binding describes `HTTP`, not `{p}`"))),
        }
    }
}

impl BindingContext<Discard> for Via<'_> {
    fn name(&self) -> &'static str {
        NAME
    }

    fn describe<'t>(&'t self, td: ThingDescription<'t>, _: Option<&str>) -> Result<ThingDescription<'t>, ThingError> {
        Ok(td.with_forms_first(self.0).documented_as(self.0.scheme()))
    }
}

/// The router: hololinked's routes.
fn router(shared: Arc<Shared>) -> Router {
    let max_body = shared.options.max_body;
    let router = Router::new()
        .route("/liveness", get(liveness))
        .route("/readiness", get(readiness))
        .route("/{thing}/properties", any(properties))
        .route("/{thing}/resources/{which}", any(description))
        .route("/{thing}/{name}/change-event", any(changes))
        .route("/{thing}/{name}", any(affordance))
        .fallback(not_found);
    let router = if shared.directory.options().enabled { directory_routes(router) } else { router };
    let router = if shared.options.panel { super::panel::routes(router) } else { router };
    let router = router
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::map_response(reply::rejections_as_errors));
    let router = match cors(&shared.options.cors_origins) {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.with_state(shared)
}

/// The Thing Description Directory's routes (WoT Discovery's Things API and the well-known introduction).
fn directory_routes(router: Router<Arc<Shared>>) -> Router<Arc<Shared>> {
    use axum::routing::get;
    let things = get(directory::list).post(directory::create_anonymous).fallback(directory::things_method);
    let thing = get(directory::retrieve)
        .put(directory::put)
        .patch(directory::patch)
        .delete(directory::delete)
        .fallback(directory::thing_method);
    router
        .route("/things", things.clone())
        .route("/things/", things)
        .route("/things/{*id}", thing)
        .route("/.well-known/wot", get(directory::well_known))
}

fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    let methods = [Method::GET, Method::PUT, Method::POST, Method::PATCH, Method::DELETE, Method::OPTIONS];
    let headers = [header::CONTENT_TYPE, header::ACCEPT, header::AUTHORIZATION];
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods(methods)
            .allow_headers(headers)
            .expose_headers([header::HeaderName::from_static("x-message-id")]),
    )
}

/// Accepts connections until the server stops; each is served by hyper (HTTP/1.1, or HTTP/2 when the client
/// starts with its preface or, over TLS, chooses it) until it closes or, at shutdown, finishes its requests
/// within the grace period.
pub(crate) async fn accept_loop(
    listener: tokio::net::TcpListener,
    local: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    mut control: Control,
) {
    let timeout = shared.options.header_read_timeout;
    let router = router(shared);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(timeout).keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let (router, builder, watcher) = (router.clone(), builder.clone(), graceful.watcher());
                    match &tls {
                        None => {
                            tokio::spawn(serve_connection(builder, stream, peer, router, watcher));
                        }
                        Some(acceptor) => {
                            let acceptor = acceptor.clone();
                            tokio::spawn(async move {
                                match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                                    Ok(Ok(stream)) => serve_connection(builder, stream, peer, router, watcher).await,
                                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                                }
                            });
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(%local, error = %e, "accepting an HTTP connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stopping(&mut control.shutdown) => break,
        }
    }
    drop(listener);
    // Finish the requests in progress (event streams end with the publisher) within the grace period.
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
}

/// Serves one connection (plain or TLS) with the router, each request knowing its client's address.
async fn serve_connection<S>(
    builder: hyper_util::server::conn::auto::Builder<TokioExecutor>,
    stream: S,
    peer: SocketAddr,
    router: Router,
    watcher: hyper_util::server::graceful::Watcher,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: http::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(Peer(peer));
        tower::ServiceExt::oneshot(router.clone(), request)
    });
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    if let Err(e) = watcher.watch(connection.into_owned()).await {
        tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
    }
}

/// Whether a `Host` header is a plain `host[:port]` (no path, query or user part) fit for an `href`.
fn valid_authority(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

/// Resolves once the server stops.
async fn stopping(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await.is_ok();
}

/// The client's address, for the failure log.
#[derive(Debug, Clone, Copy)]
struct Peer(SocketAddr);

fn peer_of(headers: &http::Extensions) -> String {
    headers.get::<Peer>().map(|p| p.0.to_string()).unwrap_or_default()
}

async fn liveness() -> Response {
    reply::empty(StatusCode::OK)
}

async fn readiness(State(shared): State<Arc<Shared>>) -> Response {
    if *shared.shutdown.borrow() { reply::empty(StatusCode::SERVICE_UNAVAILABLE) } else { reply::empty(StatusCode::OK) }
}

async fn not_found(uri: http::Uri) -> Response {
    let message = format!(
        "no route `{}`: things are at /<thing>/<property|action|event>, their descriptions at \
         /<thing>/resources/wot-td",
        uri.path()
    );
    reply::refusal(StatusCode::NOT_FOUND, ThingError::key_error(message))
}

/// The query parameters of a request.
#[derive(Debug, Default)]
struct Query {
    context: ExecutionContext,
    noblock: bool,
    message_id: Option<String>,
    wait: Option<Duration>,
    /// Everything else: keyword arguments.
    extra: Map<String, Value>,
}

fn seconds(name: &str, value: &Value) -> Result<Duration, ThingError> {
    match value.as_f64() {
        Some(s) if (0.0..1e9).contains(&s) => Ok(Duration::from_secs_f64(s)),
        _ => Err(ThingError::value_error(format!("`{name}` must be a number of seconds, got {value}"))),
    }
}

fn truthy(name: &str, value: &Value) -> Result<bool, ThingError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) => Ok(n.as_f64() != Some(0.0)),
        other => Err(ThingError::value_error(format!("`{name}` must be true or false, got {other}"))),
    }
}

fn parse_query(raw: Option<&str>) -> Result<Query, ThingError> {
    let mut query = Query::default();
    let Some(raw) = raw.filter(|r| !r.is_empty()) else { return Ok(query) };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
        .map_err(|e| ThingError::value_error(format!("the query string is not valid: {e}")))?;
    let mut values: Map<String, Value> = Map::new();
    for (key, text) in pairs {
        if key == "messageID" {
            query.message_id = Some(text);
            continue;
        }
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        match values.get_mut(&key) {
            Some(Value::Array(list)) if key_repeats(&key) => list.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None if key_repeats(&key) => {
                values.insert(key, Value::Array(vec![value]));
            }
            None => {
                values.insert(key, value);
            }
        }
    }
    for (key, value) in values {
        match key.as_str() {
            "oneway" => query.context.oneway = truthy(&key, &value)?,
            "noblock" => query.noblock = truthy(&key, &value)?,
            "fetchExecutionLogs" => query.context.fetch_logs = truthy(&key, &value)?,
            "invokationTimeout" | "invocationTimeout" => {
                query.context.invocation_timeout = Some(seconds(&key, &value)?)
            }
            "executionTimeout" => query.context.execution_timeout = Some(seconds(&key, &value)?),
            "timeout" => query.wait = Some(seconds(&key, &value)?),
            _ => {
                query.extra.insert(key, value);
            }
        }
    }
    Ok(query)
}

/// Parameters that are lists even when given once.
fn key_repeats(key: &str) -> bool {
    key == "names"
}

/// How a request's body is encoded, and how its answer will be.
struct Encoding {
    /// The content type the core decodes the payload in and encodes the answer in.
    content_type: ContentType,
    payload: Vec<u8>,
    preserialized: Vec<u8>,
}

fn media_type(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
}

fn wants_msgpack(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.split(',').any(|t| t.trim().starts_with("application/msgpack")))
}

/// The payload for the core: the body in the answer's encoding (transcoded when the body's differs), the
/// query's keyword arguments when there is no body, raw bytes as preserialized.
fn encode_body(
    headers: &HeaderMap,
    body: &[u8],
    extra: Map<String, Value>,
) -> Result<Encoding, (StatusCode, ThingError)> {
    let answer = if wants_msgpack(headers) { ContentType::Msgpack } else { ContentType::Json };
    let encode = |value: &Value| -> Vec<u8> {
        if answer.is_msgpack() {
            rmp_serde::to_vec_named(value).unwrap_or_default()
        } else {
            serde_json::to_vec(value).unwrap_or_default()
        }
    };
    let nothing = || if extra.is_empty() { Value::Null } else { Value::Object(extra.clone()) };
    let bad = |e: String| (StatusCode::BAD_REQUEST, ThingError::new("DecodeError", e));
    let body_type = media_type(headers, header::CONTENT_TYPE).unwrap_or_default();
    let (payload, preserialized) = match body_type.as_str() {
        _ if body.is_empty() => (encode(&nothing()), Vec::new()),
        // curl's `-d` labels a body `application/x-www-form-urlencoded`: taken as the JSON it usually is.
        "" | "application/json" | "text/json" | "application/x-www-form-urlencoded" => {
            if answer.is_msgpack() {
                let value: Value =
                    serde_json::from_slice(body).map_err(|e| bad(format!("the body is not valid JSON: {e}")))?;
                (encode(&value), Vec::new())
            } else {
                (body.to_vec(), Vec::new())
            }
        }
        "application/msgpack" | "application/x-msgpack" => {
            if answer.is_msgpack() {
                (body.to_vec(), Vec::new())
            } else {
                let value: Value = crate::protocol::decode(body, &ContentType::Msgpack)
                    .map_err(|e| bad(format!("the body is not valid msgpack: {e}")))?;
                (encode(&value), Vec::new())
            }
        }
        "application/octet-stream" => (encode(&nothing()), body.to_vec()),
        other => {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ThingError::value_error(format!(
                    "the body's content type `{other}` is not supported; send application/json, application/msgpack \
                     or application/octet-stream"
                )),
            ));
        }
    };
    Ok(Encoding { content_type: answer, payload, preserialized })
}

/// Finds the Thing, or answers 404 with a suggestion.
#[allow(clippy::result_large_err, reason = "the error is the response to send, made once per refused request")]
fn thing<'s>(shared: &'s Shared, id: &str) -> Result<&'s ThingRoutes, Response> {
    shared.routes.thing(id).ok_or_else(|| unknown_thing(shared, id))
}

/// `404` for a Thing the server does not serve, with the closest id it does.
pub(super) fn unknown_thing(shared: &Shared, id: &str) -> Response {
    let ids = shared.routes.ids();
    let message = match crate::suggest::closest(id, ids.iter().copied()) {
        Some(s) => format!("no thing with id `{id}` on server `{}`, did you mean `{s}`?", shared.core.server_id()),
        None => format!("no thing with id `{id}` on server `{}`; it serves {ids:?}", shared.core.server_id()),
    };
    reply::refusal(StatusCode::NOT_FOUND, ThingError::key_error(message))
}

fn unknown_name(routes: &ThingRoutes, name: &str) -> Response {
    let message =
        crate::core::scheduler::unknown_name("property, action or event", name, &routes.id, routes.segments());
    reply::refusal(StatusCode::NOT_FOUND, ThingError::key_error(message))
}

fn method_not_allowed(allow: &'static str, what: &str) -> Response {
    let mut response = reply::refusal(
        StatusCode::METHOD_NOT_ALLOWED,
        ThingError::new("MethodNotAllowed", format!("{what}: use {allow}")),
    );
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// One operation on the core, answered as the query asks: at once (`oneway`), later (`noblock`), or now.
/// What a request asks of the core.
struct Call<'a> {
    thing: &'a str,
    name: &'a str,
    operation: Operation,
    /// The forms of the TD it may ask for (the server's, or those of the address the client used).
    forms: Option<&'a HttpForms>,
}

async fn run(
    shared: &Shared,
    Call { thing, name, operation, forms }: Call<'_>,
    query: Query,
    headers: &HeaderMap,
    body: &[u8],
    client: String,
) -> Response {
    let Query { context, noblock, extra, .. } = query;
    if operation == Operation::WriteProperty && body.is_empty() && extra.is_empty() {
        return reply::refusal(
            StatusCode::BAD_REQUEST,
            ThingError::value_error(format!(
                "writing `{name}` takes the new value as the request's body (JSON, e.g. `curl -X PUT -d 2.5 …`), \
                 and this request has none"
            )),
        );
    }
    let encoding = match encode_body(headers, body, extra) {
        Ok(e) => e,
        Err((status, e)) => return reply::refusal(status, e),
    };
    let head = RequestHead {
        id: "",
        thing_id: thing,
        name,
        operation: operation.as_str(),
        content_type: encoding.content_type,
        context,
    };
    let body = (encoding.payload, encoding.preserialized);
    let mut via = Via(forms.unwrap_or(&shared.forms));
    if context.oneway {
        shared.core.submit(&head, body, Discard(client), &mut via);
        return reply::empty(StatusCode::NO_CONTENT);
    }
    let (sink, answer) = HttpSink::new(client);
    shared.core.submit(&head, body, sink, &mut via);
    if noblock {
        return park(shared, answer);
    }
    match answer.await {
        Ok(answer) => reply::answer_response(answer, shared.options.hololinked_errors),
        Err(_) => reply::refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            ThingError::runtime("the server gave up on the request without an answer (it is shutting down)"),
        ),
    }
}

/// Keeps a `noblock` request's answer for collection: `204` with its `X-Message-ID`.
fn park(shared: &Shared, answer: oneshot::Receiver<Answer>) -> Response {
    let mut parked = shared.noblock.lock().unwrap_or_else(|p| p.into_inner());
    let keep = shared.options.noblock_keep;
    parked.retain(|_, p| p.since.elapsed() < keep);
    if parked.len() >= shared.options.max_noblock {
        return reply::refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            ThingError::runtime(format!(
                "{} noblock answers wait to be collected (the limit): collect them with ?messageID=<id> first",
                parked.len()
            )),
        );
    }
    let id = crate::util::random_hex(16);
    parked.insert(id.clone(), Parked { answer, since: tokio::time::Instant::now() });
    let mut response = reply::empty(StatusCode::NO_CONTENT);
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(header::HeaderName::from_static("x-message-id"), value);
    }
    response
}

/// Collects a `noblock` answer: it, `408` when not ready within `wait` (ask again), `404` when unknown.
async fn collect(shared: &Shared, id: &str, wait: Option<Duration>) -> Response {
    let parked = shared.noblock.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    let Some(mut parked) = parked else {
        return reply::refusal(
            StatusCode::NOT_FOUND,
            ThingError::key_error(format!("no noblock answer with message id `{id}`: unknown, collected, or expired")),
        );
    };
    let wait = wait.unwrap_or(Duration::from_secs(10));
    match tokio::time::timeout(wait, &mut parked.answer).await {
        Ok(Ok(answer)) => reply::answer_response(answer, shared.options.hololinked_errors),
        Ok(Err(_)) => reply::refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            ThingError::runtime("the server gave up on the request without an answer (it is shutting down)"),
        ),
        Err(_) => {
            shared.noblock.lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_owned(), parked);
            reply::refusal(
                StatusCode::REQUEST_TIMEOUT,
                ThingError::new("TimeoutError", format!("the answer of `{id}` is not ready yet: ask again later")),
            )
        }
    }
}

/// Checks the request's credentials when the server requires some: `401` with a challenge when they fail.
#[allow(clippy::result_large_err, reason = "the error is the response to send, made once per refused request")]
pub(super) fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    let Some(auth) = &shared.options.auth else { return Ok(()) };
    auth.check(headers).map_err(|why| {
        let mut response = reply::refusal(StatusCode::UNAUTHORIZED, ThingError::new("PermissionError", why));
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(auth.challenge()));
        response
    })
}

#[allow(clippy::result_large_err, reason = "the error is the response to send, made once per refused request")]
fn query_or_refusal(raw: Option<&str>) -> Result<Query, Response> {
    parse_query(raw).map_err(|e| reply::refusal(StatusCode::BAD_REQUEST, e))
}

#[allow(clippy::too_many_arguments, reason = "axum extractors, one per part of the request")]
async fn affordance(
    State(shared): State<Arc<Shared>>,
    Path((thing_id, segment)): Path<(String, String)>,
    method: Method,
    RawQuery(raw): RawQuery,
    extensions: http::Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(response) = authorize(&shared, &headers) {
        return response;
    }
    let routes = match thing(&shared, &thing_id) {
        Ok(r) => r,
        Err(response) => return response,
    };
    let Some(target) = routes.target(&segment) else { return unknown_name(routes, &segment) };
    let query = match query_or_refusal(raw.as_deref()) {
        Ok(q) => q,
        Err(response) => return response,
    };
    let client = peer_of(&extensions);
    let id = Arc::clone(&routes.id);
    let operation = match (target, &method) {
        (Target::Property(_) | Target::Action(_) | Target::BuiltIn(_), &Method::GET) if query.message_id.is_some() => {
            let message_id = query.message_id.clone().unwrap_or_default();
            return collect(&shared, &message_id, query.wait).await;
        }
        (Target::Property(p), &Method::GET) => (p.name, Operation::ReadProperty),
        (Target::Property(p), &Method::PUT | &Method::POST) => (p.name, Operation::WriteProperty),
        (Target::Property(p), &Method::DELETE) => (p.name, Operation::DeleteProperty),
        (Target::Property(p), _) => {
            let allow = if p.read_only { "GET" } else { "GET, PUT" };
            return method_not_allowed(allow, &format!("property `{}`", p.name));
        }
        (Target::Action(a), &Method::POST | &Method::PUT) => (a.name, Operation::InvokeAction),
        (Target::BuiltIn(name), &Method::POST | &Method::PUT) => (name, Operation::InvokeAction),
        (Target::Action(_) | Target::BuiltIn(_), _) => {
            return method_not_allowed("POST", &format!("action `{segment}`"));
        }
        (Target::Event(e), &Method::GET) => return events(&shared, &id, e.name, EventKind::Event),
        (Target::Event(e), _) => {
            return method_not_allowed("GET", &format!("event `{}` (an event stream)", e.name));
        }
    };
    let (name, operation) = operation;
    run(&shared, Call { thing: &id, name, operation, forms: None }, query, &headers, &body, client).await
}

async fn changes(
    State(shared): State<Arc<Shared>>,
    Path((thing_id, segment)): Path<(String, String)>,
    method: Method,
) -> Response {
    if method != Method::GET {
        return method_not_allowed("GET", "a property's change events (an event stream)");
    }
    let routes = match thing(&shared, &thing_id) {
        Ok(r) => r,
        Err(response) => return response,
    };
    match routes.target(&segment) {
        Some(Target::Property(p)) if p.observable => events(&shared, &routes.id, p.name, EventKind::PropertyChange),
        Some(Target::Property(p)) => reply::refusal(
            StatusCode::NOT_FOUND,
            ThingError::key_error(format!(
                "property `{}` of `{}` is not observable: it has no changes to stream",
                p.name, routes.id
            )),
        ),
        _ => unknown_name(routes, &segment),
    }
}

/// An event stream, if a slot is free.
fn events(shared: &Shared, thing: &str, name: &str, kind: EventKind) -> Response {
    let Ok(slot) = Arc::clone(&shared.streams).try_acquire_owned() else {
        // 429, not 503: event-stream clients (node-wot's) retry a 503 every second, forever.
        return reply::refusal(
            StatusCode::TOO_MANY_REQUESTS,
            ThingError::runtime(format!(
                "the server has {} event streams open, its limit: close unused ones or raise HttpOptions::max_event_streams",
                shared.options.max_event_streams
            )),
        );
    };
    let rx = shared.hub.subscribe(thing, name, kind);
    let mut response = Response::new(Body::from_stream(sse::stream(rx, slot)));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn properties(
    State(shared): State<Arc<Shared>>,
    Path(thing_id): Path<String>,
    method: Method,
    RawQuery(raw): RawQuery,
    extensions: http::Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(response) = authorize(&shared, &headers) {
        return response;
    }
    let routes = match thing(&shared, &thing_id) {
        Ok(r) => r,
        Err(response) => return response,
    };
    let mut query = match query_or_refusal(raw.as_deref()) {
        Ok(q) => q,
        Err(response) => return response,
    };
    let client = peer_of(&extensions);
    let id = Arc::clone(&routes.id);
    match method {
        Method::GET if query.message_id.is_some() => {
            let message_id = query.message_id.take().unwrap_or_default();
            collect(&shared, &message_id, query.wait).await
        }
        Method::GET => match query.extra.remove("names") {
            Some(Value::Array(list)) => {
                let names: Vec<String> =
                    list.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect();
                let joined = names.join(",");
                let call =
                    Call { thing: &id, name: &joined, operation: Operation::ReadMultipleProperties, forms: None };
                run(&shared, call, query, &headers, &[], client).await
            }
            _ => {
                let call = Call { thing: &id, name: "", operation: Operation::ReadAllProperties, forms: None };
                run(&shared, call, query, &headers, &[], client).await
            }
        },
        Method::PUT | Method::PATCH => {
            let call = Call { thing: &id, name: "", operation: Operation::WriteMultipleProperties, forms: None };
            run(&shared, call, query, &headers, &body, client).await
        }
        _ => method_not_allowed("GET, PUT, PATCH", "properties"),
    }
}

async fn description(
    State(shared): State<Arc<Shared>>,
    Path((thing_id, which)): Path<(String, String)>,
    method: Method,
    RawQuery(raw): RawQuery,
    extensions: http::Extensions,
    headers: HeaderMap,
) -> Response {
    if method != Method::GET {
        return method_not_allowed("GET", "a Thing's description");
    }
    let routes = match thing(&shared, &thing_id) {
        Ok(r) => r,
        Err(response) => return response,
    };
    let action = match which.as_str() {
        "wot-td" => names::GET_THING_DESCRIPTION,
        "wot-tm" => names::GET_THING_MODEL,
        other => {
            return reply::refusal(
                StatusCode::NOT_FOUND,
                ThingError::key_error(format!("no resource `{other}`: there are wot-td and wot-tm")),
            );
        }
    };
    let mut query = match query_or_refusal(raw.as_deref()) {
        Ok(q) => q,
        Err(response) => return response,
    };
    // hololinked's client adds `use_localhost` (and may add more): only the description's own arguments count.
    let own = |key: &str| action == names::GET_THING_DESCRIPTION && (key == "skip_names" || key == "ignore_errors");
    query.extra.retain(|key, _| own(key));
    let id = Arc::clone(&routes.id);
    let reached = reached_forms(&shared, &headers);
    let mut response = run(
        &shared,
        Call { thing: &id, name: action, operation: Operation::InvokeAction, forms: reached.as_ref() },
        query,
        &headers,
        &[],
        peer_of(&extensions),
    )
    .await;
    if response.status() == StatusCode::OK && action == names::GET_THING_DESCRIPTION {
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/td+json"));
    }
    response
}

/// The forms of the address this client reached the server at (its `Host` header): a server bound to
/// `0.0.0.0` has many addresses. `None` without a usable `Host`.
pub(super) fn reached_forms(shared: &Shared, headers: &HeaderMap) -> Option<HttpForms> {
    headers.get(header::HOST).and_then(|h| h.to_str().ok()).filter(|h| valid_authority(h)).map(|host| {
        let scheme = shared.forms.base().split("://").next().unwrap_or("http");
        HttpForms::new(format!("{scheme}://{host}")).secured_by(shared.forms.scheme().cloned())
    })
}

/// The TD of the server's Thing `thing` as served through this binding (with `forms`, else the server's), as
/// `get_thing_description` answers it; the error's message when it fails.
pub(super) async fn thing_description(
    shared: &Shared,
    thing: &str,
    forms: Option<&HttpForms>,
) -> Result<Value, String> {
    let head = RequestHead {
        id: "",
        thing_id: thing,
        name: names::GET_THING_DESCRIPTION,
        operation: Operation::InvokeAction.as_str(),
        content_type: ContentType::Json,
        context: ExecutionContext::default(),
    };
    let (sink, answer) = HttpSink::new("thingwire directory".to_owned());
    shared.core.submit(&head, (b"null".to_vec(), Vec::new()), sink, &mut Via(forms.unwrap_or(&shared.forms)));
    match answer.await {
        Ok(Answer::Value { payload, .. }) => serde_json::from_slice(&payload).map_err(|e| e.to_string()),
        Ok(Answer::Error { object, .. }) => Err(object.message),
        Ok(Answer::Timeout(kind)) => Err(format!("the {} timeout expired", kind.as_str())),
        Err(_) => Err("the server gave up on the request (it is shutting down)".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_hololinkeds() {
        let q =
            parse_query(Some("oneway=true&executionTimeout=0.5&invokationTimeout=2&fetchExecutionLogs=true&a=1&b=x"))
                .expect("parses");
        assert!(q.context.oneway && q.context.fetch_logs);
        assert_eq!(q.context.execution_timeout, Some(Duration::from_millis(500)));
        assert_eq!(q.context.invocation_timeout, Some(Duration::from_secs(2)));
        assert_eq!(Value::Object(q.extra), serde_json::json!({"a": 1, "b": "x"}));
        let q = parse_query(Some("names=a&names=b&messageID=1765e270")).expect("parses");
        assert_eq!(q.extra["names"], serde_json::json!(["a", "b"]));
        assert_eq!(q.message_id.as_deref(), Some("1765e270"), "a message id stays text");
        let q = parse_query(Some("names=a")).expect("parses");
        assert_eq!(q.extra["names"], serde_json::json!(["a"]), "names is always a list");
        assert!(parse_query(Some("executionTimeout=soon")).expect_err("refused").message.contains("seconds"));
        assert!(parse_query(Some("oneway=maybe")).expect_err("refused").message.contains("true or false"));
    }
}
