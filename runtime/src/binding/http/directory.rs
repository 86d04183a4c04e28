//! A W3C WoT Discovery Thing Description Directory on the HTTP binding (WoT Discovery 1.0, §7.3 "Directory
//! Service API", the Things API), and the directory's own TD at `/.well-known/wot` (§6, the well-known
//! introduction).
//!
//! | route | method | answer |
//! |---|---|---|
//! | `/things` | `GET` | every TD, sorted by `id`, `application/ld+json`; `?offset=&limit=` pages with `Link: <…>; rel="next"` and `rel="canonical"; etag=…`; `?format=collection` wraps the page in a `ThingCollection` |
//! | | `POST` | registers an anonymous TD: `201` with `Location: /things/urn:uuid:…` |
//! | `/things/{id}` | `GET` | the TD, `application/td+json` |
//! | | `PUT` | creates (`201`) or replaces (`204`) the TD with this `id` |
//! | | `PATCH` | merges an `application/merge-patch+json` document (RFC 7396) into it: `204` |
//! | | `DELETE` | removes it: `204` |
//! | `/.well-known/wot` | `GET` | the directory's own TD (`@type: ThingDirectory`) |
//!
//! The server's own Things are listed as they are served through this binding (read from the core, so a
//! gateway's remote Things are listed too) and cannot be replaced, patched or deleted. Registrations of
//! other Things are accepted only with [`DirectoryOptions::accept_registrations`]; the directory adds their
//! `registration` information (`created`, `modified`, `expires`, `ttl`, `retrieved`), and a registration
//! with a `ttl` or an `expires` is gone once it expires. Refusals are Problem Details (RFC 7807,
//! `application/problem+json`), validation failures with `validationErrors`, as the specification asks.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use chrono::{DateTime, SecondsFormat, Utc};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use super::handler::{self, Shared};
use super::{HttpForms, reply};
use crate::td::SecurityScheme;

/// The JSON-LD context of WoT Discovery's terms (`registration`, `ThingDirectory`, `ThingCollection`), which
/// every TD carrying registration information names.
pub const DISCOVERY_CONTEXT: &str = "https://www.w3.org/2022/wot/discovery";

/// The TD contexts a submitted TD must name in its `@context` (TD 1.1, TD 1.0, and TD 1.0's namespace).
const TD_CONTEXTS: [&str; 3] = [crate::td::TD_CONTEXT, crate::td::TD_CONTEXT_V1, "http://www.w3.org/ns/td"];

/// The longest `ttl` accepted, in seconds (about 30 years): beyond it a time would overflow.
const MAX_TTL: f64 = 1e9;

/// The longest TD `id` accepted, in bytes.
const MAX_ID: usize = 2048;

/// How often expired registrations are purged (they are never listed or returned once expired, purged or not).
const PURGE_EVERY: Duration = Duration::from_secs(1);

/// How long the TD of one of the server's own Things may take to be produced (a gateway's remote Thing).
const OWN_TD_TIMEOUT: Duration = Duration::from_secs(5);

/// Thing ids the directory's routes take: a Thing with one of these ids would be unreachable over HTTP.
pub(crate) const RESERVED_IDS: [&str; 2] = ["things", ".well-known"];

/// The Thing Description Directory the HTTP binding serves (see [`HttpOptions::directory`](super::HttpOptions::directory)
/// and the guide's section "A Thing Directory").
#[derive(Debug, Clone)]
pub struct DirectoryOptions {
    /// Serve the directory: `GET /things`, `GET /things/{id}` and `/.well-known/wot`, listing the server's
    /// own Things. Default on. While it is on, Things may not have the ids `things` or `.well-known` (the
    /// server refuses to start).
    pub enabled: bool,
    /// Also accept registrations of other Things' TDs: `PUT`, `POST`, `PATCH` and `DELETE` on `/things`.
    /// Default off. With it, anyone who may use the server (see [`HttpOptions::auth`](super::HttpOptions::auth))
    /// may register, replace and remove registrations.
    pub accept_registrations: bool,
    /// Most registrations held at once (the server's own Things not counted); a new one beyond it gets `507`.
    /// Default 1000.
    pub max_registrations: usize,
    /// Largest TD (or merge patch) accepted, in bytes; a larger one gets `413`. Default 256 KiB.
    pub max_td_size: usize,
    /// Most TDs in one page of the listing: a request without `limit`, or with a larger one, gets this many
    /// and a `next` link. Default 100.
    pub max_page: usize,
}

impl Default for DirectoryOptions {
    fn default() -> Self {
        Self {
            enabled: true,
            accept_registrations: false,
            max_registrations: 1000,
            max_td_size: 256 << 10,
            max_page: 100,
        }
    }
}

/// The registrations of other Things' TDs.
pub(super) struct Registry {
    options: DirectoryOptions,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: BTreeMap<String, Entry>,
    /// Changes with every registration and removal: the listing's `etag`.
    revision: u64,
}

/// One registration: the TD as submitted (without `registration`), and its registration information.
struct Entry {
    td: Map<String, Value>,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
    expiry: Expiry,
}

/// When a registration expires: after `ttl` seconds from its last modification, or at `expires`.
#[derive(Debug, Clone, Copy, Default)]
struct Expiry {
    ttl: Option<f64>,
    expires: Option<DateTime<Utc>>,
}

impl Inner {
    /// Removes the registrations that have expired by `now`.
    fn purge(&mut self, now: DateTime<Utc>) {
        let before = self.entries.len();
        self.entries.retain(|_, e| e.expiry.expires.is_none_or(|at| at > now));
        if self.entries.len() != before {
            self.revision += 1;
        }
    }
}

