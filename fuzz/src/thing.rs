//! `FuzzScope`: the Thing the fuzz targets dispatch into, written only with `#[thing]` so that the fuzzed
//! argument and property decoding is the macro-generated one.
//!
//! It mirrors the captured hololinked example (an oscilloscope with `gain`, `channels`, `status`,
//! `acquire` and `set_offset`, served as `scope` on `scope-server`), so the captured frames reach real
//! dispatch paths, and adds actions taking many argument types. Nothing in it panics, sleeps or blocks: a
//! panic while fuzzing must come from the runtime or the generated code. Shared with the regression tests
//! (`tests/tests/it/fuzz_regressions.rs` includes this file).

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thingwire::prelude::*;

/// The server id the captured frames address.
pub const SERVER_ID: &str = "scope-server";
/// The thing id the captured frames address.
pub const THING_ID: &str = "scope";

/// Inclusive bounds of `gain` (checked by the harness after every successful write).
pub const GAIN_BOUNDS: (f64, f64) = (0.1, 100.0);
/// Inclusive bounds of the `trim` property and of `set_offset`'s `offset`.
pub const OFFSET_BOUNDS: (f64, f64) = (-5.0, 5.0);

/// A window function: unit, struct and tuple variants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Window {
    /// No window.
    Rect,
    /// A Hann window.
    Hann {
        /// Its width.
        width: f32,
    },
    /// Custom coefficients.
    Custom(Vec<f64>),
}

/// Nested acquisition settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Settings {
    /// Number of averages.
    pub averages: u16,
    /// An optional label.
    #[serde(default)]
    pub label: Option<String>,
    /// The window.
    pub window: Window,
}

/// Trigger mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Free running.
    Auto,
    /// Waits for a trigger.
    Normal,
    /// One shot.
    Single,
}

/// Data of `data_ready`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DataReady {
    /// The channel.
    pub channel: u8,
    /// Samples taken.
    pub samples: u32,
}

/// Scalars, echoed back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Scalars {
    /// A bool.
    pub flag: bool,
    /// A byte.
    pub small: u8,
    /// A signed integer.
    pub signed: i64,
    /// An unsigned integer.
    pub unsigned: u64,
    /// A string.
    pub text: String,
    /// A char.
    pub letter: char,
}

/// An oscilloscope-like Thing for fuzzing.
#[thing(title = "Fuzz oscilloscope")]
pub struct FuzzScope {
    id: String,
    /// Amplifier gain
    #[property(minimum = 0.1, maximum = 100, observable, default = 1.0)]
    gain: f64,
    /// Enabled channels
    #[property(max_items = 4)]
    channels: Vec<u8>,
    /// Status text
    #[property(observable, max_length = 64)]
    status: String,
    /// Acquisition settings
    #[property]
    settings: Settings,
    /// Trigger mode
    #[property]
    mode: Mode,
    /// Serial number
    #[property(read_only)]
    serial: String,
    /// Pushed after every acquisition
    #[event]
    data_ready: Event<DataReady>,
    offset: f64,
    memory: Vec<u8>,
}

impl FuzzScope {
    /// A fresh instance with id `id`.
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            gain: 1.0,
            channels: vec![1, 2],
            status: "idle".to_owned(),
            settings: Settings { averages: 1, label: None, window: Window::Rect },
            mode: Mode::Auto,
            serial: "FZ-001".to_owned(),
            data_ready: Event::new(),
            offset: 0.0,
            memory: vec![1, 2, 3, 4],
        }
    }
}

#[thing]
impl FuzzScope {
    /// Acquires a waveform; returns `[channel, samples, first sample…]` so bounds can be checked.
    #[action]
    fn acquire(
        &mut self,
        #[param(minimum = 1, maximum = 4)] channel: u8,
        #[param(minimum = 1, maximum = 10000, default = 100)] samples: u32,
    ) -> Vec<f64> {
        let _ = self.data_ready.emit(&DataReady { channel, samples });
        let mut out = vec![f64::from(channel), f64::from(samples)];
        out.extend((0..samples.min(16)).map(|i| f64::from(i % 7) * self.gain));
        out
    }

