//! Drives a running lab with the typed clients that `#[thing]` generates, printing each step: what the
//! `lab-client` and `quickstart` binaries run.
//!
//! Each step leaves the Thing as it found it (settings restored), so the lab can be driven again and again.

use std::time::Duration;

use futures::{Stream, StreamExt};
use thingwire::client::EventMessage;
use thingwire::{Client, ClientError, ThingHandle};

use crate::{SPECTROMETER, STAGE, SpectrometerClient, StageClient, THERMOSTAT, ThermostatClient};

/// What a drive step fails with.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// How long to wait for an event before giving up.
const EVENT_WAIT: Duration = Duration::from_secs(5);

/// How long to wait for a one-off event after triggering it, before triggering it again.
const TRIGGER_WAIT: Duration = Duration::from_secs(2);

/// Connects to the lab at `address` (`tcp://host:port` or `ipc://path`) and drives its three Things.
pub async fn drive_lab(address: &str) -> Result<(), Error> {
    // One connection, three Things: the generated clients can share it.
    let client = Client::connect(address).await?;
    println!("connected to server `{}` at {address}", client.server_id());
    for thing in client.list_things().await? {
        println!("  serves `{}` ({}), TD id {}", thing.id, thing.title, thing.td_id);
    }
    let spectrometer = SpectrometerClient::from_handle(ThingHandle::new(client.clone(), SPECTROMETER));
    let stage = StageClient::from_handle(ThingHandle::new(client.clone(), STAGE));
    let thermostat = ThermostatClient::from_handle(ThingHandle::new(client, THERMOSTAT));
    drive_spectrometer(&spectrometer).await?;
    drive_stage(&stage).await?;
    drive_thermostat(&thermostat).await?;
    Ok(())
}

/// Properties, a refused write, one acquisition, the continuous acquisition and a calibration.
pub async fn drive_spectrometer(spec: &SpectrometerClient) -> Result<(), Error> {
    println!("\n== spectrometer");
    println!(
        "serial number {}, integration time {} ms, trigger {:?}",
        spec.serial_number().await?,
        spec.integration_time_ms().await?,
        spec.trigger_mode().await?
    );
    expect_value_error("integration_time_ms = 0", spec.set_integration_time_ms(0).await)?;

    spec.set_integration_time_ms(20).await?;
    let spectrum = spec.acquire().await?;
    let wavelengths = spec.wavelengths().await?;
    let (peak, counts) = spectrum
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, v)| (wavelengths[i], *v))
        .ok_or("acquire() returned no intensities")?;
    println!("acquire(): {} intensities at 20 ms, strongest line {counts:.0} counts at {peak:.1} nm", spectrum.len());

    let mut spectra = spec.spectrum_ready().subscribe().await?;
    spec.start_continuous().await?;
    println!("start_continuous(): spectra stream as `spectrum_ready` events");
    for _ in 0..3 {
        let event = next_event(&mut spectra, "spectrum_ready").await?;
        let max = event.intensities.iter().copied().fold(0.0, f64::max);
        println!("  spectrum #{} ({} ms), max {max:.0} counts", event.sequence, event.integration_time_ms);
    }
    match spec.acquire().await {
        Err(e) => println!("acquire() while it runs is refused: {}", remote_message(&e)),
        Ok(_) => return Err("acquire() during the continuous acquisition should be refused".into()),
    }
    println!("stop_continuous(): it was running: {}", spec.stop_continuous().await?);

    let reference: Vec<f64> = spectrum.iter().map(|v| v * 1.5).collect();
    let factor = spec.calibrate(reference).await?;
    println!("calibrate(reference = 1.5 × a spectrum): correction factor {factor:.3}");
    spec.set_correction_factor(1.0).await?;
    spec.set_integration_time_ms(100).await?;
    Ok(())
}

/// A refused move, a move with progress and change events, a stop, and homing with its limit event.
pub async fn drive_stage(stage: &StageClient) -> Result<(), Error> {
    println!("\n== stage");
    let limits = stage.limits().await?;
    println!(
        "position {:.2} mm, speed {} mm/s, limits {}–{} mm",
        stage.position().await?,
        stage.speed().await?,
        limits.min,
        limits.max
    );
    expect_value_error("move_to(150)", stage.move_to(150.0).await)?;
    expect_value_error("speed = 100", stage.set_speed(100.0).await)?;

    stage.set_speed(25.0).await?;
    let mut changes = stage.position_changes().await?;
    // `move_to` waits for the move to end: run it in a task, with a deadline longer than the move.
    let mover = stage.with_timeout(Duration::from_secs(30));
    let moving = tokio::spawn(async move { mover.move_to(80.0).await });
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        println!("  moving: position {:.2} mm", stage.position().await?);
    }
    let stopped_at = stage.stop().await?;
    let outcome = moving.await??;
    let mut seen = 0;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(10), changes.next()).await {
        seen += 1;
    }
    println!(
        "stop() at {stopped_at:.2} mm: move_to(80) returned {outcome:?}; {seen} `position` change events while it moved"
    );

    let mut limit_events = stage.limit_reached().subscribe().await?;
    let homing = stage.with_timeout(Duration::from_secs(30));
    let limit = trigger_until(&mut limit_events, "limit_reached", async || {
        if homing.position().await? == homing.limits().await?.min {
            homing.move_to(limits.min + 5.0).await?; // homing again from the limit would be too quick to see
        }
        let homed = homing.home().await?;
        println!("home(): {homed:?}");
        Ok(())
    })
    .await?;
    println!("event limit_reached {limit:?}");
    stage.set_speed(10.0).await?;
    Ok(())
}

