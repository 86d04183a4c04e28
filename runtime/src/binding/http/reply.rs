//! Answers on HTTP: the core's reply as a status code, headers and body.
//!
//! | the core's answer | status | body |
//! |---|---|---|
//! | a value | `200` | the value in the request's content type (`application/json` or `application/msgpack`); raw bytes as `application/octet-stream` |
//! | unknown Thing or name | `404` | hololinked's error object `{"exception": {message, type, traceback, notes}}`, with "did you mean" |
//! | a write to a read-only property | `405` | the error object, and `Allow: GET` |
//! | an operation that is not offered | `405` (`501` for one no Thing has) | the error object |
//! | a refused value or arguments (`ValueError`, `TypeError`, `DecodeError`) | `400` | the error object |
//! | an operation the Thing's current state does not allow (`StateMachineError`) | `409` | the error object |
//! | busy (a queue or the client's requests in flight at their limit), shutting down | `503` | the error object, `Retry-After: 1` |
//! | a timeout | `504` | the error object, type `TimeoutError` |
//! | any other failure of the Thing's code | `500` | the error object |
//!
//! With [`HttpOptions::hololinked_errors`](super::HttpOptions::hololinked_errors), errors are answered as
//! hololinked 0.4.2 answers them: `200` with the error object, and `408` for timeouts.

use std::sync::Mutex;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use tokio::sync::oneshot;

use crate::core::{ErrorClass, Reply, ReplySink, wrap_with_logs};
use crate::error::ThingError;
use crate::protocol::{ContentType, ErrorObject, ErrorPayload, TimeoutKind};

/// The core's answer, owned, for the task that waits on the HTTP request.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    Value { content_type: ContentType, payload: Vec<u8>, preserialized: Vec<u8>, logs: Option<Vec<String>> },
    Error { class: ErrorClass, object: ErrorObject, logs: Option<Vec<String>> },
    Timeout(TimeoutKind),
}

/// The HTTP binding's [`ReplySink`]: hands the answer to the waiting request.
pub(crate) struct HttpSink {
    tx: Mutex<Option<oneshot::Sender<Answer>>>,
    client: String,
}

impl HttpSink {
    pub(crate) fn new(client: String) -> (Self, oneshot::Receiver<Answer>) {
        let (tx, rx) = oneshot::channel();
        (Self { tx: Mutex::new(Some(tx)), client }, rx)
    }
}

impl ReplySink for HttpSink {
    fn send(&self, reply: Reply<'_>) {
        let answer = match reply {
            Reply::Value { content_type, output, logs } => Answer::Value {
                content_type: content_type.clone(),
                payload: output.payload,
                preserialized: output.preserialized,
                logs: logs.map(<[String]>::to_vec),
            },
            Reply::Error { class, error, origin, logs } => Answer::Error {
                class,
                object: error.to_error_object(&origin.to_string()),
                logs: logs.map(<[String]>::to_vec),
            },
            Reply::Timeout(kind) => Answer::Timeout(kind),
        };
        if let Some(tx) = self.tx.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = tx.send(answer);
        }
    }

    fn client(&self) -> String {
        self.client.clone()
    }
}

/// A sink that drops the answer: a `oneway` request's.
pub(crate) struct Discard(pub(crate) String);

impl ReplySink for Discard {
    fn send(&self, _reply: Reply<'_>) {}

    fn client(&self) -> String {
        self.0.clone()
    }
}

/// The status code of an error answer.
pub(crate) fn error_status(class: ErrorClass, kind: &str, hololinked: bool) -> StatusCode {
    match class {
        ErrorClass::UnknownThing | ErrorClass::UnknownName => StatusCode::NOT_FOUND,
        ErrorClass::ReadOnly => StatusCode::METHOD_NOT_ALLOWED,
        _ if hololinked => StatusCode::OK,
        ErrorClass::Invalid => StatusCode::BAD_REQUEST,
        ErrorClass::Unsupported if kind == "NotImplementedError" => StatusCode::METHOD_NOT_ALLOWED,
        ErrorClass::Unsupported => StatusCode::NOT_IMPLEMENTED,
        ErrorClass::Busy | ErrorClass::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorClass::Failed => match kind {
            // The Thing's state does not allow the operation now: it may later.
            "StateMachineError" => StatusCode::CONFLICT,
            "ValueError" | "TypeError" | "DecodeError" | "KeyError" | "AttributeError" => StatusCode::BAD_REQUEST,
            "NotImplementedError" => StatusCode::NOT_IMPLEMENTED,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        },
    }
}

/// An error response with hololinked's body.
pub(crate) fn error_response(
    class: ErrorClass,
    object: ErrorObject,
    logs: Option<&[String]>,
    hololinked: bool,
) -> Response {
    let status = error_status(class, &object.kind, hololinked);
    let mut body = serde_json::to_vec(&ErrorPayload { exception: object }).unwrap_or_default();
    if let Some(logs) = logs {
        body.pop();
        body.extend_from_slice(b",\"execution_logs\":");
        let _ = serde_json::to_writer(&mut body, logs);
        body.push(b'}');
    }
    let mut response = bytes_response(status, "application/json", body);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    if class == ErrorClass::ReadOnly {
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET"));
    }
    response
}

/// A refusal of the binding's own (a bad query, an unknown path…): the error object, with `status`.
pub(crate) fn refusal(status: StatusCode, error: ThingError) -> Response {
    let object = error.to_error_object("thingwire HTTP binding");
    let body = serde_json::to_vec(&ErrorPayload { exception: object }).unwrap_or_default();
    bytes_response(status, "application/json", body)
}

/// Gives the error responses that axum and hyper make themselves (a path that does not decode as UTF-8, a
/// body over the size limit, a method a route does not take) hololinked's error body, as every refusal of
/// the binding's own has: a client reads one error shape whatever refused it.
pub(crate) async fn rejections_as_errors(method: http::Method, uri: http::Uri, response: Response) -> Response {
    let status = response.status();
    let labelled_json = response.headers().get(header::CONTENT_TYPE).is_some_and(|ct| {
        ct.as_bytes().starts_with(b"application/json") || ct.as_bytes().starts_with(b"application/problem+json")
    });
    if !(status.is_client_error() || status.is_server_error()) || labelled_json {
        return response;
    }
    // The directory's refusals are Problem Details, as WoT Discovery asks, whoever made them.
    let directory = uri.path() == "/things" || uri.path().starts_with("/things/") || uri.path() == "/.well-known/wot";
    let allow = response.headers().get(header::ALLOW).cloned();
    let text = match axum::body::to_bytes(response.into_body(), 64 << 10).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let (kind, hint) = match status {
        StatusCode::METHOD_NOT_ALLOWED => ("MethodNotAllowed", format!("`{method}` is not taken by {}", uri.path())),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "ValueError",
            "the request body is larger than the server's limit \
            (HttpOptions::max_body): send less, or raise the limit"
                .to_owned(),
        ),
        s if s.is_client_error() => ("ValueError", "the request could not be read".to_owned()),
        _ => ("RuntimeError", "the server failed to answer".to_owned()),
    };
    let message = if text.is_empty() { hint } else { format!("{hint}: {text}") };
    let mut refused =
        if directory { problem(status, message, None) } else { refusal(status, ThingError::new(kind, message)) };
    if let Some(allow) = allow {
        refused.headers_mut().insert(header::ALLOW, allow);
    }
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body was never read, so hyper closes the connection after this answer: say so, or a
        // client's pool sends its next request on a connection that is about to go.
        refused.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    refused
}

