//! A simulated fibre spectrometer: 2048 pixels from 350 to 1000 nm, a mercury line and a hydrogen line on a
//! broad lamp continuum, shot noise and read noise, a 16-bit detector that saturates.
//!
//! It shows the three execution modes side by side:
//!
//! * `acquire` is a **queued** `async` action: the instrument does one acquisition at a time, and property
//!   writes wait until it is done;
//! * `start_continuous` is a queued action that starts a **background task** and returns at once; the task
//!   holds no reference to the Thing (only an `Arc` of the detector state and a clone of the `Event`), so the
//!   Thing stays free for reads and writes while spectra stream out as `spectrum_ready` events;
//! * `calibrate` is a **threaded** action: blocking driver code runs on a worker thread, outside the queue.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thingwire::EventError;
use thingwire::prelude::*;

use crate::sim::{BackgroundTask, Rng, lock};

/// Number of detector pixels.
pub const PIXELS: usize = 2048;
/// Wavelength of the first pixel, in nm.
pub const FIRST_NM: f64 = 350.0;
/// Wavelength of the last pixel, in nm.
pub const LAST_NM: f64 = 1000.0;
/// Largest count a pixel can hold (16-bit ADC).
pub const FULL_SCALE: f64 = 65_535.0;

/// How an acquisition starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TriggerMode {
    /// At once, on the instrument's own clock.
    #[default]
    Internal,
    /// On the next pulse at the trigger input (simulated: a 10 Hz pulse train).
    External,
}

/// One spectrum, as the `spectrum_ready` event carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Spectrum {
    /// Counts since the spectrometer was created (1 for the first spectrum).
    pub sequence: u64,
    /// The integration time it was taken with, in ms.
    pub integration_time_ms: u32,
    /// One intensity per pixel (counts, after the correction factor).
    pub intensities: Vec<f64>,
}

/// The detector's settings and state, shared by the Thing and its continuous-acquisition task.
#[derive(Debug)]
struct Detector {
    settings: Mutex<Settings>,
    rng: Mutex<Rng>,
    /// Time origin of the simulated external trigger.
    epoch: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    integration_time_ms: u32,
    trigger_mode: TriggerMode,
    correction_factor: f64,
    sequence: u64,
}

/// Period of the simulated external trigger.
const TRIGGER_PERIOD: Duration = Duration::from_millis(100);

impl Detector {
    fn settings(&self) -> Settings {
        *lock(&self.settings)
    }

    /// How long until the acquisition may start: nothing on the internal trigger, the wait for the next
    /// pulse on the external one.
    fn trigger_delay(&self, mode: TriggerMode) -> Duration {
        match mode {
            TriggerMode::Internal => Duration::ZERO,
            TriggerMode::External => {
                let period = TRIGGER_PERIOD.as_nanos();
                let into = self.epoch.elapsed().as_nanos() % period;
                Duration::from_nanos((period - into) as u64)
            }
        }
    }

    /// The counts the detector reads after `integration_time_ms`, before the correction factor.
    fn expose(&self, integration_time_ms: u32) -> Vec<f64> {
        let t = f64::from(integration_time_ms);
        let mut rng = lock(&self.rng);
        (0..PIXELS)
            .map(|i| {
                let signal = ideal_counts_per_ms(wavelength_nm(i)) * t;
                let dark = 300.0 + 0.2 * t;
                let shot = signal.sqrt() * rng.normal();
                let read = 8.0 * rng.normal();
                (dark + signal + shot + read).clamp(0.0, FULL_SCALE)
            })
            .collect()
    }

    /// One finished spectrum: exposed, corrected, numbered.
    fn spectrum(&self, integration_time_ms: u32) -> Spectrum {
        let raw = self.expose(integration_time_ms);
        let (factor, sequence) = {
            let mut s = lock(&self.settings);
            s.sequence += 1;
            (s.correction_factor, s.sequence)
        };
        Spectrum { sequence, integration_time_ms, intensities: raw.into_iter().map(|v| v * factor).collect() }
    }
}

/// The wavelength of pixel `i`, in nm.
pub fn wavelength_nm(i: usize) -> f64 {
    FIRST_NM + (LAST_NM - FIRST_NM) * i as f64 / (PIXELS - 1) as f64
}

/// The noiseless light reaching a pixel, in counts per ms of integration: a lamp continuum plus the mercury
/// line at 546.1 nm and the H-alpha line at 656.3 nm.
fn ideal_counts_per_ms(nm: f64) -> f64 {
    let gauss = |center: f64, sigma: f64, height: f64| height * (-0.5 * ((nm - center) / sigma).powi(2)).exp();
    gauss(600.0, 120.0, 20.0) + gauss(546.1, 1.5, 400.0) + gauss(656.3, 2.5, 250.0)
}

