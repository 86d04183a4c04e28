//! The HTTP paths of a server's Things: `/<thing>/<name>`, with the name as hololinked writes it in URLs
//! (`integration_time_ms` → `integration-time-ms`; the name itself is accepted too).

use std::sync::Arc;

use crate::core::{Core, HashMap};
use crate::protocol::names;
use crate::thing::{ActionDescriptor, EventDescriptor, PropertyDescriptor};

/// What a path names on a Thing.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    Property(&'static PropertyDescriptor),
    Action(&'static ActionDescriptor),
    /// A built-in action every Thing answers (`ping`, `get_thing_model`).
    BuiltIn(&'static str),
    Event(&'static EventDescriptor),
}

/// One Thing's paths.
#[derive(Debug)]
pub(crate) struct ThingRoutes {
    pub(crate) id: Arc<str>,
    targets: HashMap<String, Target>,
    /// The path segments in declaration order (properties, actions, events), for "did you mean".
    order: Vec<String>,
}

impl ThingRoutes {
    /// The target of path segment `segment`.
    pub(crate) fn target(&self, segment: &str) -> Option<Target> {
        self.targets.get(segment).copied()
    }

    /// Every path segment, in declaration order, for "did you mean".
    pub(crate) fn segments(&self) -> impl Iterator<Item = &str> + Clone {
        self.order.iter().map(String::as_str)
    }
}

/// hololinked's `pep8_to_dashed_name`: runs of `_` become `-`, leading and trailing `_` go, spaces become `-`.
pub(crate) fn dashed(name: &str) -> String {
    let trimmed = name.trim_matches('_');
    let mut out = String::with_capacity(trimmed.len());
    for c in trimmed.chars() {
        if c == '_' || c == ' ' {
            if !out.ends_with('-') || c == ' ' {
                out.push('-');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Every Thing's paths, by thing id.
#[derive(Debug, Default)]
pub(crate) struct Routes {
    things: HashMap<String, ThingRoutes>,
}

impl Routes {
    pub(crate) fn new(core: &Core) -> Self {
        let mut things = HashMap::default();
        for runner in core.runners() {
            let descriptor = runner.descriptor();
            let mut targets: HashMap<String, Target> = HashMap::default();
            let mut order = Vec::new();
            let mut add = |name: &str, target: Target| {
                let path = dashed(name);
                if !targets.contains_key(&path) {
                    order.push(path.clone());
                }
                targets.entry(path).or_insert(target);
                targets.entry(name.to_owned()).or_insert(target);
            };
            for p in descriptor.properties {
                add(p.name, Target::Property(p));
            }
            for a in descriptor.actions {
                add(a.name, Target::Action(a));
            }
            for e in descriptor.events {
                add(e.name, Target::Event(e));
            }
            for built_in in names::LISTED_BUILTIN_ACTIONS {
                add(built_in, Target::BuiltIn(built_in));
            }
            let id = Arc::clone(runner.thing_id());
            things.insert(id.to_string(), ThingRoutes { id, targets, order });
        }
        Self { things }
    }

    pub(crate) fn thing(&self, id: &str) -> Option<&ThingRoutes> {
        self.things.get(id)
    }

    /// The thing ids, sorted.
    pub(crate) fn ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.things.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::dashed;

    #[test]
    fn names_are_dashed_as_hololinked_dashes_them() {
        assert_eq!(dashed("integration_time_ms"), "integration-time-ms");
        assert_eq!(dashed("_private__x_"), "private-x");
        assert_eq!(dashed("plain"), "plain");
        assert_eq!(dashed("two words"), "two-words");
    }
}
