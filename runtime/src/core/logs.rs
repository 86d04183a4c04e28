//! Execution logs: the tracing events a Thing emits during one operation, returned with its result when the
//! request asks for them (`thingExecutionContext.fetchExecutionLogs`).
//!
//! Capturing swaps in one process-wide capture dispatcher while the operation is polled; it records the
//! events (DEBUG and above) into the operation's buffer and forwards everything to the dispatcher that was
//! in force, so the application's own logging is unchanged.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Dispatch, Event, Interest, Level, LevelFilter, Metadata, Subscriber};

/// The log lines of one operation.
#[derive(Clone, Default)]
pub(crate) struct LogBuffer(Arc<Mutex<Vec<String>>>);

impl LogBuffer {
    pub(crate) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

thread_local! {
    static ACTIVE: RefCell<Vec<(LogBuffer, Dispatch)>> = const { RefCell::new(Vec::new()) };
}

struct CaptureSubscriber;

impl CaptureSubscriber {
    fn outer<R>(f: impl FnOnce(Option<&Dispatch>) -> R) -> R {
        ACTIVE.with(|a| f(a.borrow().last().map(|(_, d)| d)))
    }
}

impl Subscriber for CaptureSubscriber {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }
    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::TRACE)
    }
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let capturing = *metadata.level() <= Level::DEBUG;
        capturing || Self::outer(|o| o.is_some_and(|d| d.enabled(metadata)))
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        Self::outer(|o| o.map(|d| d.new_span(span))).unwrap_or_else(|| Id::from_u64(1))
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        Self::outer(|o| o.map(|d| d.record(span, values)));
    }
    fn record_follows_from(&self, span: &Id, follows: &Id) {
        Self::outer(|o| o.map(|d| d.record_follows_from(span, follows)));
    }
    fn event(&self, event: &Event<'_>) {
        let metadata = event.metadata();
        if *metadata.level() <= Level::DEBUG {
            let line = format_line(event);
            ACTIVE.with(|a| {
                if let Some((buffer, _)) = a.borrow().last() {
                    buffer.0.lock().unwrap_or_else(|p| p.into_inner()).push(line);
                }
            });
        }
        Self::outer(|o| {
            if let Some(d) = o.filter(|d| d.enabled(metadata)) {
                d.event(event);
            }
        });
    }
    fn enter(&self, span: &Id) {
        Self::outer(|o| o.map(|d| d.enter(span)));
    }
    fn exit(&self, span: &Id) {
        Self::outer(|o| o.map(|d| d.exit(span)));
    }
    fn clone_span(&self, id: &Id) -> Id {
        Self::outer(|o| o.map(|d| d.clone_span(id))).unwrap_or_else(|| id.clone())
    }
    fn try_close(&self, id: Id) -> bool {
        Self::outer(|o| o.map(|d| d.try_close(id))).unwrap_or(false)
    }
}

fn format_line(event: &Event<'_>) -> String {
    struct Fields<'a>(&'a mut String);
    impl Visit for Fields<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            if field.name() == "message" {
                let _ = write!(self.0, " {value:?}");
            } else {
                let _ = write!(self.0, " {}={value:?}", field.name());
            }
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() == "message" {
                let _ = write!(self.0, " {value}");
            } else {
                let _ = write!(self.0, " {}={value:?}", field.name());
            }
        }
    }
    let m = event.metadata();
    let mut line = format!("{} - {} - {} -", crate::util::utc_timestamp(), m.level(), m.target());
    event.record(&mut Fields(&mut line));
    line
}

fn capture_dispatch() -> &'static Dispatch {
    static DISPATCH: OnceLock<Dispatch> = OnceLock::new();
    DISPATCH.get_or_init(|| Dispatch::new(CaptureSubscriber))
}

/// Runs `f` with capture on, recording into `buffer`.
pub(crate) fn capture_sync<R>(buffer: &LogBuffer, f: impl FnOnce() -> R) -> R {
    let outer = tracing_core::dispatcher::get_default(Dispatch::clone);
    ACTIVE.with(|a| a.borrow_mut().push((buffer.clone(), outer)));
    let result = tracing_core::dispatcher::with_default(capture_dispatch(), f);
    ACTIVE.with(|a| a.borrow_mut().pop());
    result
}

/// A future whose polls run with capture on.
pub(crate) struct Captured<F> {
    inner: Pin<Box<F>>,
    buffer: LogBuffer,
}

impl<F> Captured<F> {
    pub(crate) fn new(inner: F, buffer: LogBuffer) -> Self {
        Self { inner: Box::pin(inner), buffer }
    }
}

impl<F: Future> Future for Captured<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let inner = &mut this.inner;
        capture_sync(&this.buffer, || inner.as_mut().poll(cx))
    }
}