/// A simulated fibre spectrometer.
#[thing(title = "Spectrometer")]
pub struct Spectrometer {
    id: String,
    /// Serial number of the instrument
    #[property(read_only)]
    serial_number: String,
    /// A spectrum was acquired (by `acquire` or by the continuous acquisition)
    #[event]
    spectrum_ready: Event<Spectrum>,
    detector: Arc<Detector>,
    continuous: BackgroundTask,
}

impl Spectrometer {
    /// A spectrometer with the default settings: 100 ms integration time, internal trigger, no correction.
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            serial_number: "SIM-SPEC-0042".to_owned(),
            spectrum_ready: Event::new(),
            detector: Arc::new(Detector {
                settings: Mutex::new(Settings {
                    integration_time_ms: 100,
                    trigger_mode: TriggerMode::Internal,
                    correction_factor: 1.0,
                    sequence: 0,
                }),
                rng: Mutex::new(Rng::new()),
                epoch: Instant::now(),
            }),
            continuous: BackgroundTask::default(),
        }
    }
}

#[thing]
impl Spectrometer {
    /// Integration time of each acquisition
    #[property(minimum = 1, maximum = 10_000, default = 100, observable, unit = "ms")]
    fn integration_time_ms(&self) -> u32 {
        self.detector.settings().integration_time_ms
    }

    // A getter/setter pair rather than a field: the continuous-acquisition task reads the value while it
    // runs, so it lives in the shared detector state. Bounds are checked before the setter is called.
    #[property(setter)]
    fn set_integration_time_ms(&mut self, value: u32) {
        lock(&self.detector.settings).integration_time_ms = value;
    }

    /// How acquisitions start: `internal` (at once) or `external` (on the next trigger pulse)
    #[property(default = TriggerMode::Internal)]
    fn trigger_mode(&self) -> TriggerMode {
        self.detector.settings().trigger_mode
    }

    #[property(setter)]
    fn set_trigger_mode(&mut self, value: TriggerMode) {
        lock(&self.detector.settings).trigger_mode = value;
    }

    /// Factor applied to every measured intensity (set by `calibrate`; write 1.0 to remove the correction)
    #[property(exclusive_minimum = 0, default = 1.0)]
    fn correction_factor(&self) -> f64 {
        self.detector.settings().correction_factor
    }

    #[property(setter)]
    fn set_correction_factor(&mut self, value: f64) -> Result<(), ThingError> {
        if !value.is_finite() {
            return Err(ThingError::value_error("the correction factor must be a finite number"));
        }
        lock(&self.detector.settings).correction_factor = value;
        Ok(())
    }

    /// Temperature of the thermoelectrically cooled detector: it drifts slowly around −10 °C. Polled every
    /// 500 ms; a change is published only when it moved by more than 0.05 °C (Tango's `abs_change`).
    #[property(observable, poll = "500ms", abs_change = 0.05, unit = "°C")]
    fn detector_temperature(&self) -> f64 {
        let t = self.detector.epoch.elapsed().as_secs_f64();
        let noise = 0.005 * lock(&self.detector.rng).normal();
        -10.0 + 0.3 * (t / 20.0).sin() + noise
    }

    /// Wavelength of each pixel
    #[property(unit = "nm")]
    fn wavelengths(&self) -> Vec<f64> {
        (0..PIXELS).map(wavelength_nm).collect()
    }

    /// Whether the continuous acquisition runs
    #[property]
    fn continuous_running(&self) -> bool {
        self.continuous.is_running()
    }

    /// Acquire one spectrum: waits for the trigger, integrates for `integration_time_ms`, returns 2048
    /// intensities (one per pixel) and publishes them as `spectrum_ready`.
    // Queued (the default): one acquisition at a time, and no setting changes half-way through. It is an
    // `async fn`, so the wait is a timer, not a blocked thread; past its execution timeout it is cancelled.
    #[action(execution_timeout = "15s")]
    async fn acquire(&self) -> Result<Vec<f64>, ThingError> {
        if self.continuous.is_running() {
            return Err(ThingError::runtime(
                "the detector is busy with the continuous acquisition; call stop_continuous() first",
            ));
        }
        let settings = self.detector.settings();
        let delay = self.detector.trigger_delay(settings.trigger_mode);
        tokio::time::sleep(delay + Duration::from_millis(settings.integration_time_ms.into())).await;
        let spectrum = self.detector.spectrum(settings.integration_time_ms);
        if let Err(e) = self.spectrum_ready.emit(&spectrum) {
            tracing::debug!(error = %e, "spectrum_ready not published");
        }
        Ok(spectrum.intensities)
    }