impl Registry {
    pub(super) fn new(options: DirectoryOptions) -> Self {
        Self { options, inner: Mutex::default() }
    }

    pub(super) fn options(&self) -> &DirectoryOptions {
        &self.options
    }

    /// The registrations, without those expired by `now`.
    fn lock(&self, now: DateTime<Utc>) -> MutexGuard<'_, Inner> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.purge(now);
        inner
    }
}

/// Purges expired registrations every second until the server stops, so that memory follows the live ones.
pub(super) async fn purge_loop(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(PURGE_EVERY) => { drop(shared.directory.lock(Utc::now())); }
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Answers

/// A refusal as Problem Details (RFC 7807): `title` (the status's phrase), `status`, and `detail`, which says
/// what was wrong and what to do.
pub(super) fn problem(status: StatusCode, detail: impl Into<String>) -> Response {
    reply::problem(status, detail.into(), None)
}

fn problem_with(status: StatusCode, detail: String, errors: &[Invalid]) -> Response {
    let validation = (!errors.is_empty())
        .then(|| errors.iter().map(|e| json!({"field": e.field, "description": e.description})).collect());
    reply::problem(status, detail, validation)
}

fn method_not_allowed(allow: &'static str, detail: String) -> Response {
    let mut response = problem(StatusCode::METHOD_NOT_ALLOWED, detail);
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

fn json_response(status: StatusCode, content_type: &str, value: &Value) -> Response {
    reply::bytes_response(status, content_type, serde_json::to_vec(value).unwrap_or_default())
}

fn no_content() -> Response {
    reply::empty(StatusCode::NO_CONTENT)
}

/// The path of a TD in the directory: `/things/<id, percent-encoded>`.
fn location(id: &str) -> String {
    let mut path = String::from("/things/");
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':' | b'@') {
            path.push(char::from(b));
        } else {
            path.push_str(&format!("%{b:02X}"));
        }
    }
    path
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

// ---------------------------------------------------------------------------------------------------------
// The server's own Things

/// The TDs of the server's own Things, as served through this binding (forms for `forms`, else the
/// server's), by TD id.
async fn own_tds(shared: &Shared, forms: Option<&HttpForms>) -> Vec<(String, Value)> {
    let mut tds = Vec::new();
    let ids: Vec<String> = shared.core.thing_ids().into_iter().map(str::to_owned).collect();
    for thing in ids {
        match tokio::time::timeout(OWN_TD_TIMEOUT, handler::thing_description(shared, &thing, forms)).await {
            Ok(Ok(td)) => {
                let id = td
                    .get("id")
                    .and_then(Value::as_str)
                    .map_or_else(|| crate::td::thing_urn(shared.core.server_id(), &thing), str::to_owned);
                tds.push((id, td));
            }
            Ok(Err(why)) => tracing::warn!(%thing, %why, "the directory cannot list a Thing: its TD failed"),
            Err(_) => tracing::warn!(%thing, "the directory cannot list a Thing: its TD took longer than 5 s"),
        }
    }
    tds.sort_by(|a, b| a.0.cmp(&b.0));
    tds
}

/// Checks the request's credentials when the server requires some: `401` with a challenge when they fail.
#[allow(clippy::result_large_err, reason = "the error is the response to send, made once per refused request")]
fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    let Some(auth) = &shared.options.auth else { return Ok(()) };
    auth.check(headers).map_err(|why| {
        let mut response = problem(
            StatusCode::UNAUTHORIZED,
            format!("{why}: this directory requires the credentials its TD names (GET /.well-known/wot)"),
        );
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(auth.challenge()));
        response
    })
}

/// Refuses a write to one of the server's own Things.
async fn refuse_own(shared: &Shared, id: &str, what: &str) -> Option<Response> {
    let own = own_tds(shared, None).await;
    own.iter().any(|(own, _)| own == id).then(|| {
        problem(
            StatusCode::FORBIDDEN,
            format!(
                "`{id}` is one of this server's own Things: its description follows the Thing and cannot be \
                 {what} through the directory; register other Things under other ids"
            ),
        )
    })
}

/// Refuses writes unless registrations are accepted.
#[allow(clippy::result_large_err, reason = "the error is the response to send, made once per refused request")]
fn writable(shared: &Shared, allow: &'static str) -> Result<(), Response> {
    if shared.directory.options.accept_registrations {
        return Ok(());
    }
    Err(method_not_allowed(
        allow,
        "this directory lists the server's own Things and accepts no registrations; its operator enables them \
         with HttpOptions { directory: DirectoryOptions { accept_registrations: true, .. }, .. }"
            .to_owned(),
    ))
}

// ---------------------------------------------------------------------------------------------------------
// Listing

/// How the listing was asked for.
#[derive(Debug, PartialEq)]
struct Page {
    offset: usize,
    /// As asked (`None`: not given), before the server's maximum applies.
    limit: Option<usize>,
    collection: bool,
}

