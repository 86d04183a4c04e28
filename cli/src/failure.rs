//! What went wrong, how to say it on stderr (text or JSON), and which exit status it gets.

use std::process::ExitCode;

use serde_json::json;
use thingwire::ClientError;
use thingwire::protocol::TimeoutKind;

use crate::values::human_duration;

/// Why a command failed; decides the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The command line is wrong: a bad address or value, an unknown argument (exit status 2).
    Usage,
    /// The server answered with an error, or the name is unknown (exit status 1).
    Failed,
    /// The server could not be reached, or did not answer in time (exit status 3).
    NoAnswer,
    /// ctrl-c (exit status 130).
    Interrupted,
}

impl Kind {
    fn code(self) -> u8 {
        match self {
            Self::Usage => 2,
            Self::Failed => 1,
            Self::NoAnswer => 3,
            Self::Interrupted => 130,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Self::Usage => "usage",
            Self::Failed => "failed",
            Self::NoAnswer => "no-answer",
            Self::Interrupted => "interrupted",
        }
    }
}

/// A failed command: a one-line message, extra lines (hints, notes, a traceback), and the remote exception
/// when there is one.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Why.
    pub kind: Kind,
    /// The first line, after `error: `.
    pub message: String,
    /// Lines shown under it.
    pub details: Vec<String>,
    /// The remote exception `(type, message)`, for `--json`.
    pub exception: Option<(String, String)>,
}

impl Failure {
    /// A failure of `kind` with `message`.
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), details: Vec::new(), exception: None }
    }

    /// A command-line mistake.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }

    /// The operation failed.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(Kind::Failed, message)
    }

    /// Adds a line under the message.
    pub fn detail(mut self, line: impl Into<String>) -> Self {
        self.details.push(line.into());
        self
    }

    /// Describes a client error; `verbose` adds the remote traceback.
    pub fn from_client(error: &ClientError, verbose: bool) -> Self {
        match error {
            ClientError::Remote(remote) => {
                let mut f = Self::failed(format!(
                    "{}.{}: the server raised {}: {}",
                    remote.thing, remote.name, remote.kind, remote.message
                ));
                f.exception = Some((remote.kind.clone(), remote.message.clone()));
                for note in remote.notes.iter().flatten() {
                    f.details.push(format!("note: {note}"));
                }
                if verbose {
                    f.details.extend(remote.traceback.iter().map(|l| format!("| {l}")));
                } else if !remote.traceback.is_empty() {
                    f.details.push("(-v shows the server's traceback)".into());
                }
                f
            }
            ClientError::InvalidMessage { thing, name, message, .. } => {
                Self::failed(format!("{thing}.{name}: the server refused the request: {message}"))
            }
            ClientError::ServerTimeout { thing, name, kind } => {
                let (what, hint) = match kind {
                    TimeoutKind::Invocation => (
                        "waited too long in the Thing's queue (invocation timeout)",
                        "the Thing was busy; retry, or allow longer with --invocation-timeout",
                    ),
                    _ => (
                        "ran longer than allowed (execution timeout)",
                        "allow longer with --execution-timeout, if the action has no limit of its own",
                    ),
                };
                Self::new(Kind::NoAnswer, format!("{thing}.{name}: {what}; the server gave up")).detail(hint)
            }
            ClientError::Timeout { thing, name, address, timeout } => Self::new(
                Kind::NoAnswer,
                format!("{thing}.{name}: no reply from {address} within {}", human_duration(*timeout)),
            )
            .detail("wait longer with --timeout (e.g. --timeout 60s, or --timeout none)"),
            ClientError::Unreachable { address, timeout } => Self::new(
                Kind::NoAnswer,
                format!(
                    "could not reach a server at {address}: no answer to the handshake within {}",
                    human_duration(*timeout)
                ),
            )
            .detail("is a thingwire or hololinked server running there? (--connect-timeout waits longer)"),
            ClientError::Closed { address } => {
                Self::new(Kind::NoAnswer, format!("the connection to {address} closed unexpectedly"))
            }
            ClientError::Unauthorized { address, reason } => Self::new(
                Kind::Failed,
                format!("{address} refused the connection: its authentication did not admit this client"),
            )
            .detail(reason.to_string()),
            other => Self::failed(other.to_string()),
        }
    }

    /// The exit status.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.kind.code())
    }

    /// Prints the failure on stderr: `error: …` and indented details, or one JSON object.
    pub fn print(&self, json: bool) {
        if json {
            let mut error = json!({"kind": self.kind.word(), "message": self.message, "details": self.details});
            if let Some((kind, message)) = &self.exception {
                error["exception"] = json!({"type": kind, "message": message});
            }
            eprintln!("{}", json!({ "error": error }));
        } else {
            eprintln!("error: {}", self.message);
            for line in &self.details {
                eprintln!("  {line}");
            }
        }
    }
}