/// Readings, a setpoint change and the wait for it, a refused setpoint, and an over-temperature alarm.
pub async fn drive_thermostat(thermostat: &ThermostatClient) -> Result<(), Error> {
    println!("\n== thermostat");
    let pid = thermostat.pid().await?;
    println!(
        "temperature {:.2} °C, setpoint {} °C, PID kp {} ki {} kd {}",
        thermostat.temperature().await?,
        thermostat.setpoint().await?,
        pid.kp,
        pid.ki,
        pid.kd
    );
    let mut readings = thermostat.reading().subscribe().await?;
    let reading = next_event(&mut readings, "reading").await?;
    println!("event reading: {reading:?}");

    expect_value_error("setpoint = 500", thermostat.set_setpoint(500.0).await)?;
    thermostat.set_setpoint(35.0).await?;
    let waiter = thermostat.with_timeout(Duration::from_secs(60));
    let settled = waiter.wait_until_settled(0.3, Some(45.0)).await?;
    println!("setpoint 35 °C: settled at {settled:.2} °C");

    let mut alarms = thermostat.alarm().subscribe().await?;
    let alarm = trigger_until(&mut alarms, "alarm", async || {
        // The alarm is raised once, then re-armed when the temperature is back below its threshold.
        for _ in 0..100 {
            if !thermostat.alarm_active().await? {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        thermostat.heat_pulse(40.0).await?;
        Ok(())
    })
    .await?;
    println!("heat_pulse(40): event alarm: {}", alarm.message);
    println!("alarm_active: {}", thermostat.alarm_active().await?);
    thermostat.set_setpoint(20.0).await?;
    Ok(())
}

/// Prints the refusal of an out-of-range value; fails unless it is a `ValueError`.
fn expect_value_error<T: std::fmt::Debug>(what: &str, result: Result<T, ClientError>) -> Result<(), Error> {
    match result {
        Err(ClientError::Remote(e)) if e.kind == "ValueError" => {
            println!("{what} is refused: ValueError: {}", e.message);
            Ok(())
        }
        other => Err(format!("{what} should raise ValueError, got {other:?}").into()),
    }
}

fn remote_message(err: &ClientError) -> String {
    match err.remote() {
        Some(e) => format!("{}: {}", e.kind, e.message),
        None => err.to_string(),
    }
}

/// Triggers a one-off event until it arrives. A new subscription takes a moment to reach the server's PUB
/// socket, and events published before that are not delivered to it (ZeroMQ's "slow joiner"); so instead
/// of sleeping and hoping, trigger again when nothing came.
async fn trigger_until<T>(
    events: &mut (impl Stream<Item = Result<EventMessage<T>, ClientError>> + Unpin),
    name: &str,
    mut trigger: impl AsyncFnMut() -> Result<(), Error>,
) -> Result<T, Error> {
    for _ in 0..5 {
        trigger().await?;
        match tokio::time::timeout(TRIGGER_WAIT, events.next()).await {
            Ok(Some(event)) => return Ok(event?.data),
            Ok(None) => return Err(format!("the `{name}` subscription ended").into()),
            Err(_) => {} // probably published before the subscription was in place: once more
        }
    }
    Err(format!("no `{name}` event after 5 attempts").into())
}

/// The next event of a subscription, or an error after [`EVENT_WAIT`].
async fn next_event<T>(
    events: &mut (impl Stream<Item = Result<EventMessage<T>, ClientError>> + Unpin),
    name: &str,
) -> Result<T, Error> {
    match tokio::time::timeout(EVENT_WAIT, events.next()).await {
        Ok(Some(event)) => Ok(event?.data),
        Ok(None) => Err(format!("the `{name}` subscription ended").into()),
        Err(_) => Err(format!("no `{name}` event within {EVENT_WAIT:?}").into()),
    }
}