fn parse_page(raw: Option<&str>) -> Result<Page, String> {
    let mut page = Page { offset: 0, limit: None, collection: false };
    let Some(raw) = raw.filter(|r| !r.is_empty()) else { return Ok(page) };
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw).map_err(|e| format!("the query string is not valid: {e}"))?;
    let mut seen = Vec::new();
    for (key, value) in pairs {
        if seen.contains(&key) {
            return Err(format!("`{key}` is given twice: give it once"));
        }
        let count = |what: &str| -> Result<usize, String> {
            value.parse::<usize>().map_err(|_| format!("`{key}` must be {what}, got `{value}`"))
        };
        match key.as_str() {
            "offset" => page.offset = count("a whole number of TDs to skip (0 or more)")?,
            "limit" => match count("a whole number of TDs per page (1 or more)")? {
                0 => return Err("`limit` must be a whole number of TDs per page (1 or more), got `0`".to_owned()),
                n => page.limit = Some(n),
            },
            "format" => match value.as_str() {
                "array" => page.collection = false,
                "collection" => page.collection = true,
                other => return Err(format!("`format` must be `array` or `collection`, got `{other}`")),
            },
            "sort_by" | "sort_order" => {
                return Err(format!(
                    "`{key}` is not supported: the listing is always sorted by TD id, in code point order"
                ));
            }
            other => {
                return Err(format!("unknown query parameter `{other}`: the listing takes offset, limit and format"));
            }
        }
        seen.push(key);
    }
    Ok(page)
}

/// The query of a page of the listing.
fn page_query(offset: usize, limit: usize, collection: bool) -> String {
    let format = if collection { "&format=collection" } else { "" };
    format!("/things?offset={offset}&limit={limit}{format}")
}

