use thingwire::prelude::*;
use thingwire::StateMachine;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
enum Mode {
    Idle,
    Busy,
}

#[thing]
struct Pump {
    id: String,
    #[state_machine]
    state: StateMachine<Mode>,
    #[property]
    rate: f64,
}

#[thing(states(Idle = [strat, rate]))]
impl Pump {
    #[action]
    fn start(&mut self) {}
}

fn main() {}
