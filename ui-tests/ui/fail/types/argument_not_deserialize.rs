use schemars::JsonSchema;
use serde::Serialize;
use thingwire::prelude::*;

#[derive(Serialize, JsonSchema)]
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
    fn bake(&mut self, recipe: Recipe) -> usize {
        recipe.steps.len()
    }
}

fn main() {}