    /// Sets an offset; positional or keyword, with an optional unit.
    #[action]
    fn set_offset(&mut self, #[param(minimum = -5, maximum = 5)] offset: f64, unit: Option<String>) -> String {
        self.offset = offset;
        format!("{offset} {}", unit.unwrap_or_else(|| "V".to_owned()))
    }

    /// Scalars of every kind, echoed.
    #[action(safe)]
    fn scalars(&self, flag: bool, small: u8, signed: i64, unsigned: u64, text: String, letter: char) -> Scalars {
        Scalars { flag, small, signed, unsigned, text, letter }
    }

    /// Collections: returns how many items arrived.
    #[action]
    fn collections(
        &self,
        list: Vec<f64>,
        map: HashMap<String, i32>,
        pair: (u16, String),
        #[param(max_items = 8)] nested: Option<Vec<Vec<u8>>>,
    ) -> usize {
        list.len() + map.len() + pair.1.len() + nested.map_or(0, |n| n.len())
    }

    /// Replaces the settings (a nested struct with an enum).
    #[action]
    fn configure(&mut self, settings: Settings) -> Settings {
        self.settings = settings.clone();
        settings
    }

    /// Switches the trigger mode.
    #[action]
    fn switch(&mut self, mode: Mode) -> Mode {
        self.mode = mode;
        mode
    }

    /// Raw bytes through frame 4, echoed.
    #[action]
    fn raw(&self, data: Bytes) -> Bytes {
        data
    }

    /// Raw bytes plus a bounded count.
    #[action]
    fn raw_count(&mut self, data: Bytes, #[param(maximum = 100)] repeat: u32) -> usize {
        self.memory = data.0.iter().copied().cycle().take(data.len() * repeat.min(4) as usize).take(4096).collect();
        self.memory.len()
    }

    /// Any JSON value, echoed.
    #[action]
    fn anything(&self, value: serde_json::Value) -> serde_json::Value {
        value
    }

    /// A queued async action (no real waiting).
    #[action]
    async fn settle(&mut self, #[param(minimum = 0, maximum = 1000)] ms: u16) -> u16 {
        ms
    }

    /// A concurrent action.
    #[action(concurrent)]
    async fn peek(&self, index: usize) -> Option<u8> {
        self.memory.get(index).copied()
    }

    /// A threaded action.
    #[action(threaded)]
    fn checksum(&self, #[param(max_items = 4096)] data: Vec<u8>) -> u32 {
        data.iter().fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(*b)))
    }

    /// No arguments.
    #[action]
    fn reset(&mut self) {
        self.gain = 1.0;
        self.offset = 0.0;
    }

    /// Always fails with a ValueError.
    #[action]
    fn fail(&self, message: String) -> Result<(), ThingError> {
        Err(ThingError::value_error(message))
    }

    /// The trim offset (a getter/setter property with bounds).
    #[property(minimum = -5, maximum = 5)]
    fn trim(&self) -> f64 {
        self.offset
    }

    #[property(setter)]
    fn set_trim(&mut self, value: f64) {
        self.offset = value;
    }
}

/// The names `FuzzScope` answers to, plus a few it does not (to fuzz the unknown-name paths).
pub const ACTIONS: &[&str] = &[
    "acquire",
    "set_offset",
    "scalars",
    "collections",
    "configure",
    "switch",
    "raw",
    "raw_count",
    "anything",
    "settle",
    "peek",
    "checksum",
    "reset",
    "fail",
    "nope",
];

/// Property names, plus one unknown and one read-only.
pub const PROPERTIES: &[&str] = &["gain", "channels", "status", "settings", "mode", "serial", "trim", "nope"];
