//! `#[cfg]` on properties, events, actions and a getter: members whose cfg is off vanish from everything
//! generated for them (dispatch, descriptor, client); members whose cfg is on stay.

use thingwire::prelude::*;

#[thing]
pub struct Board {
    id: String,
    #[cfg(any())]
    #[property]
    never: NotSerializable,
    #[cfg(all())]
    #[property]
    always: u8,
    #[cfg(any())]
    #[event]
    never_event: Event<NotSerializable>,
    #[cfg(all())]
    #[event]
    always_event: Event<u8>,
}

/// Compiling at all proves the cfg'd-out members never reached a `Serialize` bound.
pub struct NotSerializable;

#[thing]
impl Board {
    #[cfg(any())]
    #[action]
    fn never_action(&self, _x: NotSerializable) {}

    #[cfg(all())]
    #[action]
    fn always_action(&self) -> u8 {
        self.always
    }

    #[cfg(all())]
    #[property]
    fn always_getter(&self) -> u8 {
        self.always
    }
}

#[allow(dead_code)]
async fn drive(b: &BoardClient) -> Result<(), ClientError> {
    let _: u8 = b.always().await?;
    let _ = b.always_event().subscribe().await?;
    let _: u8 = b.always_action().await?;
    let _: u8 = b.always_getter().await?;
    Ok(())
}

fn main() {
    let _ = Board { id: "b".into(), always: 1, always_event: Event::new() };
    let d = Board::thing_descriptor();
    assert!(d.property("always").is_some() && d.property("never").is_none());
    assert!(d.action("always_action").is_some() && d.action("never_action").is_none());
}
