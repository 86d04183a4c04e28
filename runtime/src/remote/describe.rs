//! A remote Thing's descriptor, made from its TD: what the core resolves requests against and the bindings
//! make their forms from.

use crate::td::Document;
use crate::thing::{
    ActionDescriptor, EventDescriptor, ExecutionMode, Persist, PropertyDescriptor, SchemaFn, ThingDescriptor,
};

/// The schema the descriptor's affordances carry: never used for the TD (the remote's own schemas are
/// served), only there because a descriptor needs one.
const ANY: SchemaFn = |_| schemars::json_schema!(true);

fn leak(text: &str) -> &'static str {
    Box::leak(text.to_owned().into_boxed_str())
}

fn leak_opt(text: Option<&str>) -> Option<&'static str> {
    text.map(leak)
}

/// The descriptor of a remote Thing, from its TD: names, read-only and observable flags, titles and units;
/// actions run outside any queue here (the remote schedules them). Leaked: it lives as long as the process,
/// as every descriptor does — once per remote Thing per gateway start.
pub(crate) fn descriptor(td: &Document) -> &'static ThingDescriptor {
    let properties: Vec<PropertyDescriptor> = td
        .properties
        .iter()
        .flatten()
        .map(|(name, p)| PropertyDescriptor {
            name: leak(name),
            title: leak_opt(p.title()),
            description: leak_opt(p.description()),
            read_only: p.read_only.unwrap_or(false),
            observable: p.observable.unwrap_or(false),
            computed: true,
            persist: Persist::Off,
            unit: leak_opt(p.unit.as_deref()),
            schema: ANY,
        })
        .collect();
    let actions: Vec<ActionDescriptor> = td
        .actions
        .iter()
        .flatten()
        .map(|(name, a)| ActionDescriptor {
            name: leak(name),
            title: leak_opt(a.interaction.title.as_deref()),
            description: leak_opt(a.interaction.description.as_deref()),
            mode: ExecutionMode::Concurrent,
            blocking: false,
            invocation_timeout: None,
            execution_timeout: None,
            safe: a.safe.unwrap_or(false),
            idempotent: a.idempotent.unwrap_or(false),
            input: a.input.as_ref().map(|_| ANY),
            output: a.output.as_ref().map(|_| ANY),
        })
        .collect();
    let events: Vec<EventDescriptor> = td
        .events
        .iter()
        .flatten()
        .map(|(name, e)| EventDescriptor {
            name: leak(name),
            title: leak_opt(e.interaction.title.as_deref()),
            description: leak_opt(e.interaction.description.as_deref()),
            data: e.data.as_ref().map(|_| ANY),
        })
        .collect();
    Box::leak(Box::new(ThingDescriptor {
        title: leak(&td.title),
        description: leak_opt(td.description.as_deref()),
        properties: Box::leak(properties.into_boxed_slice()),
        actions: Box::leak(actions.into_boxed_slice()),
        events: Box::leak(events.into_boxed_slice()),
    }))
}
