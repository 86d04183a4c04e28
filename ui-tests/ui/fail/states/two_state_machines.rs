use thingwire::prelude::*;
use thingwire::StateMachine;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
enum Mode {
    Idle,
}

#[thing]
struct Pump {
    id: String,
    #[state_machine]
    state: StateMachine<Mode>,
    #[state_machine]
    other: StateMachine<Mode>,
}

fn main() {}
