//! The generated client as a user sees it: `connect`, `from_handle`, `handle`, `with_timeout`,
//! `with_options`, property, action and event methods, `Clone` and `Debug`, used from a spawned task. Only
//! compiled, never run.

use std::time::Duration;

use thingwire::prelude::*;
use thingwire::{CallOptions, ThingHandle};

#[thing]
pub struct Pump {
    id: String,
    #[property(minimum = 0, maximum = 100, observable)]
    flow: f64,
    #[property(read_only)]
    model: String,
    #[event]
    stalled: Event<String>,
}

#[thing]
impl Pump {
    /// Primes the pump.
    #[action(execution_timeout = "30s")]
    async fn prime(&mut self, #[param(minimum = 1)] cycles: u32) -> Result<u32, ThingError> {
        Ok(cycles)
    }

    #[property]
    fn running(&self) -> bool {
        self.flow > 0.0
    }
}

#[allow(dead_code)]
async fn drive() -> Result<(), ClientError> {
    let pump = PumpClient::connect("tcp://127.0.0.1:5555", "pump").await?;
    let _ = format!("{pump:?}");
    let short = pump.with_timeout(Duration::from_millis(100));
    let oneway = pump.with_options(CallOptions::default());
    let again = PumpClient::from_handle(ThingHandle::connect("ipc://lab", "pump").await?);
    let _: &ThingHandle = again.handle();

    let _: f64 = short.flow().await?;
    pump.set_flow(12.5).await?;
    let _changes: thingwire::Subscription<f64> = pump.flow_changes().await?;
    let _: String = oneway.model().await?;
    let _: bool = pump.running().await?;
    let task = tokio::spawn({
        let pump = pump.clone();
        async move { pump.prime(3).await }
    });
    let _: u32 = task.await.expect("joined")?;
    let _stalls: thingwire::Subscription<String> = pump.stalled().subscribe().await?;
    Ok(())
}

fn main() {
    let _ = Pump { id: "pump".into(), flow: 0.0, model: "P-1".into(), stalled: Event::new() };
}
