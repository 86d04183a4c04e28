//! Answering requests: the [`ReplySink`] a binding implements, and the core's side of it, which makes sure a
//! request is answered once — the first of its result, its error and its timeout wins, and whatever comes
//! later is dropped and counted.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::core::request::Body;
use crate::error::ThingError;
use crate::protocol::{ContentType, TimeoutKind};
use crate::thing::Output;

/// What kind of failure an error answer reports, so that each binding can say it its own way (ZeroMQ:
/// `INVALID_MESSAGE` or `EXCEPTION`; HTTP: a status code). The error itself says what went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The message itself could not be used (a binding's own refusal: malformed, over a limit).
    Invalid,
    /// No Thing with the id asked for.
    UnknownThing,
    /// The Thing has no property or action of that name.
    UnknownName,
    /// A write to a read-only property.
    ReadOnly,
    /// An operation the Thing or the core does not offer.
    Unsupported,
    /// Refused for now: a queue or the client's requests in flight are at their limit.
    Busy,
    /// The server is shutting down.
    Unavailable,
    /// The operation ran, or its arguments or value were decoded, and it failed: the Thing's own error.
    Failed,
}

/// Where an error happened: the Thing, the operation and the name, for the error object's traceback and
/// for the failure log.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The Thing's id.
    pub thing: &'a str,
    /// The operation's wire name.
    pub operation: &'a str,
    /// The property or action.
    pub name: &'a str,
}

impl fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "thing `{}`, {} `{}`", self.thing, self.operation, self.name)
    }
}

/// One answer to one request.
#[derive(Debug)]
pub enum Reply<'a> {
    /// The result, already encoded in `content_type`.
    Value {
        /// The encoding of `output.payload`.
        content_type: &'a ContentType,
        /// The encoded result.
        output: Output,
        /// The Thing's log lines, when the request asked for them.
        logs: Option<&'a [String]>,
    },
    /// The request failed.
    Error {
        /// What kind of failure.
        class: ErrorClass,
        /// What went wrong.
        error: &'a ThingError,
        /// Where.
        origin: Origin<'a>,
        /// The Thing's log lines, when the request asked for them.
        logs: Option<&'a [String]>,
    },
    /// A timeout expired first: the request waited too long to start, or ran too long.
    Timeout(TimeoutKind),
}

/// How a binding answers one request: it encodes the [`Reply`] in its wire format and sends it. The core
/// calls [`send`](ReplySink::send) at most once per request, from whatever task or thread finished the
/// request; dropping the sink unanswered means no answer will come (a request the server gave up on).
pub trait ReplySink: Send + Sync + 'static {
    /// Encodes and sends the answer.
    fn send(&self, reply: Reply<'_>);

    /// Who sent the request, for the failure log (a ZeroMQ client id, an HTTP peer address).
    fn client(&self) -> String {
        String::new()
    }
}

/// Counts the server keeps of its requests' fates.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) failed: AtomicU64,
    pub(crate) invocation_timeouts: AtomicU64,
    pub(crate) execution_timeouts: AtomicU64,
    pub(crate) late_results: AtomicU64,
}

/// The server-wide part of answering: the counters and the failure log's level.
#[derive(Debug)]
pub(crate) struct Answering {
    pub(crate) counters: Counters,
    pub(crate) failure_log: Option<tracing::Level>,
}

impl Answering {
    pub(crate) fn new(failure_log: Option<tracing::Level>) -> Arc<Self> {
        Arc::new(Self { counters: Counters::default(), failure_log })
    }

    /// Logs a failed operation with the fields a lab alerts on.
    fn log_failure(&self, origin: &Origin<'_>, client: &dyn Fn() -> String, error_type: &str, message: &str) {
        let Some(level) = self.failure_log else { return };
        let client = client();
        macro_rules! failure {
            ($level:expr) => {
                tracing::event!(
                    target: "thingwire::failures",
                    $level,
                    thing = origin.thing,
                    name = origin.name,
                    operation = origin.operation,
                    client = %client,
                    error_type,
                    "operation failed: {message}"
                )
            };
        }
        match level {
            tracing::Level::ERROR => failure!(tracing::Level::ERROR),
            tracing::Level::WARN => failure!(tracing::Level::WARN),
            tracing::Level::INFO => failure!(tracing::Level::INFO),
            tracing::Level::DEBUG => failure!(tracing::Level::DEBUG),
            _ => failure!(tracing::Level::TRACE),
        }
    }
}

