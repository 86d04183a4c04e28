use thingwire::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
enum Mode {
    Idle,
}

#[thing]
struct Pump {
    id: String,
}

#[thing(states(Idle = [start]))]
impl Pump {
    #[action]
    fn start(&mut self) {}
}

fn main() {}
