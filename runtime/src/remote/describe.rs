//! A remote Thing's description on the gateway: the descriptor the core resolves requests against, made from
//! the remote's TD, and the TD the gateway serves — the remote's own, with the gateway's forms and security.

use indexmap::IndexMap;

use crate::td::{ContextEntry, Document, OneOrMany};
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

/// The TD the gateway serves for a remote Thing: the remote's document (its schemas, units, titles and every
/// term it has, as it wrote them) with the gateway's `id`, `@context`, security and forms from `local` — the TD
/// the gateway's bindings made from the descriptor. Affordances `local` leaves out (`skip_names`) go.
pub(crate) fn merge(remote: &Document, local: Document) -> Document {
    let mut td = remote.clone();
    td.id = local.id;
    td.security_definitions = local.security_definitions;
    td.security = local.security;
    td.forms = local.forms;
    td.context = Some(OneOrMany::Many(context(remote, local.context)));
    // hololinked writes `context` rather than `@context`; the gateway's TD has the real one.
    td.extra.shift_remove("context");
    if let Some(properties) = &mut td.properties {
        let mut forms = forms_of(local.properties, |p| p.forms);
        properties.retain(|name, p| forms.shift_remove(name).map(|f| p.forms = f).is_some());
    }
    if let Some(actions) = &mut td.actions {
        let mut forms = forms_of(local.actions, |a| a.forms);
        actions.retain(|name, a| forms.shift_remove(name).map(|f| a.forms = f).is_some());
    }
    if let Some(events) = &mut td.events {
        let mut forms = forms_of(local.events, |e| e.forms);
        events.retain(|name, e| forms.shift_remove(name).map(|f| e.forms = f).is_some());
    }
    td
}

fn forms_of<A>(
    affordances: Option<IndexMap<String, A>>,
    forms: impl Fn(A) -> Vec<crate::td::Form>,
) -> IndexMap<String, Vec<crate::td::Form>> {
    affordances.into_iter().flatten().map(|(name, a)| (name, forms(a))).collect()
}

/// The gateway's context entries, then the term definitions of the remote's that it lacks (a `tw:` prefix the
/// remote's schemas use, say).
fn context(remote: &Document, local: Option<OneOrMany<ContextEntry>>) -> Vec<ContextEntry> {
    let mut entries: Vec<ContextEntry> = local.map(|c| c.as_slice().to_vec()).unwrap_or_default();
    for entry in remote.context.iter().flat_map(OneOrMany::as_slice) {
        if let ContextEntry::Terms(terms) = entry {
            let known =
                |key: &String| entries.iter().any(|e| matches!(e, ContextEntry::Terms(t) if t.contains_key(key)));
            let missing: serde_json::Map<String, serde_json::Value> =
                terms.iter().filter(|(k, _)| !known(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
            if !missing.is_empty() {
                entries.push(ContextEntry::Terms(missing));
            }
        }
    }
    entries
}