/// What a request brings from its binding: its body and the sink for its answer, in one allocation with
/// the core's bookkeeping.
trait Parts: Send + Sync {
    fn body(&self) -> &dyn Body;
    fn sink(&self) -> &dyn ReplySink;
}

struct Pair<B, S>(B, S);

impl<B: Body, S: ReplySink> Parts for Pair<B, S> {
    fn body(&self) -> &dyn Body {
        &self.0
    }

    fn sink(&self) -> &dyn ReplySink {
        &self.1
    }
}

struct Inner<P: ?Sized> {
    answered: AtomicBool,
    answering: Arc<Answering>,
    thing: Arc<str>,
    operation: &'static str,
    name: String,
    parts: P,
}

/// The core's handle on a request: its body, its answer, and where it went (for tracebacks and the failure
/// log). Clones answer the same request (the timeout timers hold clones); the first answer wins.
#[derive(Clone)]
pub(crate) struct Responder(Arc<Inner<dyn Parts>>);

impl fmt::Debug for Responder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Responder")
            .field("origin", &self.origin().to_string())
            .field("answered", &self.is_answered())
            .finish_non_exhaustive()
    }
}

impl Responder {
    pub(crate) fn new<B: Body, S: ReplySink>(
        body: B,
        sink: S,
        answering: Arc<Answering>,
        thing: Arc<str>,
        operation: &'static str,
        name: String,
    ) -> Self {
        let parts = Pair(body, sink);
        Self(Arc::new(Inner { answered: AtomicBool::new(false), answering, thing, operation, name, parts }))
    }

    /// The request's payload and raw bytes.
    pub(crate) fn body(&self) -> &dyn Body {
        self.0.parts.body()
    }

    fn sink(&self) -> &dyn ReplySink {
        self.0.parts.sink()
    }

    /// The property or action the request names.
    pub(crate) fn name(&self) -> &str {
        &self.0.name
    }

    pub(crate) fn origin(&self) -> Origin<'_> {
        Origin { thing: &self.0.thing, operation: self.0.operation, name: &self.0.name }
    }

    pub(crate) fn is_answered(&self) -> bool {
        self.0.answered.load(Ordering::Acquire)
    }

    /// Takes the right to answer; `false` when an answer went out already.
    fn claim(&self) -> bool {
        !self.0.answered.swap(true, Ordering::AcqRel)
    }

    /// Answers with a result; a result that comes after a timeout answered is dropped and counted.
    pub(crate) fn value(&self, content_type: &ContentType, output: Output, logs: Option<&[String]>) {
        if self.claim() {
            self.sink().send(Reply::Value { content_type, output, logs });
        } else {
            self.late();
        }
    }

    /// Answers with an error (and logs it when the server logs failures); dropped and counted when a timeout
    /// answered first.
    pub(crate) fn error(&self, class: ErrorClass, error: &ThingError, logs: Option<&[String]>) {
        if !self.claim() {
            self.late();
            return;
        }
        let answering = &self.0.answering;
        answering.counters.failed.fetch_add(1, Ordering::Relaxed);
        let origin = self.origin();
        answering.log_failure(&origin, &|| self.sink().client(), &error.kind, &error.message);
        self.sink().send(Reply::Error { class, error, origin, logs });
    }

    /// Answers with a timeout, unless an answer went out already.
    pub(crate) fn timeout(&self, kind: TimeoutKind) {
        if !self.claim() {
            return;
        }
        let answering = &self.0.answering;
        let counter = match kind {
            TimeoutKind::Invocation => &answering.counters.invocation_timeouts,
            TimeoutKind::Execution => &answering.counters.execution_timeouts,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let what = format!("the {} timeout expired", kind.as_str());
        answering.log_failure(&self.origin(), &|| self.sink().client(), "TimeoutError", &what);
        self.sink().send(Reply::Timeout(kind));
    }

    fn late(&self) {
        self.0.answering.counters.late_results.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(origin = %self.origin(), "a late result was dropped: a timeout answered its request already");
    }
}

