//! State machines: the [`StateMachine<S>`] handle a Thing keeps its state in, and what the server reads of it
//! to refuse operations a state does not allow.
//!
//! A Thing declares its states as a Rust enum, holds a `StateMachine<S>` in a `#[state_machine]` field
//! (served as the read-only observable property `state`, as hololinked serves it), and says on its impl
//! block which actions and writable properties each state allows:
//!
//! ```ignore
//! #[thing(states(Idle = [move_to, home, limits], Fault = [home]))]
//! impl Stage { /* … */ }
//! ```
//!
//! An operation not allowed in the current state is refused before the Thing's code runs, with a
//! `StateMachineError` (hololinked 0.4.2's exception type) naming the state and the states that allow it.
//! Operations not named in the mapping are allowed in every state. The state changes through the handle,
//! from any task or thread ([`StateMachine::set`]); every change is published as a change of `state`, and
//! runs the `on_exit` hooks of the state left and the `on_enter` hooks of the state entered.

use std::fmt;
use std::sync::{Arc, Mutex};

use schemars::JsonSchema;
use serde::Serialize;

use crate::error::ThingError;
use crate::event::Event;

/// The property a state machine is served as (hololinked's name).
pub const STATE_PROPERTY: &str = "state";

/// What a state type needs: a small enum, serialized as its name (a unit variant serializes as a string).
pub trait StateValue: Copy + Eq + fmt::Debug + Serialize + JsonSchema + Send + Sync + 'static {}

impl<S: Copy + Eq + fmt::Debug + Serialize + JsonSchema + Send + Sync + 'static> StateValue for S {}

/// A hook: called with the state left and the state entered.
type Hook<S> = Arc<dyn Fn(S, S) + Send + Sync>;

struct Inner<S> {
    state: Mutex<S>,
    /// Transitions are applied one at a time, hooks and change event included, so that subscribers see them
    /// in the order they happened.
    transition: Mutex<()>,
    hooks: Mutex<Hooks<S>>,
    changes: Event<S>,
}

struct Hooks<S> {
    enter: Vec<(S, Hook<S>)>,
    exit: Vec<(S, Hook<S>)>,
}

/// A Thing's state, shared by the Thing, its background tasks and the server. Cloning gives another handle
/// to the same state.
pub struct StateMachine<S> {
    inner: Arc<Inner<S>>,
}

impl<S> Clone for StateMachine<S> {
    fn clone(&self) -> Self {
        Self { inner: Arc::clone(&self.inner) }
    }
}

impl<S: StateValue> fmt::Debug for StateMachine<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StateMachine").field(&self.get()).finish()
    }
}

impl<S: StateValue> StateMachine<S> {
    /// A machine in state `initial`.
    pub fn new(initial: S) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(initial),
                transition: Mutex::new(()),
                hooks: Mutex::new(Hooks { enter: Vec::new(), exit: Vec::new() }),
                changes: Event::new(),
            }),
        }
    }

    /// Runs `hook(from, to)` each time the machine enters `state`, after the state has changed and before the
    /// change is published.
    pub fn on_enter(self, state: S, hook: impl Fn(S, S) + Send + Sync + 'static) -> Self {
        lock(&self.inner.hooks).enter.push((state, Arc::new(hook)));
        self
    }

    /// Runs `hook(from, to)` each time the machine leaves `state`, before the state changes.
    pub fn on_exit(self, state: S, hook: impl Fn(S, S) + Send + Sync + 'static) -> Self {
        lock(&self.inner.hooks).exit.push((state, Arc::new(hook)));
        self
    }

    /// The current state.
    pub fn get(&self) -> S {
        *lock(&self.inner.state)
    }

    /// Whether the machine is in `state`.
    pub fn is(&self, state: S) -> bool {
        self.get() == state
    }

    /// Changes the state to `next` (from any task or thread) and returns the state it left: runs the `on_exit`
    /// hooks of the state left, changes it, runs the `on_enter` hooks of `next`, and publishes the change of
    /// `state`. Setting the state it is in changes nothing and runs no hook.
    pub fn set(&self, next: S) -> S {
        let _one_at_a_time = lock(&self.inner.transition);
        let previous = self.get();
        if previous == next {
            return previous;
        }
        let (exit, enter) = {
            let hooks = lock(&self.inner.hooks);
            let pick = |list: &[(S, Hook<S>)], s: S| -> Vec<Hook<S>> {
                list.iter().filter(|(state, _)| *state == s).map(|(_, h)| Arc::clone(h)).collect()
            };
            (pick(&hooks.exit, previous), pick(&hooks.enter, next))
        };
        exit.iter().for_each(|hook| hook(previous, next));
        *lock(&self.inner.state) = next;
        enter.iter().for_each(|hook| hook(previous, next));
        // Before the server connects the handle there is nobody to tell.
        let _ = self.inner.changes.emit(&next);
        previous
    }

    /// The current state's name, as the TD and the wire spell it.
    pub fn name(&self) -> String {
        state_name(&self.get())
    }

    /// The handle its changes are published through (the server connects it as the changes of `state`).
    #[doc(hidden)]
    pub fn changes(&self) -> &Event<S> {
        &self.inner.changes
    }

    /// What the server reads of it.
    #[doc(hidden)]
    pub fn reader(&self) -> Arc<dyn CurrentState> {
        Arc::new(self.clone())
    }
}

