//! A simulated thermostat: a block heated or cooled by a Peltier element, losing heat to a 20 °C room, a
//! temperature sensor with a little noise, and a PID loop that drives the element towards the setpoint.
//!
//! The control loop is a background task started with the Thing; it shares the plant with the Thing
//! through an `Arc<Mutex<…>>`, publishes a `reading` event twice a second, and an `alarm` event when the
//! block overheats. Dropping the Thing (at server shutdown) aborts it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thingwire::prelude::*;
use tokio::time::Instant;

use crate::sim::{BackgroundTask, Rng, lock};

/// Room temperature, °C.
pub const AMBIENT_C: f64 = 20.0;
/// Heating (or cooling) rate at full power, °C/s (near ambient).
const HEATING_RATE: f64 = 15.0;
/// Heat loss to the room, per second (a time constant of 20 s).
const LOSS: f64 = 0.05;
/// Standard deviation of the sensor noise, °C.
const SENSOR_NOISE: f64 = 0.01;
/// Over-temperature: the alarm trips above setpoint + this margin…
pub const ALARM_MARGIN_C: f64 = 20.0;
/// …or above this absolute temperature, °C.
pub const ALARM_ABSOLUTE_C: f64 = 250.0;
/// The alarm re-arms once the temperature is this far below its threshold.
const ALARM_HYSTERESIS_C: f64 = 2.0;
/// Control period.
const TICK: Duration = Duration::from_millis(50);
/// A `reading` is published every this many ticks (every 0.5 s).
const READING_EVERY: u32 = 10;

/// PID gains. The power is `kp·e + ki·∫e dt − kd·dT/dt`, clamped to −1…1 (`e` = setpoint − temperature in
/// °C, time in s).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PidGains {
    /// Proportional gain, 1/°C.
    pub kp: f64,
    /// Integral gain, 1/(°C·s).
    pub ki: f64,
    /// Derivative gain, s/°C.
    pub kd: f64,
}

impl Default for PidGains {
    fn default() -> Self {
        Self { kp: 0.3, ki: 0.1, kd: 0.02 }
    }
}

/// One temperature reading, published as the `reading` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Reading {
    /// Measured temperature, °C.
    pub celsius: f64,
    /// The setpoint in force, °C.
    pub setpoint: f64,
    /// Power of the Peltier element: from −1 (full cooling) to 1 (full heating).
    pub power: f64,
}

/// Data of the `alarm` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Alarm {
    /// Measured temperature, °C.
    pub celsius: f64,
    /// The setpoint in force, °C.
    pub setpoint: f64,
    /// What is wrong.
    pub message: String,
}

/// The block, its sensor and its controller: everything the control loop advances.
#[derive(Debug)]
struct Plant {
    /// The block's true temperature (the sensor adds noise).
    actual: f64,
    /// Last sensor reading.
    measured: f64,
    setpoint: f64,
    gains: PidGains,
    integral: f64,
    power: f64,
    alarm: bool,
    rng: Rng,
}

impl Plant {
    fn new(rng: Rng) -> Self {
        Self {
            actual: AMBIENT_C,
            measured: AMBIENT_C,
            setpoint: AMBIENT_C,
            gains: PidGains::default(),
            integral: 0.0,
            power: 0.0,
            alarm: false,
            rng,
        }
    }

    /// Advances the simulation by `dt` seconds: control, heat flow, measurement. Returns an alarm when the
    /// block has just overheated.
    fn step(&mut self, dt: f64) -> Option<Alarm> {
        if dt <= 0.0 {
            return None;
        }
        let previous = self.measured;
        self.measured = self.actual + SENSOR_NOISE * self.rng.normal();
        let PidGains { kp, ki, kd } = self.gains;
        let error = self.setpoint - self.measured;
        // Derivative on the measurement, so a setpoint change gives no kick.
        let derivative = -(self.measured - previous) / dt;
        let unclamped = kp * error + ki * self.integral + kd * derivative;
        // Anti-windup: stop integrating while the output is saturated in the direction the error pushes.
        let saturated = (unclamped >= 1.0 && error > 0.0) || (unclamped <= -1.0 && error < 0.0);
        if !saturated {
            self.integral += error * dt;
        }
        self.power = (kp * error + ki * self.integral + kd * derivative).clamp(-1.0, 1.0);
        self.actual += (HEATING_RATE * self.power - LOSS * (self.actual - AMBIENT_C)) * dt;
        self.check_alarm()
    }

