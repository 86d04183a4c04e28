//! Explicit synchronisation between a test and the Things it serves (STYLE rule 14), instead of sleeping
//! until something has probably happened: an action says where it is on a [`Signal`] and waits at a
//! [`Turnstile`] until the test lets it through with the matching [`Gate`]. A long action is then running
//! for exactly as long as the test needs, however loaded the machine is.
//!
//! Every wait is bounded and fails loudly: the test waits [`SIGNAL_WAIT`] for a signal, and a test that fails
//! before opening its gate drops it, which lets every waiting action go at once.

use std::sync::Arc;
use std::time::Duration;

use thingwire::prelude::*;
use tokio::sync::{Semaphore, mpsc};

/// How long a test waits for a Thing's signal before it fails.
pub const SIGNAL_WAIT: Duration = Duration::from_secs(10);

/// How long an action waits at a turnstile at most (only a leaked gate can make it wait that long).
const TURNSTILE_WAIT: Duration = Duration::from_secs(60);

/// A closed gate: the test keeps the [`Gate`], the Thing the [`Turnstile`].
pub fn gate() -> (Gate, Turnstile) {
    let permits = Arc::new(Semaphore::new(0));
    (Gate(Arc::clone(&permits)), Turnstile(permits))
}

/// The test's side of a turnstile. Dropping it opens the turnstile for good.
pub struct Gate(Arc<Semaphore>);

impl Gate {
    /// Lets `n` passes through, now or as they come.
    pub fn let_through(&self, n: usize) {
        self.0.add_permits(n);
    }

    /// Opens for good: every waiting and every later pass goes through.
    pub fn open(&self) {
        self.0.close();
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The Thing's side: actions wait here until the test lets them through.
#[derive(Clone)]
pub struct Turnstile(Arc<Semaphore>);

impl Turnstile {
    /// Waits until the test lets this pass through (or opens or drops its gate).
    pub async fn pass(&self) {
        match tokio::time::timeout(TURNSTILE_WAIT, self.0.acquire()).await {
            Ok(Ok(permit)) => permit.forget(),
            Ok(Err(_open_for_good)) => {}
            Err(_) => panic!("the test never let this action through its gate ({TURNSTILE_WAIT:?})"),
        }
    }

    /// [`Turnstile::pass`] on a blocking thread (a threaded action's worker).
    pub fn pass_blocking(&self) {
        tokio::runtime::Handle::current().block_on(self.pass());
    }
}

/// A channel from a Thing to its test: the Thing keeps the [`Signal`], the test the [`Signals`].
pub fn signal() -> (Signal, Signals) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Signal(tx), Signals(rx))
}

/// The Thing's side: says where an action is. Never blocks, from any thread.
#[derive(Clone)]
pub struct Signal(mpsc::UnboundedSender<String>);

impl Signal {
    pub fn send(&self, what: impl Into<String>) {
        // A test that has already ended no longer listens.
        let _ = self.0.send(what.into());
    }

    /// A guard that sends `what` when it is dropped before [`Unfinished::finish`]: how an async action tells
    /// the test that its future was dropped (cancelled) instead of run to its end.
    pub fn unless_finished(&self, what: impl Into<String>) -> Unfinished {
        Unfinished(Some((self.clone(), what.into())))
    }
}

/// See [`Signal::unless_finished`].
pub struct Unfinished(Option<(Signal, String)>);

impl Unfinished {
    pub fn finish(mut self) {
        self.0 = None;
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some((signal, what)) = self.0.take() {
            signal.send(what);
        }
    }
}

/// The test's side: the signals in the order the Thing sent them.
pub struct Signals(mpsc::UnboundedReceiver<String>);

impl Signals {
    /// The next signal; fails the test when none comes within [`SIGNAL_WAIT`].
    pub async fn next(&mut self) -> String {
        match tokio::time::timeout(SIGNAL_WAIT, self.0.recv()).await {
            Ok(Some(what)) => what,
            Ok(None) => panic!("the Thing that signals is gone"),
            Err(_) => panic!("no signal from the Thing within {SIGNAL_WAIT:?}"),
        }
    }

    /// Waits for the next signal and checks that it is `what`.
    pub async fn expect(&mut self, what: &str) {
        let got = self.next().await;
        assert_eq!(got, what, "the Thing signalled `{got}` where the test waited for `{what}`");
    }
}

/// A Thing whose actions say when they start and then wait at a turnstile until the test lets them through:
/// a long action of each kind (queued, concurrent, threaded) that is certainly running, and certainly still
/// running, until the test says otherwise.
#[thing(id = "gated")]
pub struct Gated {
    #[property]
    gain: f64,
    /// What `record` saw, in order.
    #[property(read_only)]
    order: Vec<u32>,
    /// How many `hold`s ran to their end.
    #[property(read_only)]
    side_effects: u32,
    turnstile: Turnstile,
    signal: Signal,
}

impl Gated {
    pub fn new(turnstile: Turnstile, signal: Signal) -> Self {
        Self { gain: 1.0, order: Vec::new(), side_effects: 0, turnstile, signal }
    }
}

#[thing]
impl Gated {
    /// Queued, holding the Thing exclusively: says `hold`, waits at the gate, then counts a side effect (its
    /// result). Says `hold cancelled` when its future is dropped before that.
    #[action]
    async fn hold(&mut self) -> u32 {
        let unfinished = self.signal.unless_finished("hold cancelled");
        self.signal.send("hold");
        self.turnstile.pass().await;
        self.side_effects += 1;
        unfinished.finish();
        self.signal.send("hold done");
        self.side_effects
    }

    /// Concurrent, holding the Thing shared: says `hold_shared`, waits at the gate, then returns the gain it
    /// sees (a write that did not wait for it would show here).
    #[action(concurrent)]
    async fn hold_shared(&self) -> f64 {
        self.signal.send("hold_shared");
        self.turnstile.pass().await;
        self.gain
    }

    /// Threaded, holding the Thing shared and blocking its worker thread: says `hold_thread`, waits at the
    /// gate, says `hold_thread done` and returns the gain it sees.
    #[action(threaded)]
    fn hold_thread(&self) -> f64 {
        self.signal.send("hold_thread");
        self.turnstile.pass_blocking();
        self.signal.send("hold_thread done");
        self.gain
    }

    /// Concurrent and immediate: the gain.
    #[action(concurrent)]
    async fn nudge(&self) -> f64 {
        self.gain
    }

    /// Appends `n` to `order`.
    #[action]
    fn record(&mut self, n: u32) {
        self.order.push(n);
    }
}

/// A server serving a [`Gated`] Thing on `protocol` (with a unique server id); its address, the gate and
/// the signals.
pub async fn gated_server(protocol: thingwire::Protocol) -> (Server, String, Gate, Signals) {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let id = format!("gated-{}-{n}", protocol.as_str().to_lowercase());
    let (gate, turnstile) = gate();
    let (signal, signals) = signal();
    let (server, address) = super::serve_on(protocol, &id, vec![super::thing(Gated::new(turnstile, signal))]).await;
    (server, address, gate, signals)
}
