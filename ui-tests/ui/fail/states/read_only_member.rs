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

#[thing(states(Idle = [pressure]))]
impl Pump {
    #[property]
    fn pressure(&self) -> f64 {
        1.0
    }
}

fn main() {}
