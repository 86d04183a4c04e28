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
}

#[thing(states(Idel = [start], Busy = [stop]))]
impl Pump {
    #[action]
    fn start(&mut self) {}

    #[action]
    fn stop(&mut self) {}
}

fn main() {}