/// `GET /things`.
pub(super) async fn list(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery, headers: HeaderMap) -> Response {
    if let Err(response) = authorize(&shared, &headers) {
        return response;
    }
    let page = match parse_page(raw.as_deref()) {
        Ok(page) => page,
        Err(why) => return problem(StatusCode::BAD_REQUEST, why),
    };
    let limit = page.limit.unwrap_or(usize::MAX).min(shared.directory.options.max_page.max(1));
    let forms = handler::reached_forms(&shared, &headers);
    let mut own = own_tds(&shared, forms.as_ref()).await.into_iter().peekable();
    let now = Utc::now();
    let (members, total, revision) = {
        let inner = shared.directory.lock(now);
        let mut registered = inner.entries.iter().peekable();
        let total = own.len() + inner.entries.len();
        let mut members = Vec::new();
        let mut index = 0;
        // Both are sorted by id: merge them, keeping the page.
        loop {
            let take_own = match (own.peek(), registered.peek()) {
                (Some((a, _)), Some((b, _))) => a.as_str() <= b.as_str(),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let in_page = index >= page.offset && members.len() < limit;
            if take_own {
                if let Some((_, td)) = own.next().filter(|_| in_page) {
                    members.push(td);
                }
            } else if let Some((id, entry)) = registered.next().filter(|_| in_page) {
                members.push(enriched(id, entry, now));
            }
            index += 1;
            if members.len() >= limit {
                break;
            }
        }
        (members, total, inner.revision)
    };
    let next = page.offset.saturating_add(members.len());
    let more = next < total;
    let body = if page.collection {
        let mut collection = json!({
            "@context": DISCOVERY_CONTEXT,
            "@type": "ThingCollection",
            "total": total,
            "members": members,
            "@id": page_query(page.offset, limit, true),
        });
        if more {
            collection["next"] = Value::String(page_query(next, limit, true));
        }
        collection
    } else {
        Value::Array(members)
    };
    let mut response = json_response(StatusCode::OK, "application/ld+json", &body);
    let links = response.headers_mut();
    if more {
        let link = format!("<{}>; rel=\"next\"", page_query(next, limit, page.collection));
        if let Ok(value) = HeaderValue::from_str(&link) {
            links.append(header::LINK, value);
        }
    }
    if let Ok(value) = HeaderValue::from_str(&format!("</things>; rel=\"canonical\"; etag=\"v{revision}\"")) {
        links.append(header::LINK, value);
    }
    response
}

/// A registration as retrieved: the TD with its registration information.
fn enriched(id: &str, entry: &Entry, now: DateTime<Utc>) -> Value {
    let mut td = entry.td.clone();
    let mut registration = Map::new();
    registration.insert("created".into(), Value::String(timestamp(entry.created)));
    registration.insert("modified".into(), Value::String(timestamp(entry.modified)));
    if let Some(expires) = entry.expiry.expires {
        registration.insert("expires".into(), Value::String(timestamp(expires)));
    }
    if let Some(ttl) = entry.expiry.ttl {
        registration.insert("ttl".into(), json!(ttl));
    }
    registration.insert("retrieved".into(), Value::String(timestamp(now)));
    td.insert("registration".into(), Value::Object(registration));
    if !td.contains_key("id") {
        td.insert("id".into(), Value::String(id.to_owned()));
    }
    Value::Object(td)
}

// ---------------------------------------------------------------------------------------------------------
// One TD

/// `GET /things/{id}`.
pub(super) async fn retrieve(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = authorize(&shared, &headers) {
        return response;
    }
    let forms = handler::reached_forms(&shared, &headers);
    let own = own_tds(&shared, forms.as_ref()).await;
    if let Some((_, td)) = own.iter().find(|(own, _)| *own == id) {
        return json_response(StatusCode::OK, "application/td+json", td);
    }
    let now = Utc::now();
    let inner = shared.directory.lock(now);
    if let Some(entry) = inner.entries.get(&id) {
        return json_response(StatusCode::OK, "application/td+json", &enriched(&id, entry, now));
    }
    let known = own.iter().map(|(id, _)| id.as_str()).chain(inner.entries.keys().map(String::as_str));
    let hint = match crate::suggest::closest(&id, known) {
        Some(s) => format!(", did you mean `{s}`?"),
        None => ": GET /things lists the TDs it holds".to_owned(),
    };
    problem(StatusCode::NOT_FOUND, format!("the directory holds no TD with id `{id}` (or it expired){hint}"))
}

/// `PUT /things/{id}`: creates (`201`) or replaces (`204`).
pub(super) async fn put(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(response) = authorize(&shared, &headers) {
        return response;
    }
    if let Err(why) = check_id(&id) {
        return problem(StatusCode::BAD_REQUEST, why);
    }
    if let Some(refused) = refuse_own(&shared, &id, "replaced").await {
        return refused;
    }
    if let Err(response) = writable(&shared, "GET, HEAD") {
        return response;
    }
    let mut td = match read_td(&shared, &headers, body, TD_TYPES).await {
        Ok(td) => td,
        Err(response) => return response,
    };
    match td.get("id") {
        None => {}
        Some(Value::String(own)) if *own == id => {}
        Some(Value::String(other)) => {
            return invalid(vec![Invalid::new(
                "id",
                format!("the TD's `id` is `{other}` but the path names `{id}`: PUT it to {}", location(other)),
            )]);
        }
        Some(_) => return invalid(vec![Invalid::new("id", "`id` must be a string (a URI)".to_owned())]),
    }
    td = with_id(td, &id);
    store(&shared, id, td)
}

/// `POST /things`: registers an anonymous TD under a new `urn:uuid:` id: `201` with its `Location`.
pub(super) async fn create_anonymous(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    if let Err(response) = authorize(&shared, &headers) {
        return response;
    }
    if let Err(response) = writable(&shared, "GET, HEAD") {
        return response;
    }
    let td = match read_td(&shared, &headers, body, TD_TYPES).await {
        Ok(td) => td,
        Err(response) => return response,
    };
    if let Some(id) = td.get("id") {
        let detail = match id.as_str() {
            Some(id) => format!("this TD has the `id` `{id}`: register it with PUT {}", location(id)),
            None => "an anonymous TD has no `id`: remove it, or PUT the TD to /things/<its id>".to_owned(),
        };
        return invalid(vec![Invalid::new("id", detail)]);
    }
    let id = uuid_urn();
    store(&shared, id.clone(), with_id(td, &id))
}

/// Validates a TD for `id`, and creates or replaces its registration.
fn store(shared: &Shared, id: String, mut td: Map<String, Value>) -> Response {
    let now = Utc::now();
    let expiry = match expiry_of(&mut td, now) {
        Ok(expiry) => expiry,
        Err(e) => return invalid(vec![e]),
    };
    let errors = validate(&td);
    if !errors.is_empty() {
        return invalid(errors);
    }
    add_discovery_context(&mut td);
    let mut inner = shared.directory.lock(now);
    let created = match inner.entries.get(&id) {
        Some(old) => old.created,
        None if inner.entries.len() >= shared.directory.options.max_registrations => {
            return problem(
                StatusCode::INSUFFICIENT_STORAGE,
                format!(
                    "the directory holds {} registrations, its limit (DirectoryOptions::max_registrations): \
                     delete unused ones, let them expire, or raise the limit",
                    inner.entries.len()
                ),
            );
        }
        None => now,
    };
    let fresh = !inner.entries.contains_key(&id);
    inner.entries.insert(id.clone(), Entry { td, created, modified: now, expiry });
    if fresh {
        inner.revision += 1;
        drop(inner);
        tracing::info!(%id, "a TD was registered in the directory");
        let mut response = reply::empty(StatusCode::CREATED);
        if let Ok(value) = HeaderValue::from_str(&location(&id)) {
            response.headers_mut().insert(header::LOCATION, value);
        }
        response
    } else {
        no_content()
    }
}

/// `PATCH /things/{id}`: an RFC 7396 merge patch; the result must still be a valid TD.
pub(super) async fn patch(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(response) = authorize(&shared, &headers) {
        return response;
    }
    if let Some(refused) = refuse_own(&shared, &id, "patched").await {
        return refused;
    }
    if let Err(response) = writable(&shared, "GET, HEAD") {
        return response;
    }
    let patch = match read_td(&shared, &headers, body, &["application/merge-patch+json"]).await {
        Ok(patch) => patch,
        Err(response) => return response,
    };
    let now = Utc::now();
    let mut inner = shared.directory.lock(now);
    let Some(entry) = inner.entries.get(&id) else {
        return problem(
            StatusCode::NOT_FOUND,
            format!("the directory holds no TD with id `{id}` (or it expired): PUT the whole TD to create it"),
        );
    };
    let mut target = entry.td.clone();
    let mut registration = Map::new();
    if let Some(ttl) = entry.expiry.ttl {
        registration.insert("ttl".into(), json!(ttl));
    } else if let Some(expires) = entry.expiry.expires {
        registration.insert("expires".into(), Value::String(timestamp(expires)));
    }
    target.insert("registration".into(), Value::Object(registration));
    let mut merged = Value::Object(target);
    merge_patch(&mut merged, &Value::Object(patch));
    let Value::Object(mut merged) = merged else {
        return invalid(vec![Invalid::new("(root)", "the patched TD is not a JSON object".to_owned())]);
    };
    let expiry = match expiry_of(&mut merged, now) {
        Ok(expiry) => expiry,
        Err(e) => return invalid(vec![e]),
    };
    match merged.get("id") {
        Some(Value::String(own)) if *own == id => {}
        _ => {
            return invalid(vec![Invalid::new(
                "id",
                format!("the patch changes or removes the TD's `id` (`{id}`): an id cannot be patched"),
            )]);
        }
    }
    let errors = validate(&merged);
    if !errors.is_empty() {
        return invalid(errors);
    }
    add_discovery_context(&mut merged);
    let created = entry.created;
    inner.entries.insert(id, Entry { td: merged, created, modified: now, expiry });
    no_content()
}

/// `DELETE /things/{id}`.
pub(super) async fn delete(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(response) = authorize(&shared, &headers) {
        return response;
    }
    if let Some(refused) = refuse_own(&shared, &id, "deleted").await {
        return refused;
    }
    if let Err(response) = writable(&shared, "GET, HEAD") {
        return response;
    }
    let mut inner = shared.directory.lock(Utc::now());
    if inner.entries.remove(&id).is_none() {
        return problem(StatusCode::NOT_FOUND, format!("the directory holds no TD with id `{id}` (or it expired)"));
    }
    inner.revision += 1;
    drop(inner);
    tracing::info!(%id, "a TD was removed from the directory");
    no_content()
}

/// A method `/things` does not take.
pub(super) async fn things_method(method: http::Method) -> Response {
    method_not_allowed(
        "GET, HEAD, POST",
        format!("`{method}` is not taken by /things: use GET to list, POST to register"),
    )
}

/// A method `/things/{id}` does not take.
pub(super) async fn thing_method(method: http::Method) -> Response {
    method_not_allowed(
        "GET, HEAD, PUT, PATCH, DELETE",
        format!("`{method}` is not taken by /things/{{id}}: use GET, PUT, PATCH or DELETE"),
    )
}

// ---------------------------------------------------------------------------------------------------------
// Reading and checking a submitted TD

/// The content types a TD may be labelled with (and unlabelled, or labelled as a form as `curl -d` does).
const TD_TYPES: &[&str] =
    &["application/td+json", "application/json", "application/ld+json", "application/x-www-form-urlencoded", ""];

/// One thing wrong with a submitted TD: where (`field`, a dotted path or `(root)`) and what.
#[derive(Debug)]
struct Invalid {
    field: String,
    description: String,
}

impl Invalid {
    fn new(field: &str, description: String) -> Self {
        Self { field: field.to_owned(), description }
    }
}

fn invalid(errors: Vec<Invalid>) -> Response {
    let list: Vec<&str> = errors.iter().map(|e| e.description.as_str()).collect();
    let detail = format!("the Thing Description is not valid: {}", list.join("; "));
    problem_with(StatusCode::BAD_REQUEST, detail, &errors)
}

/// The request's body as a JSON object, at most [`DirectoryOptions::max_td_size`] bytes, labelled with one of
/// `types`.
async fn read_td(
    shared: &Shared,
    headers: &HeaderMap,
    body: Body,
    types: &[&str],
) -> Result<Map<String, Value>, Response> {
    let label = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("?").split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    if !types.contains(&label.as_str()) {
        let wanted = types.iter().filter(|t| !t.is_empty()).copied().collect::<Vec<_>>().join(" or ");
        return Err(problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("the body is labelled `{label}`; send it as {wanted}"),
        ));
    }
    let limit = shared.directory.options.max_td_size;
    let bytes = match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            return Err(problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the body is larger than the directory's limit of {limit} bytes (DirectoryOptions::max_td_size): \
                     send a smaller TD, or ask the operator to raise the limit"
                ),
            ));
        }
        Err(e) => return Err(problem(StatusCode::BAD_REQUEST, format!("the body could not be read: {e}"))),
    };
    if bytes.is_empty() {
        return Err(problem(StatusCode::BAD_REQUEST, "the body is empty: send the Thing Description as JSON"));
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(td)) => Ok(td),
        Ok(other) => Err(invalid(vec![Invalid::new(
            "(root)",
            format!("the body is {}, not an object: a TD is a JSON object", kind_of(&other)),
        )])),
        Err(e) => Err(problem(StatusCode::BAD_REQUEST, format!("the body is not valid JSON: {e}"))),
    }
}