/// `{"<key>": <payload>, "execution_logs": [...]}` built around an already-encoded payload, in JSON or
/// msgpack: how hololinked returns a result with its execution logs.
pub fn wrap_with_logs(key: &str, payload: &[u8], logs: &[String], ct: &ContentType) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 64 + logs.iter().map(|l| l.len() + 4).sum::<usize>());
    match ct {
        ct if ct.is_msgpack() => {
            out.push(0x82);
            let _ = rmp::encode::write_str(&mut out, key);
            out.extend_from_slice(payload);
            let _ = rmp::encode::write_str(&mut out, "execution_logs");
            let _ = rmp_serde::encode::write(&mut out, logs);
        }
        _ => {
            out.push(b'{');
            let _ = serde_json::to_writer(&mut out, key);
            out.push(b':');
            out.extend_from_slice(payload);
            out.extend_from_slice(b",\"execution_logs\":");
            let _ = serde_json::to_writer(&mut out, logs);
            out.push(b'}');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default, Clone)]
    struct Recorder(Arc<Mutex<Vec<String>>>);

    impl ReplySink for Recorder {
        fn send(&self, reply: Reply<'_>) {
            let text = match reply {
                Reply::Value { output, .. } => format!("value {}", String::from_utf8_lossy(&output.payload)),
                Reply::Error { class, error, .. } => format!("error {class:?} {}", error.kind),
                Reply::Timeout(kind) => format!("timeout {}", kind.as_str()),
            };
            self.0.lock().expect("lock").push(text);
        }
    }

    fn responder(recorder: &Recorder, answering: &Arc<Answering>) -> Responder {
        Responder::new(Vec::new(), recorder.clone(), Arc::clone(answering), Arc::from("t"), "readproperty", "x".into())
    }

    #[test]
    fn the_first_answer_wins_and_a_late_result_is_counted() {
        let answering = Answering::new(None);
        let recorder = Recorder::default();
        let responder = responder(&recorder, &answering);
        let copy = responder.clone();
        copy.timeout(TimeoutKind::Execution);
        responder.value(&ContentType::Json, Output::none(&ContentType::Json), None);
        responder.timeout(TimeoutKind::Invocation);
        assert_eq!(*recorder.0.lock().expect("lock"), ["timeout execution"]);
        assert_eq!(answering.counters.execution_timeouts.load(Ordering::Relaxed), 1);
        assert_eq!(answering.counters.invocation_timeouts.load(Ordering::Relaxed), 0);
        assert_eq!(answering.counters.late_results.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn errors_are_counted() {
        let answering = Answering::new(Some(tracing::Level::WARN));
        let recorder = Recorder::default();
        let responder = responder(&recorder, &answering);
        responder.error(ErrorClass::Failed, &ThingError::value_error("no"), None);
        assert_eq!(*recorder.0.lock().expect("lock"), ["error Failed ValueError"]);
        assert_eq!(answering.counters.failed.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn logs_wrap_in_both_encodings() {
        let logs = vec!["a".to_owned()];
        let json = wrap_with_logs("return_value", b"1.5", &logs, &ContentType::Json);
        let v: serde_json::Value = serde_json::from_slice(&json).expect("json");
        assert_eq!(v, serde_json::json!({"return_value": 1.5, "execution_logs": ["a"]}));
        let inner = rmp_serde::to_vec(&1.5f64).expect("mp");
        let mp = wrap_with_logs("return_value", &inner, &logs, &ContentType::Msgpack);
        let v: serde_json::Value = rmp_serde::from_slice(&mp).expect("msgpack");
        assert_eq!(v, serde_json::json!({"return_value": 1.5, "execution_logs": ["a"]}));
    }
}
