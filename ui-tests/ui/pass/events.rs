//! `#[event]` with and without `rename`, `title`, `description`; event data of several types; the client's
//! event methods.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thingwire::prelude::*;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Alarm {
    pub level: u8,
}

#[thing]
pub struct Detector {
    id: String,
    /// Emitted on every pulse
    #[event]
    pulse: Event<u64>,
    #[event(rename = "alarm_raised", title = "Alarm", description = "The detector is saturated")]
    alarm: Event<Alarm>,
    #[event(title = "Frame")]
    frame: thingwire::Event<Bytes>,
    #[event(description = "Nothing but a tick")]
    tick: Event<()>,
}

#[allow(dead_code)]
async fn drive(client: DetectorClient) -> Result<(), ClientError> {
    let _pulses: thingwire::Subscription<u64> = client.pulse().subscribe().await?;
    let _alarms: thingwire::Subscription<Alarm> = client.alarm().subscribe().await?;
    let _frames = client.frame().subscribe().await?;
    let _ticks = client.tick().subscribe().await?;
    Ok(())
}

fn main() {
    let d =
        Detector { id: "d".into(), pulse: Event::new(), alarm: Event::new(), frame: Event::new(), tick: Event::new() };
    let _ = d.pulse.emit(&1);
    let _ = d.alarm.emit(&Alarm { level: 3 });
    let _ = d.frame.emit_bytes(&[1, 2, 3]);
    let _ = d.tick.emit(&());
    assert!(Detector::thing_descriptor().events.iter().any(|e| e.name == "alarm_raised"));
}
