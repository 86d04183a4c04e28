//! "waiting for …" on stderr while a reply is slow to come: a live counter on a terminal, one line after a
//! few seconds otherwise, nothing with `--quiet` or when the answer is quick.

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use tokio::time::{Instant, sleep};

/// How long a wait must last before a terminal shows it.
const TERMINAL_DELAY: Duration = Duration::from_millis(700);
/// How long a wait must last before a pipe or file gets one line about it.
const PIPE_DELAY: Duration = Duration::from_secs(3);

/// Runs `future`; while it is pending, tells the user that we are `what` (e.g. "waiting for tcp://…").
pub async fn waiting<F: Future>(what: &str, quiet: bool, future: F) -> F::Output {
    if quiet {
        return future.await;
    }
    tokio::pin!(future);
    let start = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    tokio::select! {
        out = &mut future => return out,
        () = sleep(if terminal { TERMINAL_DELAY } else { PIPE_DELAY }) => {}
    }
    if !terminal {
        eprintln!("thingwire: still {what} ({}s so far)", start.elapsed().as_secs());
        return future.await;
    }
    loop {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{what} … {:.1}s", start.elapsed().as_secs_f64());
        let _ = err.flush();
        drop(err);
        tokio::select! {
            out = &mut future => {
                eprint!("\r\x1b[2K");
                return out;
            }
            () = sleep(Duration::from_millis(100)) => {}
        }
    }
}
