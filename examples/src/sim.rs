//! Small helpers the simulated instruments share: a random number generator for noise, and the handle of a
//! background task that is aborted when its owner is dropped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

/// Locks a mutex, ignoring poisoning: a simulation that panicked half-way leaves plain numbers behind, which
/// are still fine to read.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A small, fast pseudo-random generator (SplitMix64) — plenty for simulated noise, and no dependency.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    /// A generator seeded from the clock and a process-wide counter, so two instruments differ.
    pub(crate) fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        Self::seeded(nanos ^ COUNTER.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed))
    }

    /// A generator with a fixed seed (for tests).
    pub(crate) fn seeded(seed: u64) -> Self {
        Self { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub(crate) fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// The handle of at most one background task (a continuous acquisition, a move, a control loop).
///
/// Starting a new task aborts the previous one; dropping the handle aborts the task, so a Thing that owns
/// one stops its work when the server drops the Thing at shutdown. The task itself must hold no reference to
/// the Thing (only `Arc`s of shared state and clones of `Event` handles), or the Thing would never be
/// dropped.
#[derive(Debug, Default)]
pub(crate) struct BackgroundTask {
    handle: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl BackgroundTask {
    /// Spawns `task` on the current Tokio runtime, aborting the task that ran before.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime (as `tokio::spawn` does).
    pub(crate) fn start<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(task);
        if let Some(previous) = lock(&self.handle).replace(handle) {
            previous.abort();
        }
    }

    /// Aborts the task; `true` when one was still running.
    pub(crate) fn stop(&self) -> bool {
        match lock(&self.handle).take() {
            Some(handle) => {
                let running = !handle.is_finished();
                handle.abort();
                running
            }
            None => false,
        }
    }

    /// Whether a task is running.
    pub(crate) fn is_running(&self) -> bool {
        lock(&self.handle).as_ref().is_some_and(|h| !h.is_finished())
    }
}

impl Drop for BackgroundTask {
    fn drop(&mut self) {
        if let Some(handle) = lock(&self.handle).take() {
            handle.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_noise_has_zero_mean_and_unit_spread() {
        let mut rng = Rng::seeded(7);
        let n = 20_000;
        let samples: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let mean = samples.iter().sum::<f64>() / n as f64;
        let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.05, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "variance {var}");
    }

    #[tokio::test]
    async fn dropping_the_handle_aborts_the_task() {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
        let task = BackgroundTask::default();
        task.start(async move {
            let _keep = tx;
            std::future::pending::<()>().await;
        });
        assert!(task.is_running());
        drop(task);
        // The sender is dropped with the aborted task, so the channel closes.
        assert!(rx.recv().await.is_none());
    }

    #[tokio::test]
    async fn starting_again_aborts_the_previous_task() {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
        let task = BackgroundTask::default();
        task.start(async move {
            let _keep = tx;
            std::future::pending::<()>().await;
        });
        task.start(std::future::pending());
        assert!(rx.recv().await.is_none());
        assert!(task.stop(), "the second task was running");
        assert!(!task.is_running());
    }
}
