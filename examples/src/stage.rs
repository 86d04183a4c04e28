//! A simulated motorised linear stage: 100 mm of travel, soft limits, a speed setting, moves that take
//! distance / speed and can be stopped half-way.
//!
//! The motion runs in a background task that owns nothing but an `Arc` of the stage's state, so `position`
//! can be read while the stage moves and `stop()` can abort it. `move_to` and `home` start such a task and
//! then wait for it to finish.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thingwire::prelude::*;
use tokio::time::Instant;

use crate::sim::{BackgroundTask, lock};

/// The mechanical travel of the stage, in mm; soft limits must lie within it.
pub const TRAVEL_MM: (f64, f64) = (0.0, 100.0);

/// How often a moving stage updates (and publishes) its position.
const TICK: Duration = Duration::from_millis(50);

/// Soft travel limits, in mm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Limits {
    /// Lowest position a move may target, in mm.
    pub min: f64,
    /// Highest position a move may target, in mm.
    pub max: f64,
}

/// Which limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The lower limit.
    Min,
    /// The upper limit.
    Max,
}

/// Data of the `limit_reached` event.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LimitReached {
    /// Which limit the stage stopped at.
    pub limit: Side,
    /// The position, in mm.
    pub position: f64,
}

/// How a move ended.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MoveOutcome {
    /// Where the stage is now, in mm.
    pub position: f64,
    /// `true` when it arrived at the target; `false` when it was stopped (by `stop()` or a newer move).
    pub reached: bool,
}

/// The stage's states: `move_to`, `home` and writes of `speed` and `limits` only while `Idle`; `reset` only in
/// `Fault`; `stop` always.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum StageState {
    /// At rest, ready to move.
    Idle,
    /// A move is in progress.
    Moving,
    /// The drive reported a fault: nothing moves until `reset`.
    Fault,
}

/// What the Thing and its motion task share.
#[derive(Debug)]
struct Motion {
    position: Mutex<f64>,
    task: BackgroundTask,
}

/// A simulated linear stage.
#[thing(title = "Linear stage")]
pub struct Stage {
    id: String,
    /// Speed of the next moves
    #[property(minimum = 0.1, maximum = 50, default = 10.0, unit = "mm/s")]
    speed: f64,
    /// Idle, Moving or Fault: what the stage accepts now
    #[state_machine]
    state: StateMachine<StageState>,
    /// The stage stopped at a soft limit
    #[event]
    limit_reached: Event<LimitReached>,
    // The change events of the observable `position`, published by the motion task. The runtime publishes
    // `<thing>/position_change_event` itself only after an operation that goes through the Thing's
    // scheduler (a read, a write, a queued action), and a Thing has no way yet to reach its publisher from a
    // background task. So this handle has no `#[event]` attribute (an event of that name in the TD would
    // clash with the observable property in hololinked's client); `crate::start_lab` connects it as the
    // property's changes (`EventBinder::bind_property_change`, every binding) after the server has started. Until then, and on a server that does not connect it, `emit`
    // fails harmlessly and changes are only published after operations.
    position_change: Event<f64>,
    limits: Limits,
    motion: Arc<Motion>,
}

impl Stage {
    /// A stage at 0 mm, moving at 10 mm/s, with its soft limits at the ends of its travel.
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            speed: 10.0,
            state: StateMachine::new(StageState::Idle),
            limit_reached: Event::new(),
            position_change: Event::new(),
            limits: Limits { min: TRAVEL_MM.0, max: TRAVEL_MM.1 },
            motion: Arc::new(Motion { position: Mutex::new(TRAVEL_MM.0), task: BackgroundTask::default() }),
        }
    }

    /// The handle the motion task publishes `position` changes through; connect it to
    /// the `position` changes with [`EventBinder::bind_property_change`](thingwire::EventBinder::bind_property_change) once the stage is
    /// served (as [`crate::start_lab`] does).
    pub fn position_notifier(&self) -> Event<f64> {
        self.position_change.clone()
    }

    fn current(&self) -> f64 {
        *lock(&self.motion.position)
    }

    /// Starts a move to `target` (already checked) and waits for it to end.
    async fn travel(&self, target: f64) -> MoveOutcome {
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let motion = Arc::clone(&self.motion);
        let speed = self.speed;
        let limits = self.limits;
        let position_change = self.position_change.clone();
        let limit_reached = self.limit_reached.clone();
        let state = self.state.clone();
        state.set(StageState::Moving);
        // Starting a move aborts the one before (its caller gets `reached: false`).
        self.motion.task.start(async move {
            let mut last = Instant::now();
            loop {
                tokio::time::sleep(TICK).await;
                let step = speed * last.elapsed().as_secs_f64();
                last = Instant::now();
                let (position, arrived) = {
                    let mut position = lock(&motion.position);
                    let gap = target - *position;
                    *position = if gap.abs() <= step { target } else { *position + step.copysign(gap) };
                    (*position, *position == target)
                };
                let _ = position_change.emit(&position);
                if arrived {
                    let side = if position == limits.min {
                        Some(Side::Min)
                    } else if position == limits.max {
                        Some(Side::Max)
                    } else {
                        None
                    };
                    if let Some(limit) = side {
                        let _ = limit_reached.emit(&LimitReached { limit, position });
                    }
                    state.set(StageState::Idle);
                    let _ = done_tx.send(position);
                    return;
                }
            }
        });
        match done_rx.await {
            Ok(position) => MoveOutcome { position, reached: true },
            // The task was aborted before it arrived, and its sender with it.
            Err(_) => MoveOutcome { position: self.current(), reached: false },
        }
    }
}

