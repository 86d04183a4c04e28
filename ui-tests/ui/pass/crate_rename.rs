//! `#[thing(crate = "...")]` on the struct and on the impl block: the generated code reaches the runtime
//! through the given path only, here a renamed extern crate and a re-export inside a module.

extern crate thingwire as tw;

mod reexport {
    pub use ::thingwire as runtime;
}

#[tw::thing(crate = "::tw")]
pub struct Counter {
    id: ::std::string::String,
    #[property(observable)]
    count: u64,
    #[event]
    overflow: tw::Event<u64>,
}

#[tw::thing(crate = "::tw")]
impl Counter {
    #[action]
    fn increment(&mut self, by: u64) -> Result<u64, tw::ThingError> {
        self.count += by;
        Ok(self.count)
    }
}

#[tw::thing(crate = "crate::reexport::runtime")]
pub struct Timer {
    id: ::std::string::String,
}

#[tw::thing(crate = "crate::reexport::runtime")]
impl Timer {
    #[action(threaded)]
    fn wait(&self) {}
}

#[allow(dead_code)]
async fn drive() -> Result<(), tw::ClientError> {
    let counter = CounterClient::connect("inproc://lab", "counter").await?;
    let _: u64 = counter.increment(2).await?;
    let _: u64 = counter.count().await?;
    let _ = counter.overflow().subscribe().await?;
    TimerClient::connect("inproc://lab", "timer").await?.wait().await?;
    Ok(())
}

fn main() {
    let counter = Counter { id: "counter".into(), count: 0, overflow: tw::Event::new() };
    let timer = Timer { id: "timer".into() };
    let _ = tw::Server::builder("lab").thing(counter).thing(timer);
}