    /// Start acquiring spectra back to back, each published as `spectrum_ready`, until `stop_continuous`.
    /// Returns at once; calling it while the acquisition runs does nothing.
    #[action(idempotent)]
    fn start_continuous(&mut self) {
        if self.continuous.is_running() {
            return;
        }
        // The task gets what it needs — shared state and an event handle — and no reference to `self`:
        // the Thing's lock stays free, and dropping the Thing (server shutdown) aborts the task.
        let detector = Arc::clone(&self.detector);
        let event = self.spectrum_ready.clone();
        self.continuous.start(async move {
            loop {
                let settings = detector.settings();
                let delay = detector.trigger_delay(settings.trigger_mode);
                tokio::time::sleep(delay + Duration::from_millis(settings.integration_time_ms.into())).await;
                let spectrum = detector.spectrum(settings.integration_time_ms);
                match event.emit(&spectrum) {
                    Ok(()) => {}
                    Err(EventError::Closed(_)) => break, // the server has shut down
                    Err(e) => tracing::warn!(error = %e, "spectrum_ready not published"),
                }
            }
        });
    }

    /// Stop the continuous acquisition; returns whether it was running.
    #[action(idempotent)]
    fn stop_continuous(&mut self) -> bool {
        self.continuous.stop()
    }

    /// Calibrate against a reference lamp: measures it once (a blocking driver call lasting the integration
    /// time) and returns the factor that scales the measured counts onto `reference` (2048 expected
    /// intensities, one per pixel). Later spectra are multiplied by it (see `correction_factor`).
    // Threaded: the driver call blocks, so it runs on a worker thread outside the queue — property reads go
    // on meanwhile. It takes `&self` and changes the shared state through its mutex.
    #[action(threaded, execution_timeout = "15s")]
    fn calibrate(&self, #[param(min_items = 2048, max_items = 2048)] reference: Vec<f64>) -> Result<f64, ThingError> {
        if reference.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return Err(ThingError::value_error("reference intensities must be finite and not negative"));
        }
        let integration_time_ms = self.detector.settings().integration_time_ms;
        std::thread::sleep(Duration::from_millis(integration_time_ms.into()));
        let measured: f64 = self.detector.expose(integration_time_ms).iter().sum();
        let expected: f64 = reference.iter().sum();
        if expected <= 0.0 || measured <= 0.0 {
            return Err(ThingError::value_error("the reference (or the measurement) is all zeros"));
        }
        let factor = expected / measured;
        lock(&self.detector.settings).correction_factor = factor;
        Ok(factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spectrum_has_its_two_lines_where_they_belong() {
        let spec = Spectrometer::new("s");
        let spectrum = spec.detector.spectrum(100);
        assert_eq!(spectrum.intensities.len(), PIXELS);
        let peak = |lo: f64, hi: f64| {
            (0..PIXELS)
                .filter(|&i| (lo..hi).contains(&wavelength_nm(i)))
                .max_by(|&a, &b| spectrum.intensities[a].total_cmp(&spectrum.intensities[b]))
                .map(wavelength_nm)
                .expect("pixels in range")
        };
        assert!((peak(500.0, 600.0) - 546.1).abs() < 1.0);
        assert!((peak(620.0, 700.0) - 656.3).abs() < 1.0);
        assert!(spectrum.intensities.iter().all(|v| (0.0..=FULL_SCALE).contains(v)));
    }

    #[test]
    fn long_integrations_saturate() {
        let spec = Spectrometer::new("s");
        let spectrum = spec.detector.spectrum(1000);
        assert_eq!(spectrum.intensities.iter().copied().fold(0.0, f64::max), FULL_SCALE);
    }

    #[test]
    fn calibration_maps_the_measurement_onto_the_reference() {
        let spec = Spectrometer::new("s");
        lock(&spec.detector.settings).integration_time_ms = 1;
        let measured = spec.detector.spectrum(1).intensities;
        let doubled: Vec<f64> = measured.iter().map(|v| v * 2.0).collect();
        let factor = spec.calibrate(doubled).expect("calibrates");
        assert!((factor - 2.0).abs() < 0.05, "factor {factor}");
        assert_eq!(spec.detector.settings().correction_factor, factor);
    }
}