// Why `move_to`, `home` and `stop` are `concurrent`:
//
// * queued, `move_to` would hold the Thing for the whole move: `position` reads would wait behind it (no
//   progress to show) and so would `stop()` — useless for a stop;
// * threaded, it would block a worker thread just to wait;
// * concurrent, it runs beside the queue with `&self`: `position` reads and `stop()` are served while it
//   waits, and the motion itself lives in a background task that `stop()` aborts.
//
// The price of `&self`: a concurrent action shares the Thing, so *writes* (`speed`, `limits`) wait until the
// move ends — which is what a stage wants anyway (the speed of a move in progress does not change). But a
// write that arrives during a move also holds up everything queued after it — including a `stop()` — until
// the move ends; see the guide (docs/guide.md, "Execution modes").
//
// If the caller stops waiting (its execution timeout expired), the motion goes on: it belongs to the stage,
// not to the call. Use `stop()` to halt it.
#[thing(states(Idle = [move_to, home, speed, limits], Fault = [reset]))]
impl Stage {
    /// Current position
    #[property(observable, unit = "mm")]
    fn position(&self) -> f64 {
        self.current()
    }

    /// Whether the stage is moving
    #[property]
    fn moving(&self) -> bool {
        self.motion.task.is_running()
    }

    /// Soft travel limits: moves outside them are refused (within 0–100 mm, `min` < `max`). Persisted: a
    /// restarted lab keeps them.
    #[property(unit = "mm", persist)]
    fn limits(&self) -> Limits {
        self.limits
    }

    #[property(setter)]
    fn set_limits(&mut self, value: Limits) -> Result<(), ThingError> {
        let (lo, hi) = TRAVEL_MM;
        if !(value.min.is_finite() && value.max.is_finite()) || value.min >= value.max {
            return Err(ThingError::value_error(format!(
                "limits need min < max, got min {} and max {}",
                value.min, value.max
            )));
        }
        if value.min < lo || value.max > hi {
            return Err(ThingError::value_error(format!("limits must lie within the travel, {lo}–{hi} mm")));
        }
        self.limits = value;
        Ok(())
    }

    /// Move to `target` (mm) at `speed`, and wait until the stage gets there (or is stopped). Takes
    /// |target − position| / speed. A target outside `limits` raises ValueError.
    #[action(concurrent)]
    async fn move_to(&self, target: f64) -> Result<MoveOutcome, ThingError> {
        let Limits { min, max } = self.limits;
        if !target.is_finite() || target < min || target > max {
            return Err(ThingError::value_error(format!("target {target} mm is outside the limits {min}–{max} mm")));
        }
        Ok(self.travel(target).await)
    }

    /// Move to the lower limit (`limits.min`) and wait until the stage gets there.
    #[action(concurrent)]
    async fn home(&self) -> MoveOutcome {
        self.travel(self.limits.min).await
    }

    /// Stop at once; returns the position where the stage stopped.
    #[action(concurrent)]
    async fn stop(&self) -> f64 {
        self.motion.task.stop();
        if self.state.is(StageState::Moving) {
            self.state.set(StageState::Idle);
        }
        let position = self.current();
        let _ = self.position_change.emit(&position);
        position
    }

    /// Simulate a drive fault (a stall): the stage stops where it is and refuses to move until `reset`.
    #[action(concurrent)]
    async fn inject_fault(&self) -> f64 {
        self.motion.task.stop();
        self.state.set(StageState::Fault);
        self.current()
    }

    /// Clear a fault: the stage is `Idle` again.
    #[action(concurrent)]
    async fn reset(&self) {
        self.state.set(StageState::Idle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_move_takes_distance_over_speed() {
        let stage = Stage::new("s");
        let started = tokio::time::Instant::now();
        let outcome = stage.move_to(20.0).await.expect("in range");
        assert_eq!(outcome, MoveOutcome { position: 20.0, reached: true });
        let took = started.elapsed().as_secs_f64();
        assert!((1.9..2.2).contains(&took), "took {took} s");
    }

    #[tokio::test]
    async fn a_target_outside_the_limits_is_a_value_error() {
        let stage = Stage::new("s");
        let err = stage.move_to(150.0).await.expect_err("refused");
        assert_eq!(err.kind, "ValueError");
        assert!(err.message.contains("outside the limits"), "{err}");
    }

    #[tokio::test]
    async fn stop_ends_the_move_early() {
        let stage = Arc::new(Stage::new("s"));
        let mover = Arc::clone(&stage);
        let waiting = tokio::spawn(async move { mover.move_to(100.0).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stopped_at = stage.stop().await;
        let outcome = waiting.await.expect("join").expect("in range");
        assert!(!outcome.reached);
        assert!(stopped_at > 0.0 && stopped_at < 100.0, "stopped at {stopped_at}");
        assert_eq!(outcome.position, stopped_at);
        assert!(!stage.moving());
    }
}