/// What a JSON value is, with its article: "an array".
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A TD id in the path: a URI (`scheme:…`), not too long.
fn check_id(id: &str) -> Result<(), String> {
    let scheme_ends = id.find(':').filter(|&end| {
        end > 0
            && id.as_bytes()[0].is_ascii_alphabetic()
            && id[..end].bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    });
    if id.is_empty() {
        Err("the path names no TD id: PUT to /things/<id>, or POST an anonymous TD to /things".to_owned())
    } else if id.len() > MAX_ID {
        Err(format!("the TD id is {} bytes long, more than the directory's {MAX_ID}", id.len()))
    } else if scheme_ends.is_none() || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err(format!(
            "`{id}` is not a URI: a TD id is a URI such as `urn:example:stage`, percent-encoded in the path \
             (/things/urn%3Aexample%3Astage)"
        ))
    } else {
        Ok(())
    }
}

/// Whether `@context` names a TD context (as a string, or in an array).
fn names_td_context(context: &Value) -> bool {
    match context {
        Value::String(s) => TD_CONTEXTS.contains(&s.as_str()),
        Value::Array(list) => list.iter().any(|c| c.as_str().is_some_and(|s| TD_CONTEXTS.contains(&s))),
        _ => false,
    }
}

/// What is wrong with a TD, by field (empty: nothing the directory checks).
fn validate(td: &Map<String, Value>) -> Vec<Invalid> {
    let mut errors = Vec::new();
    let mut bad = |field: &str, description: String| errors.push(Invalid::new(field, description));
    match td.get("@context") {
        None => bad("@context", format!("`@context` is missing: add \"@context\": \"{}\"", crate::td::TD_CONTEXT)),
        Some(context) if !names_td_context(context) => bad(
            "@context",
            format!("`@context` names no TD context: it must be or contain \"{}\"", crate::td::TD_CONTEXT),
        ),
        Some(_) => {}
    }
    match td.get("title") {
        None => bad("title", "`title` is missing: every TD has a title (a string)".to_owned()),
        Some(Value::String(s)) if s.trim().is_empty() => bad("title", "`title` is empty".to_owned()),
        Some(Value::String(_)) => {}
        Some(other) => bad("title", format!("`title` must be a string, not {}", kind_of(other))),
    }
    let definitions = match td.get("securityDefinitions") {
        None => {
            bad(
                "securityDefinitions",
                "`securityDefinitions` is missing: e.g. \"securityDefinitions\": {\"nosec_sc\": {\"scheme\": \"nosec\"}}"
                    .to_owned(),
            );
            None
        }
        Some(Value::Object(definitions)) => {
            for (name, definition) in definitions {
                if !definition.get("scheme").is_some_and(Value::is_string) {
                    bad(
                        &format!("securityDefinitions.{name}"),
                        format!(
                            "security definition `{name}` has no `scheme` (a string such as \"nosec\" or \"basic\")"
                        ),
                    );
                }
            }
            Some(definitions)
        }
        Some(other) => {
            bad("securityDefinitions", format!("`securityDefinitions` must be an object, not {}", kind_of(other)));
            None
        }
    };
    let names: Option<Vec<&str>> = match td.get("security") {
        None => {
            bad("security", "`security` is missing: name a definition, e.g. \"security\": \"nosec_sc\"".to_owned());
            None
        }
        Some(Value::String(s)) => Some(vec![s.as_str()]),
        Some(Value::Array(list)) if !list.is_empty() && list.iter().all(Value::is_string) => {
            Some(list.iter().filter_map(Value::as_str).collect())
        }
        Some(_) => {
            bad(
                "security",
                "`security` must be a name of `securityDefinitions`, or a non-empty list of them".to_owned(),
            );
            None
        }
    };
    if let (Some(names), Some(definitions)) = (names, definitions) {
        for name in names.into_iter().filter(|n| !definitions.contains_key(*n)) {
            bad("security", format!("`security` names `{name}`, which `securityDefinitions` does not define"));
        }
    }
    if let Some(id) = td.get("id").filter(|id| !id.is_string()) {
        bad("id", format!("`id` must be a string (a URI), not {}", kind_of(id)));
    }
    for kind in ["properties", "actions", "events"] {
        match td.get(kind) {
            None | Some(Value::Object(_)) => {}
            Some(other) => bad(kind, format!("`{kind}` must be an object (name → affordance), not {}", kind_of(other))),
        }
        if let Some(Value::Object(affordances)) = td.get(kind) {
            for (name, affordance) in affordances.iter().filter(|(_, a)| !a.is_object()) {
                bad(
                    &format!("{kind}.{name}"),
                    format!("`{kind}.{name}` must be an object, not {}", kind_of(affordance)),
                );
            }
        }
    }
    errors
}

