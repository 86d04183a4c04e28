//! Every `#[action(...)]` key, in each execution mode: queued (`&self`, `&mut self`, sync and async),
//! `threaded` and `concurrent`.

use std::time::Duration;

use thingwire::prelude::*;

#[thing]
pub struct Stage {
    id: String,
    position: f64,
}

#[thing]
impl Stage {
    /// Moves to `target` (queued, `&mut self`).
    #[action(invocation_timeout = "500ms", execution_timeout = "2min")]
    fn move_to(&mut self, target: f64) {
        self.position = target;
    }

    #[action(safe, idempotent, title = "Position", description = "Where the stage is")]
    fn where_is(&self) -> f64 {
        self.position
    }

    #[action(threaded, execution_timeout = "1.5s")]
    fn home_blocking(&self) {
        std::thread::sleep(Duration::from_millis(1));
    }

    #[action(concurrent, invocation_timeout = "1h")]
    async fn settle(&self) {}

    #[action(rename = "halt")]
    async fn stop(&mut self) {
        self.position = 0.0;
    }

    #[action(execution_timeout = "5s")]
    async fn queued_async(&self) -> f64 {
        self.position
    }

    /// Not exposed: no attribute.
    fn helper(&self) -> f64 {
        self.position
    }
}

#[allow(dead_code)]
async fn drive(stage: &StageClient) -> Result<(), ClientError> {
    stage.move_to(1.0).await?;
    let _: f64 = stage.where_is().await?;
    stage.home_blocking().await?;
    stage.settle().await?;
    stage.stop().await?;
    let _: f64 = stage.queued_async().await?;
    Ok(())
}

fn main() {
    let stage = Stage { id: "stage".into(), position: 0.0 };
    let d = Stage::thing_descriptor();
    let names: Vec<&str> = d.actions.iter().map(|a| a.name).collect();
    assert!(names.contains(&"halt"));
    assert_eq!(d.action("home_blocking").map(|a| a.mode), Some(ExecutionMode::Threaded));
    assert_eq!(d.action("settle").map(|a| a.mode), Some(ExecutionMode::Concurrent));
    let _ = stage.helper();
}