    fn alarm_threshold(&self) -> f64 {
        (self.setpoint + ALARM_MARGIN_C).min(ALARM_ABSOLUTE_C)
    }

    fn check_alarm(&mut self) -> Option<Alarm> {
        let threshold = self.alarm_threshold();
        if !self.alarm && self.measured > threshold {
            self.alarm = true;
            return Some(Alarm {
                celsius: self.measured,
                setpoint: self.setpoint,
                message: format!("over-temperature: {:.1} °C is above {threshold:.1} °C", self.measured),
            });
        }
        if self.alarm && self.measured < threshold - ALARM_HYSTERESIS_C {
            self.alarm = false;
        }
        None
    }

    fn reading(&self) -> Reading {
        Reading { celsius: self.measured, setpoint: self.setpoint, power: self.power }
    }
}

/// A simulated thermostat with a PID-controlled Peltier element.
#[thing(title = "Thermostat")]
pub struct Thermostat {
    id: String,
    /// A temperature reading (twice a second)
    #[event]
    reading: Event<Reading>,
    /// Over-temperature: above setpoint + 20 °C, or above 250 °C
    #[event]
    alarm: Event<Alarm>,
    // The change events of the observable `temperature`, published by the control loop; connected by
    // `crate::start_lab` (see `Stage::position_change` for why it is not an `#[event]`).
    temperature_change: Event<f64>,
    plant: Arc<Mutex<Plant>>,
    control: BackgroundTask,
}

impl Thermostat {
    /// A thermostat at room temperature with its setpoint there too, and its control loop running.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime: the control loop is a Tokio task.
    pub fn new(id: &str) -> Self {
        let thermostat = Self {
            id: id.to_owned(),
            reading: Event::new(),
            alarm: Event::new(),
            temperature_change: Event::new(),
            plant: Arc::new(Mutex::new(Plant::new(Rng::new()))),
            control: BackgroundTask::default(),
        };
        // The loop owns clones of the shared plant and of the event handles, never the Thing itself. The
        // handles are not connected to a server yet; they are once the Thing is served (clones included),
        // and until then `emit` fails harmlessly.
        let plant = Arc::clone(&thermostat.plant);
        let (reading, alarm, change) =
            (thermostat.reading.clone(), thermostat.alarm.clone(), thermostat.temperature_change.clone());
        thermostat.control.start(async move {
            let mut ticker = tokio::time::interval(TICK);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last = Instant::now();
            let mut tick = 0u32;
            loop {
                ticker.tick().await;
                let dt = last.elapsed().as_secs_f64();
                last = Instant::now();
                let (alarmed, now) = {
                    let mut plant = lock(&plant);
                    (plant.step(dt), plant.reading())
                };
                if let Some(a) = alarmed {
                    let _ = alarm.emit(&a);
                }
                tick = tick.wrapping_add(1);
                if tick.is_multiple_of(READING_EVERY) {
                    let _ = change.emit(&now.celsius);
                    let _ = reading.emit(&now);
                }
            }
        });
        thermostat
    }

    /// The handle the control loop publishes `temperature` changes through; connect it to
    /// the `temperature` changes with [`EventBinder::bind_property_change`](thingwire::EventBinder::bind_property_change) once the thermostat
    /// is served (as [`crate::start_lab`] does).
    pub fn temperature_notifier(&self) -> Event<f64> {
        self.temperature_change.clone()
    }

    fn plant(&self) -> std::sync::MutexGuard<'_, Plant> {
        lock(&self.plant)
    }
}

#[thing]
impl Thermostat {
    /// Target temperature
    #[property(minimum = 0, maximum = 300, default = 20.0, unit = "°C", persist)]
    fn setpoint(&self) -> f64 {
        self.plant().setpoint
    }

    #[property(setter)]
    fn set_setpoint(&mut self, value: f64) {
        self.plant().setpoint = value;
    }

    /// Measured temperature
    #[property(observable, unit = "°C")]
    fn temperature(&self) -> f64 {
        self.plant().measured
    }