impl<S: StateValue> Serialize for StateMachine<S> {
    fn serialize<Se: serde::Serializer>(&self, serializer: Se) -> Result<Se::Ok, Se::Error> {
        self.get().serialize(serializer)
    }
}

/// A snapshot: a new machine in the state read (what a client reading `state` gets).
impl<'de, S: StateValue + serde::Deserialize<'de>> serde::Deserialize<'de> for StateMachine<S> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        S::deserialize(deserializer).map(Self::new)
    }
}

impl<S: StateValue> JsonSchema for StateMachine<S> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        S::schema_name()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        S::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        S::json_schema(generator)
    }

    fn inline_schema() -> bool {
        S::inline_schema()
    }
}

/// The name of a state value: what it serializes to as JSON (a unit variant's name, after serde's
/// renames), or its JSON text for anything else.
pub fn state_name<S: Serialize>(state: &S) -> String {
    match serde_json::to_value(state) {
        Ok(serde_json::Value::String(name)) => name,
        Ok(other) => other.to_string(),
        Err(e) => format!("<unnamed state: {e}>"),
    }
}

/// The current state of a Thing, as the server reads it to gate operations.
#[doc(hidden)]
pub trait CurrentState: Send + Sync {
    /// The current state's name.
    fn current(&self) -> String;
}

impl<S: StateValue> CurrentState for StateMachine<S> {
    fn current(&self) -> String {
        self.name()
    }
}

/// Which states allow which operations, and how to read the state: what a Thing with a state machine gives
/// the server ([`Thing::state_gate`](crate::Thing::state_gate)).
#[derive(Clone)]
pub struct StateGate {
    /// The current state.
    pub current: Arc<dyn CurrentState>,
    /// For each gated action or writable property (by its name on the wire), the states it is allowed in.
    pub allowed: Vec<(&'static str, Vec<String>)>,
}

impl fmt::Debug for StateGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateGate").field("current", &self.current.current()).field("allowed", &self.allowed).finish()
    }
}

impl StateGate {
    /// `Err` with hololinked's `StateMachineError` when `what` (`"action"`, `"property"`) `name` is not allowed
    /// in the current state.
    pub fn check(&self, thing_id: &str, what: &str, name: &str) -> Result<(), ThingError> {
        let Some((_, states)) = self.allowed.iter().find(|(member, _)| *member == name) else { return Ok(()) };
        let current = self.current.current();
        if states.contains(&current) {
            return Ok(());
        }
        let allowed = states.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ");
        let verb = if what == "action" { "invoked" } else { "written" };
        Err(ThingError::new(
            "StateMachineError",
            format!(
                "Thing `{thing_id}` is in state `{current}`, but {what} `{name}` can be {verb} only in {allowed}: \
                 change the state first"
            ),
        ))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
    enum Motion {
        Idle,
        Moving,
        #[serde(rename = "FAULT")]
        Fault,
    }

    #[test]
    fn transitions_run_their_hooks_in_order_and_only_on_change() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (enter, exit) = (Arc::clone(&log), Arc::clone(&log));
        let machine = StateMachine::new(Motion::Idle)
            .on_exit(Motion::Idle, move |from, to| lock(&exit).push(format!("exit {from:?}->{to:?}")))
            .on_enter(Motion::Moving, move |from, to| lock(&enter).push(format!("enter {from:?}->{to:?}")));
        assert_eq!(machine.set(Motion::Moving), Motion::Idle);
        assert_eq!(machine.set(Motion::Moving), Motion::Moving, "no change");
        assert!(machine.is(Motion::Moving));
        assert_eq!(*lock(&log), ["exit Idle->Moving", "enter Idle->Moving"]);
        machine.set(Motion::Fault);
        assert_eq!(machine.name(), "FAULT", "serde's rename is the wire name");
    }

    #[test]
    fn the_gate_names_the_state_and_the_states_that_allow_it() {
        let machine = StateMachine::new(Motion::Moving);
        let gate = StateGate {
            current: machine.reader(),
            allowed: vec![("move_to", vec!["Idle".into()]), ("home", vec!["Idle".into(), "FAULT".into()])],
        };
        let err = gate.check("stage", "action", "move_to").expect_err("refused while moving");
        assert_eq!(err.kind, "StateMachineError");
        assert!(err.message.contains("state `Moving`") && err.message.contains("only in `Idle`"), "{}", err.message);
        assert!(gate.check("stage", "action", "stop").is_ok(), "not in the mapping: allowed everywhere");
        machine.set(Motion::Fault);
        assert!(gate.check("stage", "action", "home").is_ok());
        assert_eq!(serde_json::to_string(&machine).expect("json"), "\"FAULT\"");
    }
}