/// Takes the `registration` member out of a submitted TD: when it expires (`ttl` seconds from `now`, or at
/// `expires`; a `ttl` wins, as the specification says). The read-only members (`created`, `modified`,
/// `retrieved`) are the directory's and are ignored.
fn expiry_of(td: &mut Map<String, Value>, now: DateTime<Utc>) -> Result<Expiry, Invalid> {
    let registration = match td.remove("registration") {
        None | Some(Value::Null) => return Ok(Expiry::default()),
        Some(Value::Object(registration)) => registration,
        Some(other) => {
            return Err(Invalid::new(
                "registration",
                format!("`registration` must be an object (with `ttl` or `expires`), not {}", kind_of(&other)),
            ));
        }
    };
    let ttl = match registration.get("ttl") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(ttl) if ttl > 0.0 && ttl <= MAX_TTL => Some(ttl),
            _ => {
                return Err(Invalid::new(
                    "registration.ttl",
                    format!("`registration.ttl` must be a number of seconds above 0 and at most {MAX_TTL}, got {n}"),
                ));
            }
        },
        Some(other) => {
            return Err(Invalid::new(
                "registration.ttl",
                format!("`registration.ttl` must be a number of seconds, not {}", kind_of(other)),
            ));
        }
    };
    if let Some(ttl) = ttl {
        let expires = chrono::TimeDelta::try_milliseconds((ttl * 1000.0).ceil() as i64)
            .and_then(|d| now.checked_add_signed(d))
            .ok_or_else(|| Invalid::new("registration.ttl", format!("`registration.ttl` {ttl} is too far away")))?;
        return Ok(Expiry { ttl: Some(ttl), expires: Some(expires) });
    }
    match registration.get("expires") {
        None | Some(Value::Null) => Ok(Expiry::default()),
        Some(Value::String(text)) => match DateTime::parse_from_rfc3339(text) {
            Ok(at) if at.with_timezone(&Utc) > now => Ok(Expiry { ttl: None, expires: Some(at.with_timezone(&Utc)) }),
            Ok(_) => Err(Invalid::new(
                "registration.expires",
                format!("`registration.expires` ({text}) is already past: give a later time, or a `ttl`"),
            )),
            Err(e) => Err(Invalid::new(
                "registration.expires",
                format!(
                    "`registration.expires` must be an RFC 3339 time such as 2030-01-01T00:00:00Z, got `{text}`: {e}"
                ),
            )),
        },
        Some(other) => Err(Invalid::new(
            "registration.expires",
            format!("`registration.expires` must be an RFC 3339 time (a string), not {}", kind_of(other)),
        )),
    }
}

