use serde::{Deserialize, Serialize};
use thingwire::prelude::*;

#[derive(Serialize, Deserialize)]
pub struct Recipe {
    pub steps: Vec<String>,
}

#[thing]
pub struct Oven {
    id: String,
}

#[thing]
impl Oven {
    #[action]
    fn bake(&mut self, recipe: Option<Recipe>) -> usize {
        recipe.map_or(0, |r| r.steps.len())
    }
}

fn main() {}
