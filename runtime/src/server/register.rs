//! Registering a server's Things with W3C WoT Thing Description Directories
//! ([`ServerBuilder::register_with`](crate::ServerBuilder::register_with)).
//!
//! Once the server has started, one task per directory `PUT`s each Thing's TD — with the forms of every
//! binding it is served on, the HTTP forms first when the server serves HTTP (else the ZeroMQ forms) — to
//! `<directory>/things/<percent-encoded TD id>` with `registration.ttl`, renews the registrations at half
//! the TTL, and `DELETE`s them when the server shuts down (within [`DEREGISTER_WITHIN`]). A directory that is
//! down or refuses is logged with its message and retried with backoff; it never fails or delays the
//! server's start. Plain `http://` directories only: `https://` is refused at start.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::binding::http::DISCOVERY_CONTEXT;
use crate::binding::memory::{Answer, MemoryBinding, Request, Sink};
use crate::core::{BindingContext, Core, Describe, Operation};
use crate::error::{ServerError, ThingError};
use crate::td::ThingDescription;

/// How long one request to a directory may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How long, at shutdown, the registrations may take to be removed.
pub(crate) const DEREGISTER_WITHIN: Duration = Duration::from_secs(3);

/// The first wait after a failed registration; it doubles up to the renewal interval (at most 10 s).
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// Most of a directory's answer kept for the log.
const MAX_ANSWER: usize = 64 << 10;

/// A directory to register with: its base URL, without a trailing `/`.
#[derive(Debug, Clone)]
pub(crate) struct Directory(String);

/// Checks the directories' URLs before anything binds: `http://host[:port][/path]`.
pub(crate) fn directories(urls: &[String]) -> Result<Vec<Directory>, ServerError> {
    urls.iter()
        .map(|url| {
            let bad = |reason: &str| ServerError::Address { address: url.clone(), reason: reason.to_owned() };
            let uri: http::Uri = url.parse().map_err(|_| bad("not a URL: give a directory as http://host:port"))?;
            match uri.scheme_str() {
                Some("http") => {}
                Some("https") => {
                    return Err(bad(
                        "https:// directories are not supported yet: register with the directory's http:// address",
                    ));
                }
                _ => return Err(bad("a directory's URL starts with http://, e.g. http://lab-pc:8080")),
            }
            if uri.authority().is_none() {
                return Err(bad("the URL names no host: give it as http://host:port"));
            }
            if uri.query().is_some() {
                return Err(bad("a directory's URL has no query: give its base, e.g. http://lab-pc:8080"));
            }
            Ok(Directory(url.trim_end_matches('/').to_owned()))
        })
        .collect()
}

/// Starts registering with every directory: one task each, which ends once the server stops and its
/// registrations are removed.
pub(crate) fn start(
    core: &Arc<Core>,
    directories: Vec<Directory>,
    ttl: Duration,
    shutdown: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let http = core.describer(crate::binding::http::NAME);
    directories
        .into_iter()
        .map(|directory| {
            let registrar = Registrar {
                core: Arc::clone(core),
                memory: MemoryBinding::new(Arc::clone(core)),
                served: AsServed(http.clone()),
                client: Client::builder(TokioExecutor::new()).build_http(),
                directory,
                ttl,
            };
            tokio::spawn(registrar.run(shutdown.clone()))
        })
        .collect()
}

/// The TD of a Thing as the server serves it: the HTTP forms first and the HTTP security the TD's own when
/// it serves HTTP, else the ZeroMQ forms first; every other binding's forms after.
struct AsServed(Option<Arc<dyn Describe>>);

impl<S> BindingContext<S> for AsServed {
    fn name(&self) -> &'static str {
        if self.0.is_some() { crate::binding::http::NAME } else { "directory registration" }
    }

    fn describe<'t>(&'t self, td: ThingDescription<'t>, _: Option<&str>) -> Result<ThingDescription<'t>, ThingError> {
        Ok(match &self.0 {
            Some(http) => http.describe_as_own(td),
            None => td,
        })
    }
}

