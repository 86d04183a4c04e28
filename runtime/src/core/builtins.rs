//! Resolving a request against a Thing: the operation and the name, checked against the Thing's
//! descriptor, and the built-in operations the core answers itself.

use crate::core::request::{Body, Operation, RequestHead};
use crate::core::responder::{ErrorClass, Responder};
use crate::core::scheduler::{Op, Runner, check_property, read_only, unknown_name};
use crate::core::{BindingContext, Core};
use crate::error::ThingError;
use crate::protocol::ContentType;
use crate::protocol::names::{self, ThingSummary};
use crate::td;
use crate::thing::{Args, Output};

/// What a request comes to.
pub(super) enum Resolved {
    /// An operation for the Thing's scheduler.
    Op(Op),
    /// A built-in answered at once.
    Answer(Output),
}

type Refusal = (ErrorClass, ThingError);

/// Resolves the operation and the name of a request to a Thing.
pub(super) fn resolve<S>(
    core: &Core,
    runner: &dyn Runner,
    operation: Option<Operation>,
    head: &RequestHead<'_>,
    body: &dyn Body,
    binding: &mut dyn BindingContext<S>,
) -> Result<Resolved, Refusal> {
    let descriptor = runner.descriptor();
    let thing_id = runner.thing_id();
    let name = head.name;
    let unknown = |e: ThingError| (ErrorClass::UnknownName, e);
    let property = |name: &str| check_property(descriptor, thing_id, name).map_err(unknown);
    let Some(operation) = operation else {
        return Err((
            ErrorClass::Unsupported,
            ThingError::not_implemented(format!(
                "unknown operation `{}`; expected readproperty, writeproperty, invokeaction, readmultipleproperties, \
                 readallproperties or writemultipleproperties",
                head.operation
            )),
        ));
    };
    let op = match operation {
        Operation::ReadProperty => Op::ReadProperty(property(name)?),
        Operation::WriteProperty => {
            let index = property(name)?;
            if descriptor.properties[index].read_only {
                return Err((ErrorClass::ReadOnly, read_only(name, thing_id)));
            }
            Op::WriteProperty(index)
        }
        Operation::ReadMultipleProperties => {
            let names: Vec<String> = name.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
            for n in &names {
                property(n)?;
            }
            Op::ReadMultiple(names)
        }
        Operation::ReadAllProperties => Op::ReadAll,
        Operation::WriteMultipleProperties | Operation::WriteAllProperties => Op::WriteMultiple,
        Operation::InvokeAction => match name {
            names::GET_THING_DESCRIPTION => {
                let args = Args {
                    payload: body.payload(),
                    content_type: &head.content_type,
                    preserialized: body.preserialized(),
                };
                return thing_description(core, runner, args, binding)
                    .map(Resolved::Answer)
                    .map_err(|e| (ErrorClass::Failed, e));
            }
            names::GET_PROPERTIES => Op::GetProperties,
            names::SET_PROPERTIES => Op::WriteMultiple,
            _ => match descriptor.action(name) {
                Some(action) => Op::Invoke(action),
                None if name == names::PING => Op::Ping,
                None if name == names::GET_THING_MODEL => {
                    let model = td::ThingDescription::new(descriptor, core.server_id(), thing_id).to_thing_model();
                    return Output::value(&model, &head.content_type)
                        .map(Resolved::Answer)
                        .map_err(|e| (ErrorClass::Failed, e));
                }
                None => {
                    let known = descriptor.actions.iter().map(|a| a.name).chain(names::LISTED_BUILTIN_ACTIONS);
                    return Err(unknown(ThingError::key_error(unknown_name("action", name, thing_id, known))));
                }
            },
        },
        Operation::DeleteProperty => {
            return Err((
                ErrorClass::Unsupported,
                ThingError::not_implemented("deleteproperty is not supported: properties cannot be deleted"),
            ));
        }
        Operation::ObserveProperty
        | Operation::UnobserveProperty
        | Operation::SubscribeEvent
        | Operation::UnsubscribeEvent => {
            return Err((
                ErrorClass::Unsupported,
                ThingError::not_implemented(format!(
                    "`{}` is not a request: subscribe to the event publisher at the form's href instead",
                    head.operation
                )),
            ));
        }
    };
    Ok(Resolved::Op(op))
}

/// hololinked's `get_thing_description(protocol=None, ignore_errors=False, skip_names=[])`: the TD with the
/// forms of the binding the request came through. `ignore_errors` is accepted and has nothing to do: a
/// thingwire TD is built from schemas generated at compile time, and no affordance can fail to describe.
fn thing_description<S>(
    core: &Core,
    runner: &dyn Runner,
    args: Args<'_>,
    binding: &mut dyn BindingContext<S>,
) -> Result<Output, ThingError> {
    let (protocol, _ignore_errors, skip_names) =
        crate::args::ArgSlots::<(Option<String>, Option<bool>, Option<Vec<String>>)>::new(&[
            "protocol",
            "ignore_errors",
            "skip_names",
        ])
        .decode(args)?;
    let skip = skip_names.flatten().unwrap_or_default();
    let td = td::ThingDescription::new(runner.descriptor(), core.server_id(), runner.thing_id());
    let mut td = binding.describe(td, protocol.flatten().as_deref())?;
    for other in core.describers_besides(binding.name()) {
        td = other.describe(td);
    }
    let td = td.skip(&skip);
    let td = match runner.remote() {
        Some(remote) => remote.describe(td.build()).to_value(),
        None => td.to_json(),
    };
    Output::value(&td, args.content_type)
}

/// The thingwire extension `list_things`: every Thing of the server, sorted by id.
pub(super) fn list_things(core: &Core, reply: &Responder, content_type: &ContentType) {
    let mut things: Vec<ThingSummary> = core
        .runners()
        .map(|r| ThingSummary {
            id: r.thing_id().to_string(),
            title: r.descriptor().title.to_owned(),
            td_id: td::thing_urn(core.server_id(), r.thing_id()),
            backend: r.remote().map(|remote| remote.backend.clone()),
        })
        .collect();
    things.sort_by(|a, b| a.id.cmp(&b.id));
    match Output::value(&things, content_type) {
        Ok(out) => reply.value(&content_type.for_reply(), out, None),
        Err(e) => reply.error(ErrorClass::Failed, &e, None),
    }
}