    /// Power of the Peltier element: from −1 (full cooling) to 1 (full heating)
    #[property]
    fn power(&self) -> f64 {
        self.plant().power
    }

    /// Whether the over-temperature alarm is active
    #[property]
    fn alarm_active(&self) -> bool {
        self.plant().alarm
    }

    /// Gains of the PID controller (each at least 0)
    #[property(persist)]
    fn pid(&self) -> PidGains {
        self.plant().gains
    }

    #[property(setter)]
    fn set_pid(&mut self, value: PidGains) -> Result<(), ThingError> {
        let PidGains { kp, ki, kd } = value;
        if [kp, ki, kd].iter().any(|g| !g.is_finite() || *g < 0.0) {
            return Err(ThingError::value_error(format!(
                "PID gains must be finite and not negative, got kp {kp}, ki {ki}, kd {kd}"
            )));
        }
        let mut plant = self.plant();
        plant.gains = value;
        plant.integral = 0.0;
        Ok(())
    }

    /// Wait until the temperature has stayed within `tolerance` °C of the setpoint for one second, and
    /// return it. Gives up with TimeoutError after `timeout_s` seconds (if given).
    // Concurrent: it only watches, so it runs beside the queue and reads go on meanwhile. (A setpoint write
    // during the wait, though, waits for it to end: see the guide, "Execution modes".)
    #[action(concurrent, execution_timeout = "120s", safe)]
    async fn wait_until_settled(
        &self,
        #[param(minimum = 0)] tolerance: f64,
        #[param(exclusive_minimum = 0)] timeout_s: Option<f64>,
    ) -> Result<f64, ThingError> {
        let started = Instant::now();
        let mut settled_since: Option<Instant> = None;
        loop {
            let (celsius, setpoint) = {
                let plant = self.plant();
                (plant.measured, plant.setpoint)
            };
            if (celsius - setpoint).abs() <= tolerance {
                let since = *settled_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= Duration::from_secs(1) {
                    return Ok(celsius);
                }
            } else {
                settled_since = None;
            }
            if timeout_s.is_some_and(|limit| started.elapsed().as_secs_f64() > limit) {
                return Err(ThingError::new(
                    "TimeoutError",
                    format!(
                        "not settled after {:.1} s: {celsius:.2} °C, setpoint {setpoint:.2} °C",
                        started.elapsed().as_secs_f64()
                    ),
                ));
            }
            tokio::time::sleep(TICK).await;
        }
    }

    /// Simulate a disturbance: an external heat pulse raises the temperature at once by `kelvin`.
    #[action]
    fn heat_pulse(&self, #[param(minimum = 0, maximum = 100)] kelvin: f64) {
        self.plant().actual += kelvin;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(plant: &mut Plant, seconds: f64) -> Vec<Alarm> {
        let steps = (seconds / TICK.as_secs_f64()) as usize;
        (0..steps).filter_map(|_| plant.step(TICK.as_secs_f64())).collect()
    }

    #[test]
    fn the_pid_loop_settles_on_the_setpoint() {
        for setpoint in [35.0, 100.0, 250.0] {
            let mut plant = Plant::new(Rng::seeded(1));
            plant.setpoint = setpoint;
            run(&mut plant, 60.0);
            assert!((plant.actual - setpoint).abs() < 0.2, "{setpoint}: {}", plant.actual);
        }
    }

    #[test]
    fn overheating_raises_one_alarm_until_it_cools_down() {
        let mut plant = Plant::new(Rng::seeded(2));
        plant.setpoint = 30.0;
        run(&mut plant, 20.0);
        plant.actual += 40.0;
        let alarms = run(&mut plant, 1.0);
        assert_eq!(alarms.len(), 1, "{alarms:?}");
        assert!(alarms[0].message.contains("over-temperature"));
        assert!(plant.alarm);
        run(&mut plant, 120.0);
        assert!(!plant.alarm, "re-armed once cool");
    }

    #[test]
    fn the_absolute_limit_applies_at_high_setpoints() {
        let mut plant = Plant::new(Rng::seeded(3));
        plant.setpoint = 240.0;
        plant.actual = 255.0;
        assert_eq!(run(&mut plant, 0.1).len(), 1);
    }
}