/// The response for one answer.
pub(crate) fn answer_response(answer: Answer, hololinked: bool) -> Response {
    match answer {
        Answer::Value { preserialized, .. } if !preserialized.is_empty() => {
            bytes_response(StatusCode::OK, "application/octet-stream", preserialized)
        }
        Answer::Value { content_type, payload, logs: Some(logs), .. } => {
            let body = wrap_with_logs("return_value", &payload, &logs, &content_type);
            bytes_response(StatusCode::OK, content_type.as_str(), body)
        }
        Answer::Value { content_type, payload, logs: None, .. } => {
            bytes_response(StatusCode::OK, content_type.as_str(), payload)
        }
        Answer::Error { class, object, logs } => error_response(class, object, logs.as_deref(), hololinked),
        Answer::Timeout(kind) => {
            let status = if hololinked { StatusCode::REQUEST_TIMEOUT } else { StatusCode::GATEWAY_TIMEOUT };
            let message = match kind {
                TimeoutKind::Invocation => "the invocation timeout expired: the operation waited too long to start",
                TimeoutKind::Execution => "the execution timeout expired: the operation ran too long",
            };
            let object = ErrorObject::new("TimeoutError", message, &format!("{} timeout", kind.as_str()));
            let body = serde_json::to_vec(&ErrorPayload { exception: object }).unwrap_or_default();
            bytes_response(status, "application/json", body)
        }
    }
}

pub(crate) fn bytes_response(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

/// A response without a body.
pub(crate) fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// An RFC 7807 problem (`application/problem+json`: `type`, `title`, `status`, `detail`, and the
/// `validationErrors` the WoT Discovery directory adds for an invalid TD): how the Thing Directory refuses.
pub(super) fn problem(status: StatusCode, detail: String, validation_errors: Option<serde_json::Value>) -> Response {
    let mut body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    if let Some(errors) = validation_errors {
        body["validationErrors"] = errors;
    }
    let mut response =
        bytes_response(status, "application/problem+json", serde_json::to_vec(&body).unwrap_or_default());
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body may be unread: hyper closes the connection after this answer, so say so.
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_say_what_went_wrong_unless_hololinked_style_is_asked_for() {
        assert_eq!(error_status(ErrorClass::Failed, "ValueError", false), StatusCode::BAD_REQUEST);
        assert_eq!(error_status(ErrorClass::Failed, "RuntimeError", false), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(error_status(ErrorClass::UnknownName, "KeyError", false), StatusCode::NOT_FOUND);
        assert_eq!(error_status(ErrorClass::ReadOnly, "AttributeError", false), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(error_status(ErrorClass::Busy, "RuntimeError", false), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error_status(ErrorClass::Failed, "ValueError", true), StatusCode::OK);
        assert_eq!(error_status(ErrorClass::UnknownName, "KeyError", true), StatusCode::NOT_FOUND, "as hololinked");
        let timeout = answer_response(Answer::Timeout(TimeoutKind::Execution), false);
        assert_eq!(timeout.status(), StatusCode::GATEWAY_TIMEOUT);
        let timeout = answer_response(Answer::Timeout(TimeoutKind::Execution), true);
        assert_eq!(timeout.status(), StatusCode::REQUEST_TIMEOUT);
    }
}
