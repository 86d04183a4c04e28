//! Every return shape an action can have: a value, nothing, `()`, `Result<T, E>`, `Result<(), E>`,
//! `Result<T, ThingError>`, `Bytes`, `Result<Bytes, E>`, and `Self`-relative types.

use std::fmt;

use thingwire::prelude::*;

#[derive(Debug)]
pub struct DeviceError;

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the device is unhappy")
    }
}

#[thing]
pub struct Probe {
    id: String,
}

#[thing]
impl Probe {
    #[action]
    fn value(&self) -> f64 {
        1.0
    }

    #[action]
    fn nothing(&self) {}

    #[action]
    #[allow(clippy::unused_unit)]
    fn unit(&self) -> () {}

    #[action]
    fn fallible(&self) -> Result<Vec<u32>, DeviceError> {
        Err(DeviceError)
    }

    #[action]
    fn fallible_unit(&self) -> Result<(), DeviceError> {
        Ok(())
    }

    #[action]
    fn thing_error(&self) -> Result<String, ThingError> {
        Err(ThingError::value_error("no"))
    }

    #[action]
    fn thing_error_unit(&mut self) -> Result<(), ThingError> {
        Ok(())
    }

    #[action]
    fn std_result(&self) -> std::result::Result<u8, String> {
        Ok(1)
    }

    #[action]
    fn raw(&self) -> Bytes {
        Bytes(vec![1, 2, 3])
    }

    #[action]
    fn raw_fallible(&self) -> Result<Bytes, DeviceError> {
        Ok(Bytes::default())
    }

    #[action(concurrent)]
    async fn async_fallible(&self) -> Result<u8, DeviceError> {
        Ok(1)
    }

    #[action(threaded)]
    fn threaded_fallible(&self) -> Result<(), ThingError> {
        Ok(())
    }
}

#[allow(dead_code)]
async fn drive(p: &ProbeClient) -> Result<(), ClientError> {
    let _: f64 = p.value().await?;
    let () = p.nothing().await?;
    let () = p.unit().await?;
    let _: Vec<u32> = p.fallible().await?;
    let () = p.fallible_unit().await?;
    let _: String = p.thing_error().await?;
    let () = p.thing_error_unit().await?;
    let _: u8 = p.std_result().await?;
    let _: Bytes = p.raw().await?;
    let _: Bytes = p.raw_fallible().await?;
    let _: u8 = p.async_fallible().await?;
    p.threaded_fallible().await?;
    Ok(())
}

fn main() {
    let _ = Probe { id: "p".into() };
}
