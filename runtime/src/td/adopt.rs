//! The TD a server serves for a Thing it does not implement itself (a gateway's remote Thing): the Thing's own
//! TD, with the serving server's id, context, security and forms.

use indexmap::IndexMap;

use super::{ContextEntry, Document, Form, OneOrMany};

/// The TD the gateway serves for a remote Thing: the remote's document (its schemas, units, titles and every
/// term it has, as it wrote them) with the gateway's `id`, `@context`, security and forms from `local` — the TD
/// the gateway's bindings made from the descriptor. Affordances `local` leaves out (`skip_names`) go.
pub(crate) fn adopt(remote: &Document, local: Document) -> Document {
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
    forms: impl Fn(A) -> Vec<Form>,
) -> IndexMap<String, Vec<Form>> {
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