/// Registers one server's Things with one directory.
struct Registrar {
    core: Arc<Core>,
    memory: MemoryBinding,
    served: AsServed,
    client: Client<HttpConnector, Full<Bytes>>,
    directory: Directory,
    ttl: Duration,
}

impl Registrar {
    async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let renew = (self.ttl / 2).max(Duration::from_millis(100));
        let most = renew.min(Duration::from_secs(10));
        let mut backoff = FIRST_BACKOFF.min(most);
        // Every TD id ever sent: removed at shutdown, even one whose registration was not answered.
        let mut sent = BTreeSet::new();
        let mut failing: Option<String> = None;
        let directory = self.directory.0.clone();
        loop {
            let outcome = tokio::select! {
                outcome = self.register_all(&mut sent) => outcome,
                _ = shutdown.wait_for(|stop| *stop) => break,
            };
            let wait = match outcome {
                Ok(count) => {
                    match failing.take() {
                        Some(_) => {
                            tracing::info!(%directory, things = count, "registered with the Thing directory again")
                        }
                        None => tracing::debug!(%directory, things = count, "registrations renewed"),
                    }
                    backoff = FIRST_BACKOFF.min(most);
                    renew
                }
                Err(why) => {
                    if failing.as_deref() == Some(why.as_str()) {
                        tracing::debug!(%directory, %why, "registering with the Thing directory still fails");
                    } else {
                        tracing::warn!(%directory, %why, "registering with the Thing directory failed; retrying");
                    }
                    failing = Some(why);
                    let wait = backoff;
                    backoff = (backoff * 2).min(most);
                    wait
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.wait_for(|stop| *stop) => break,
            }
        }
        if tokio::time::timeout(DEREGISTER_WITHIN, self.deregister(&sent)).await.is_err() {
            tracing::warn!(%directory, "removing the registrations took longer than 3 s: they expire with their TTL");
        }
    }

    /// Registers (or renews) every Thing; how many, or what went wrong first.
    async fn register_all(&self, sent: &mut BTreeSet<String>) -> Result<usize, String> {
        let mut first_error = None;
        let things: Vec<String> = self.core.thing_ids().into_iter().map(str::to_owned).collect();
        for thing in &things {
            let outcome = match self.description(thing).await {
                Ok(mut td) => match td.get("id").and_then(Value::as_str).map(str::to_owned) {
                    Some(id) => {
                        // Whole seconds (the Discovery context types `ttl` as an unsigned integer), and the
                        // Discovery context that defines `registration`.
                        td["registration"] = json!({"ttl": self.ttl.as_secs_f64().ceil() as u64});
                        if let Some(context) = td.get_mut("@context").and_then(Value::as_array_mut)
                            && !context.iter().any(|c| c == DISCOVERY_CONTEXT)
                        {
                            context.push(json!(DISCOVERY_CONTEXT));
                        }
                        sent.insert(id.clone());
                        let body = serde_json::to_vec(&td).unwrap_or_default();
                        self.send(Method::PUT, &id, Some(body)).await.map_err(|why| format!("`{thing}` ({id}): {why}"))
                    }
                    None => Err(format!("`{thing}`: its TD has no id")),
                },
                Err(why) => Err(format!("`{thing}`: its TD could not be made: {why}")),
            };
            if let Err(why) = outcome {
                first_error.get_or_insert(why);
            }
        }
        match first_error {
            Some(why) => Err(why),
            None => Ok(things.len()),
        }
    }

