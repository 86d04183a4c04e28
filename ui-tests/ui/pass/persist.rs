use thingwire::prelude::*;

#[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema, Clone)]
pub struct Limits {
    min: f64,
    max: f64,
}

#[thing]
pub struct Oven {
    id: String,
    #[property(persist, minimum = 0, maximum = 500)]
    setpoint: f64,
    #[property(persist = "init", read_only)]
    serial: String,
    #[property(persist = "commit")]
    recipe: String,
    limits: Limits,
    power: f64,
}

#[thing]
impl Oven {
    #[property(persist)]
    fn limits(&self) -> Limits {
        self.limits.clone()
    }

    #[property(setter)]
    fn set_limits(&mut self, value: Limits) {
        self.limits = value;
    }

    // `persist` may be written on the setter instead.
    #[property]
    fn power(&self) -> f64 {
        self.power
    }

    #[property(setter, persist = "init")]
    fn set_power(&mut self, value: f64) {
        self.power = value;
    }
}

fn main() {
    use thingwire::{DescribeThing, Persist};
    let d = Oven::thing_descriptor();
    let persist: Vec<(&str, Persist)> = d.properties.iter().map(|p| (p.name, p.persist)).collect();
    assert_eq!(
        persist,
        [
            ("setpoint", Persist::Always),
            ("serial", Persist::Init),
            ("recipe", Persist::Commit),
            ("limits", Persist::Always),
            ("power", Persist::Init),
        ]
    );
}