/// The TD with `id`, right after `@context`.
fn with_id(td: Map<String, Value>, id: &str) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(context) = td.get("@context") {
        out.insert("@context".into(), context.clone());
    }
    out.insert("id".into(), Value::String(id.to_owned()));
    for (key, value) in td {
        if key != "@context" && key != "id" {
            out.insert(key, value);
        }
    }
    out
}

/// Adds the discovery context to `@context` (a TD with registration information names it).
fn add_discovery_context(td: &mut Map<String, Value>) {
    let discovery = Value::String(DISCOVERY_CONTEXT.to_owned());
    match td.get_mut("@context") {
        Some(Value::Array(list)) if !list.contains(&discovery) => list.push(discovery),
        Some(context @ Value::String(_)) if *context != discovery => {
            let first = context.take();
            *context = Value::Array(vec![first, discovery]);
        }
        _ => {}
    }
}

/// RFC 7396 JSON merge patch: members of `patch` replace those of `target`, `null` removes, objects merge
/// recursively, anything else replaces.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in members {
            if value.is_null() {
                target.remove(key);
            } else {
                merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// A new anonymous TD's id: a random (version 4) UUID as a URN.
fn uuid_urn() -> String {
    let hex = crate::util::random_hex(32);
    let variant = u8::from_str_radix(&hex[16..17], 16).unwrap_or(0) & 0x3 | 0x8;
    format!("urn:uuid:{}-{}-4{}-{variant:x}{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}

// ---------------------------------------------------------------------------------------------------------
// The directory's own TD

/// `GET /.well-known/wot`: the directory's TD, with the operations it serves (the write ones only when it
/// accepts registrations).
pub(super) async fn well_known(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let forms = handler::reached_forms(&shared, &headers).unwrap_or_else(|| shared.forms.clone());
    json_response(StatusCode::OK, "application/td+json", &directory_td(&shared, &forms))
}

fn directory_td(shared: &Shared, forms: &HttpForms) -> Value {
    let scheme = forms.scheme();
    let security = SecurityScheme::name_of(scheme);
    let definitions: Map<String, Value> = match scheme {
        Some(scheme) => scheme
            .definitions()
            .into_iter()
            .map(|(name, d)| (name, serde_json::to_value(d).unwrap_or(Value::Null)))
            .collect(),
        None => std::iter::once((security.to_owned(), json!({"scheme": "nosec"}))).collect(),
    };
    let id_variable = json!({
        "id": {"@type": "ThingID", "title": "Thing Description ID", "type": "string", "format": "iri-reference"}
    });
    let problem_response = |status: u16, description: &str| json!({"description": description, "contentType": "application/problem+json", "htv:statusCodeValue": status});
    let write = |description: &str, method: &str, href: &str, content_type: &str, status: u16, uri_id: bool| {
        let mut action = json!({
            "description": description,
            "input": {"description": "The schema is implied by the content type", "type": "object"},
            "forms": [{
                "href": href,
                "htv:methodName": method,
                "contentType": content_type,
                "response": {"description": "Success response", "contentType": "application/x-empty", "htv:statusCodeValue": status},
                "additionalResponses": [problem_response(400, "Invalid serialization or TD")],
            }],
        });
        if uri_id {
            action["uriVariables"] = id_variable.clone();
        }
        action
    };
    let mut actions = Map::new();
    actions.insert(
        "retrieveThing".into(),
        json!({
            "description": "Retrieve a Thing Description",
            "uriVariables": id_variable,
            "output": {"description": "The schema is implied by the content type", "type": "object"},
            "safe": true,
            "idempotent": true,
            "forms": [{
                "href": "/things/{id}",
                "htv:methodName": "GET",
                "response": {"description": "Success response", "contentType": "application/td+json", "htv:statusCodeValue": 200},
                "additionalResponses": [problem_response(404, "TD with the given id not found")],
            }],
        }),
    );
    if shared.directory.options.accept_registrations {
        let td = "application/td+json";
        actions.insert("createThing".into(), write("Create a Thing Description", "PUT", "/things/{id}", td, 201, true));
        let mut anonymous = write("Create an anonymous Thing Description", "POST", "/things", td, 201, false);
        anonymous["forms"][0]["response"]["htv:headers"] =
            json!([{"description": "System-generated URI", "htv:fieldName": "Location"}]);
        actions.insert("createAnonymousThing".into(), anonymous);
        actions.insert("updateThing".into(), write("Update a Thing Description", "PUT", "/things/{id}", td, 204, true));
        let mut partial = write(
            "Partially update a Thing Description",
            "PATCH",
            "/things/{id}",
            "application/merge-patch+json",
            204,
            true,
        );
        if let Some(list) = partial["forms"][0]["additionalResponses"].as_array_mut() {
            list.push(problem_response(404, "TD with the given id not found"));
        }
        actions.insert("partiallyUpdateThing".into(), partial);
        actions.insert(
            "deleteThing".into(),
            json!({
                "description": "Delete a Thing Description",
                "uriVariables": id_variable,
                "forms": [{
                    "href": "/things/{id}",
                    "htv:methodName": "DELETE",
                    "response": {"description": "Success response", "contentType": "application/x-empty", "htv:statusCodeValue": 204},
                    "additionalResponses": [problem_response(404, "TD with the given id not found")],
                }],
            }),
        );
    }
    json!({
        "@context": [crate::td::TD_CONTEXT, DISCOVERY_CONTEXT],
        "@type": "ThingDirectory",
        "id": format!("urn:thingwire:{}:directory", crate::util::percent_encode_unreserved(shared.core.server_id())),
        "title": format!("Thing Description Directory of {}", shared.core.server_id()),
        "description": "The Thing Descriptions of this server's Things, and of the Things registered with it (WoT Discovery 1.0)",
        "base": forms.base(),
        "securityDefinitions": definitions,
        "security": security,
        "properties": {
            "things": {
                "description": "Retrieve all Thing Descriptions",
                "type": "array",
                "items": {"type": "object"},
                "readOnly": true,
                "uriVariables": {
                    "offset": {"title": "Number of TDs to skip before the page", "type": "number", "default": 0},
                    "limit": {"title": "Number of TDs in a page", "type": "number"},
                    "format": {"title": "Payload format", "type": "string", "enum": ["array", "collection"], "default": "array"},
                },
                "forms": [{
                    "op": "readproperty",
                    "href": "/things{?offset,limit,format}",
                    "htv:methodName": "GET",
                    "response": {
                        "description": "Success response",
                        "htv:statusCodeValue": 200,
                        "contentType": "application/ld+json",
                        "htv:headers": [{"htv:fieldName": "Link"}],
                    },
                    "additionalResponses": [problem_response(400, "Invalid query arguments")],
                }],
            },
        },
        "actions": actions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_parsed_and_bad_parameters_refused() {
        assert_eq!(parse_page(None), Ok(Page { offset: 0, limit: None, collection: false }));
        assert_eq!(
            parse_page(Some("offset=10&limit=5&format=collection")),
            Ok(Page { offset: 10, limit: Some(5), collection: true })
        );
        for (query, says) in [
            ("limit=0", "1 or more"),
            ("limit=-1", "1 or more"),
            ("offset=x", "0 or more"),
            ("offset=1.5", "0 or more"),
            ("format=xml", "`array` or `collection`"),
            ("limit=1&limit=2", "twice"),
            ("sort_by=title", "sorted by TD id"),
            ("page=2", "unknown query parameter `page`"),
        ] {
            assert!(parse_page(Some(query)).is_err_and(|e| e.contains(says)), "{query}: {:?}", parse_page(Some(query)));
        }
    }

    #[test]
    fn merge_patch_is_rfc_7396() {
        // RFC 7396's example.
        let mut target = json!({"title": "Goodbye!", "author": {"givenName": "John", "familyName": "Doe"},
            "tags": ["example", "sample"], "content": "This will be unchanged"});
        let patch = json!({"title": "Hello!", "phoneNumber": "+01-123-456-7890", "author": {"familyName": null},
            "tags": ["example"]});
        merge_patch(&mut target, &patch);
        assert_eq!(
            target,
            json!({"title": "Hello!", "author": {"givenName": "John"}, "tags": ["example"],
                "content": "This will be unchanged", "phoneNumber": "+01-123-456-7890"})
        );
        let mut target = json!({"a": "b"});
        merge_patch(&mut target, &json!({"a": {"b": "c"}}));
        assert_eq!(target, json!({"a": {"b": "c"}}));
        merge_patch(&mut target, &json!(["c"]));
        assert_eq!(target, json!(["c"]));
    }

    #[test]
    fn ids_must_be_uris_and_anonymous_ids_are_uuid_urns() {
        assert!(check_id("urn:thingwire:lab:stage").is_ok());
        assert!(check_id("https://lab.example/things/1").is_ok());
        for id in ["", "stage", ":x", "1urn:x", "urn:with space"] {
            assert!(check_id(id).is_err(), "{id:?}");
        }
        let id = uuid_urn();
        let uuid = id.strip_prefix("urn:uuid:").expect("a uuid urn");
        let parts: Vec<&str> = uuid.split('-').collect();
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12], "{id}");
        assert!(parts[2].starts_with('4') && "89ab".contains(&parts[3][..1]), "version 4, RFC 4122 variant: {id}");
        assert_ne!(uuid_urn(), id);
        assert_eq!(location("urn:uuid:1"), "/things/urn:uuid:1");
        assert_eq!(location("a/b c"), "/things/a%2Fb%20c");
    }

    #[test]
    fn a_ttl_wins_over_expires_and_past_times_are_refused() {
        let now = Utc::now();
        let mut td = Map::new();
        td.insert("registration".into(), json!({"ttl": 60, "expires": "2000-01-01T00:00:00Z", "created": "x"}));
        let expiry = expiry_of(&mut td, now).expect("valid");
        assert_eq!(expiry.ttl, Some(60.0));
        assert_eq!(expiry.expires, now.checked_add_signed(chrono::TimeDelta::seconds(60)));
        assert!(!td.contains_key("registration"), "taken out of the TD");
        for (registration, says) in [
            (json!({"ttl": 0}), "above 0"),
            (json!({"ttl": 1e300}), "at most"),
            (json!({"ttl": "60"}), "not a string"),
            (json!({"expires": "2000-01-01T00:00:00Z"}), "already past"),
            (json!({"expires": "tomorrow"}), "RFC 3339"),
            (json!([]), "must be an object"),
        ] {
            td.insert("registration".into(), registration.clone());
            let refused = expiry_of(&mut td, now).expect_err("refused");
            assert!(refused.description.contains(says), "{registration}: {}", refused.description);
        }
    }
}