    /// Thing `thing`'s TD, as served.
    async fn description(&self, thing: &str) -> Result<Value, String> {
        let request = Request::json(Operation::InvokeAction, thing, crate::server::GET_THING_DESCRIPTION, None::<&()>)
            .map_err(|e| e.message)?;
        let mut served = AsServed(self.served.0.clone());
        match self.memory.submit_with(request, &mut served as &mut dyn BindingContext<Sink>).await {
            answer @ Answer::Value { .. } => answer.json(),
            Answer::Error { error, .. } => Err(error.message),
            Answer::Timeout(kind) => Err(format!("the {} timeout expired", kind.as_str())),
            Answer::Dropped => Err("the server is shutting down".to_owned()),
        }
    }

    /// Removes every registration sent.
    async fn deregister(&self, sent: &BTreeSet<String>) {
        for id in sent {
            match self.send(Method::DELETE, id, None).await {
                Ok(()) => tracing::debug!(directory = %self.directory.0, %id, "registration removed"),
                Err(why) => tracing::warn!(directory = %self.directory.0, %id, %why, "removing a registration failed"),
            }
        }
    }

    /// One request to `<directory>/things/<id>`: `Ok` for a 2xx answer (and, for `DELETE`, a 404: already gone),
    /// else what the directory said.
    async fn send(&self, method: Method, id: &str, body: Option<Vec<u8>>) -> Result<(), String> {
        let url = format!("{}/things/{}", self.directory.0, crate::util::percent_encode_unreserved(id));
        let mut request = http::Request::builder().method(method.clone()).uri(&url);
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/td+json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| format!("the request to {url} could not be made: {e}"))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| connect_error(&e))?;
            let status = response.status();
            let text = match http_body_util::Limited::new(response.into_body(), MAX_ANSWER).collect().await {
                Ok(body) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
                Err(_) => String::new(),
            };
            Ok::<_, String>((status, text))
        };
        let (status, text) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("{method} {url}: no answer within 5 s"))??;
        if status.is_success() || (method == Method::DELETE && status == StatusCode::NOT_FOUND) {
            Ok(())
        } else {
            Err(format!("{method} {url} was answered {status}: {}", message_of(&text)))
        }
    }
}

/// Why a connection failed, with its cause (hyper's own message is only "client error (Connect)").
fn connect_error(e: &hyper_util::client::legacy::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    format!("the directory cannot be reached ({text}); is it running?")
}

/// The message of a directory's refusal: a Problem Details `detail`, a thingwire or hololinked error
/// object's `message`, or the text itself (shortened).
fn message_of(text: &str) -> String {
    let value: Option<Value> = serde_json::from_str(text).ok();
    let found = value.as_ref().and_then(|v| {
        v.get("detail").or_else(|| v.pointer("/exception/message")).or_else(|| v.get("title")).and_then(Value::as_str)
    });
    let text = found.unwrap_or(text).trim();
    match text.char_indices().nth(500) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None if text.is_empty() => "(no message)".to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_urls_are_checked_before_the_server_starts() {
        let ok = directories(&["http://127.0.0.1:8080/".into(), "http://lab:1/dir".into()]).expect("valid");
        assert_eq!(ok.iter().map(|d| d.0.as_str()).collect::<Vec<_>>(), ["http://127.0.0.1:8080", "http://lab:1/dir"]);
        for (url, says) in [
            ("https://lab:8443", "not supported yet"),
            ("lab:8080", "starts with http://"),
            ("http://lab:8080/?x=1", "no query"),
            ("not a url", "not a URL"),
        ] {
            let e = directories(&[url.into()]).expect_err(url).to_string();
            assert!(e.contains(says), "{url}: {e}");
        }
    }

    #[test]
    fn refusals_are_read_from_problem_details_and_error_objects() {
        assert_eq!(message_of(r#"{"title": "Bad Request", "status": 400, "detail": "no title"}"#), "no title");
        assert_eq!(message_of(r#"{"exception": {"message": "busy", "type": "RuntimeError"}}"#), "busy");
        assert_eq!(message_of("plain text\n"), "plain text");
        assert_eq!(message_of(""), "(no message)");
        assert!(message_of(&"x".repeat(2000)).ends_with('…'));
    }
}
