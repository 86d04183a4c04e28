//! Thing Descriptions against the official W3C TD 1.1 JSON Schema (format checks on): emitted files, TDs
//! fetched over the wire, Thing Models, a snapshot, and schemas of rich Rust types.

use std::collections::HashMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thingwire::prelude::*;
use thingwire::td::{
    Affordance, Document, Form, FormSource, HTV_METHOD_NAME, Operation, SecurityDefinition, SecurityScheme,
    ThingDescription, ThingInfo, tcp_addresses,
};
use thingwire::transport::{BoundAddresses, Protocol};

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas")
}

fn load(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(crate) fn validator(file: &str) -> jsonschema::Validator {
    jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&load(schema_dir().join(file)))
        .expect("the W3C schema compiles")
}

/// Fails the test with every schema violation listed.
#[track_caller]
pub(crate) fn assert_valid(validator: &jsonschema::Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = validator.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{what} is not a valid TD/TM:\n{}", errors.join("\n"));
}

#[test]
fn the_validator_rejects_the_invalid_samples() {
    let td = validator("td-json-schema-validation.json");
    let tm = validator("tm-json-schema-validation.json");
    let mut rejected = 0;
    for entry in std::fs::read_dir(schema_dir().join("samples")).expect("samples") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let doc = load(path);
        let v = if name.contains("-tm") { &tm } else { &td };
        if name.starts_with("valid-") {
            assert_valid(v, &doc, &name);
        } else {
            assert!(!v.is_valid(&doc), "{name} must be rejected");
            rejected += 1;
        }
    }
    assert!(rejected >= 8, "only {rejected} invalid samples checked");
}

#[test]
fn emitted_example_tds_validate_and_match_the_code() {
    let td = validator("td-json-schema-validation.json");
    let tm = validator("tm-json-schema-validation.json");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/td");
    let files = thingwire_examples::thing_description_files();
    assert!(!files.is_empty());
    for (name, text) in files {
        let committed = std::fs::read_to_string(dir.join(&name)).unwrap_or_default();
        assert!(
            committed == text,
            "examples/td/{name} drifted from the code: run `cargo run -p thingwire-examples --bin emit-td` and commit the result"
        );
        let doc: Value = serde_json::from_str(&text).expect("json");
        assert_valid(if name.ends_with(".tm.json") { &tm } else { &td }, &doc, &name);
    }
}

async fn fetched_tds_validate(protocol: thingwire::Protocol) {
    let td = validator("td-json-schema-validation.json");
    let tm = validator("tm-json-schema-validation.json");
    let builder = Server::builder(format!("td-{}", protocol.as_str().to_lowercase()))
        .thing(crate::common::Sensor::new("sensor"))
        .thing(crate::macros::MacroSensor::new("macro"))
        .thing(Rich::new());
    let builder = match protocol {
        thingwire::Protocol::Ipc => builder.ipc_in(crate::common::scratch_dir("td")),
        _ => builder.tcp("127.0.0.1:0"),
    };
    let server = builder.start().await.expect("starts");
    let client = Client::connect(server.address(protocol).expect("bound")).await.expect("connect");
    for thing in ["sensor", "macro", "rich"] {
        let doc = client.thing_description(thing).await.expect("td");
        assert_valid(&td, &doc, &format!("the {} TD of `{thing}`", protocol.as_str()));
        let model: Value = client.invoke(thing, "get_thing_model", &()).await.expect("tm");
        assert_valid(&tm, &model, &format!("the Thing Model of `{thing}`"));
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tds_fetched_over_tcp_validate() {
    fetched_tds_validate(thingwire::Protocol::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tds_fetched_over_ipc_validate() {
    fetched_tds_validate(thingwire::Protocol::Ipc).await;
}

#[test]
fn macro_thing_td_snapshot() {
    use thingwire::DescribeThing;
    let addresses = tcp_addresses("lab-pc", 5555);
    let td = ThingDescription::new(crate::macros::MacroSensor::thing_descriptor(), "lab", "sensor")
        .served_on(&addresses)
        .to_json();
    assert_valid(&validator("td-json-schema-validation.json"), &td, "the macro sensor TD");
    let text = serde_json::to_string_pretty(&td).expect("json") + "\n";
    expect_test::expect_file!["snapshots/macro-sensor.td.json"].assert_eq(&text);
}

fn addresses(protocol: Protocol, request: &str, event: &str) -> BoundAddresses {
    let (request, event) = (request.to_owned(), event.to_owned());
    BoundAddresses {
        protocol,
        requests: request.clone(),
        events: event.clone(),
        request_href: request,
        event_href: event,
    }
}

/// A Thing with no description, one property and no events.
static BARE: thingwire::ThingDescriptor = thingwire::ThingDescriptor {
    title: "Bare",
    description: None,
    properties: &[thingwire::PropertyDescriptor {
        name: "count",
        title: Some("Count"),
        description: None,
        read_only: false,
        observable: false,
        computed: false,
        persist: thingwire::Persist::Off,
        unit: Some("1"),
        schema: |g| g.subschema_for::<u32>(),
    }],
    actions: &[],
    events: &[],
};

/// The TD in every shape the builder has: secured TCP with IPC forms beside it (per-form `nosec`), CURVE
/// (the `tw` context), INPROC with skipped names, an allow-list, a hand-written descriptor, no events.
#[test]
fn td_shapes_match_their_snapshots() {
    use thingwire::DescribeThing;
    let tcp = tcp_addresses("lab-pc", 5555);
    let ipc = addresses(Protocol::Ipc, "ipc:///tmp/lab.ipc", "ipc:///tmp/lab.event-publisher.ipc");
    let inproc = addresses(Protocol::Inproc, "inproc://lab", "inproc://lab/event-publisher");
    let basic = SecurityScheme::Basic { allow_list: false };
    let curve =
        SecurityScheme::Curve { server_key: "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7".into(), allow_list: true };
    let allow_list = SecurityScheme::NoSec { allow_list: true };
    let skipped = ["gain".to_owned(), "ping".to_owned(), "tick".to_owned()];
    let macro_sensor = crate::macros::MacroSensor::thing_descriptor();
    let cases = [
        (
            "macro-sensor-basic-mixed.td.json",
            ThingDescription::new(macro_sensor, "lab", "sensor")
                .served_on(&tcp)
                .served_on(&ipc)
                .secured_by(&basic)
                .to_json(),
        ),
        (
            "macro-sensor-curve.td.json",
            ThingDescription::new(macro_sensor, "lab", "sensor").served_on(&tcp).secured_by(&curve).to_json(),
        ),
        (
            "sensor-inproc-skipped.td.json",
            ThingDescription::new(&crate::common::sensor::DESCRIPTOR, "lab", "sensor")
                .served_on(&inproc)
                .secured_by(&basic)
                .skip(&skipped)
                .to_json(),
        ),
        (
            "rich-allow-list.td.json",
            ThingDescription::new(Rich::thing_descriptor(), "lab", "rich")
                .served_on(&tcp)
                .secured_by(&allow_list)
                .to_json(),
        ),
        ("bare.td.json", ThingDescription::new(&BARE, "lab server", "bare/1").served_on(&ipc).to_json()),
        ("bare.tm.json", ThingDescription::new(&BARE, "lab", "bare").to_thing_model()),
    ];
    let td = validator("td-json-schema-validation.json");
    let tm = validator("tm-json-schema-validation.json");
    for (name, doc) in cases {
        assert_valid(if name.ends_with(".tm.json") { &tm } else { &td }, &doc, name);
        let text = serde_json::to_string_pretty(&doc).expect("json") + "\n";
        expect_test::expect_file![format!("snapshots/{name}")].assert_eq(&text);
    }
}

/// A calibration point.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Point {
    /// Wavelength in nm
    pub wavelength: f64,
    /// Relative intensity
    pub intensity: Option<f64>,
}

/// How the detector is cooled.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cooling {
    /// No cooling.
    Off,
    /// Peltier cooling to a target temperature.
    Peltier { target_celsius: f64 },
    /// Liquid nitrogen.
    Nitrogen,
}

/// Nanometres.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
pub struct Nanometres(pub f64);

/// A calibration with everything a lab puts in one.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Calibration {
    pub points: Vec<Point>,
    pub coefficients: Vec<f64>,
    pub per_channel_gain: HashMap<String, f64>,
    pub taken_at: chrono::DateTime<chrono::Utc>,
    pub cooling: Cooling,
    pub centre: Nanometres,
    pub operator: Option<String>,
}

/// A Thing whose properties use rich types.
#[thing(id = "rich")]
pub struct Rich {
    #[property]
    calibration: Option<Calibration>,
    #[property(read_only)]
    spectrum: Vec<f64>,
    #[property]
    cooling: Cooling,
    #[property]
    labels: HashMap<String, Point>,
    #[property]
    centre: Nanometres,
    #[event]
    calibrated: Event<Calibration>,
}

impl Rich {
    fn new() -> Self {
        Self {
            calibration: None,
            spectrum: vec![0.0; 4],
            cooling: Cooling::Off,
            labels: HashMap::new(),
            centre: Nanometres(550.0),
            calibrated: Event::new(),
        }
    }
}

#[thing]
impl Rich {
    /// Applies a calibration and returns the previous one.
    #[action]
    fn calibrate(&mut self, calibration: Calibration) -> Option<Calibration> {
        self.calibration.replace(calibration)
    }
}

#[test]
fn rich_types_have_readable_self_contained_schemas() {
    use thingwire::DescribeThing;
    let td = ThingDescription::new(Rich::thing_descriptor(), "lab", "rich")
        .served_on(&tcp_addresses("lab-pc", 5555))
        .to_json();
    assert_valid(&validator("td-json-schema-validation.json"), &td, "the rich TD");
    let text = serde_json::to_string(&td).expect("json");
    assert!(!text.contains("$ref") && !text.contains("$defs"), "schemas are self-contained: {text}");
    let model = ThingDescription::new(Rich::thing_descriptor(), "lab", "rich").to_thing_model();
    let text = serde_json::to_string_pretty(&model).expect("json") + "\n";
    expect_test::expect_file!["snapshots/rich.tm.json"].assert_eq(&text);
}

/// What other servers wrote: hololinked 0.4.2 over ZeroMQ (TCP, IPC, INPROC, its Thing Model), HTTP and MQTT,
/// and the W3C samples, read into the typed TD and written again, give back the same JSON value (members of an
/// object may come back in another order: the typed terms are written in the TD's usual order).
#[test]
fn foreign_tds_round_trip_through_the_typed_document() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = ["tds/hololinked-0.4.2", "schemas/samples"]
        .iter()
        .flat_map(|d| std::fs::read_dir(dir.join(d)).unwrap_or_else(|e| panic!("{d}: {e}")))
        .map(|entry| entry.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("invalid-")))
        .collect();
    files.sort();
    assert_eq!(files.len(), 10, "{files:?}");
    for path in files {
        let original = load(path.clone());
        let typed: Document = serde_json::from_value(original.clone())
            .unwrap_or_else(|e| panic!("{} does not read as a TD: {e}", path.display()));
        let back = serde_json::to_value(&typed).expect("json");
        assert_eq!(back, original, "{} changed in the round trip", path.display());
        // The typed terms were read as such: what is left over is hololinked's `context` and prefixed terms.
        let definitions = typed.security_definitions.values().flat_map(|d| d.extra.keys());
        let unnamed = typed.extra.keys().chain(definitions).chain(all_forms(&typed).flat_map(|f| f.extra.keys()));
        for key in unnamed {
            assert!(key == "context" || key.contains(':'), "{}: `{key}` was not read as a TD term", path.display());
        }
        assert!(all_forms(&typed).all(|f| !f.ops().is_empty()), "{}: a form lost its op", path.display());
    }
}

fn all_forms(td: &Document) -> impl Iterator<Item = &thingwire::td::Form> {
    let properties = td.properties.iter().flat_map(|m| m.values()).flat_map(|p| &p.forms);
    let actions = td.actions.iter().flat_map(|m| m.values()).flat_map(|a| &a.forms);
    let events = td.events.iter().flat_map(|m| m.values()).flat_map(|e| &e.forms);
    td.forms.iter().chain(properties).chain(actions).chain(events)
}

/// An HTTP binding's forms as hololinked's HTTP server writes them (`http/td-*.json` in `tests/tds/`): one method
/// per form, Server-Sent Events for observing and subscribing, Thing-level forms for all and multiple properties;
/// and, unlike hololinked, a bearer token its forms name.
#[derive(Debug)]
struct HttpForms {
    base: &'static str,
}

impl HttpForms {
    fn form(&self, thing: &ThingInfo<'_>, path: &str, ops: &[Operation], method: &str) -> Form {
        let href = format!("{}/{}/{}", self.base, thing.thing_id, path.replace('_', "-"));
        let form = match ops {
            [op] => Form::new(href, op.clone()),
            _ => Form::with_ops(href, ops.iter().cloned()),
        };
        form.with_term(HTV_METHOD_NAME, method).with_content_type("application/json").with_security(["bearer_sc"])
    }
}

impl FormSource for HttpForms {
    fn forms(&self, thing: &ThingInfo<'_>, affordance: Affordance<'_>) -> Vec<Form> {
        use Operation::*;
        match affordance {
            Affordance::Thing => vec![
                self.form(thing, "properties", &[ReadAllProperties, ReadMultipleProperties], "GET"),
                self.form(thing, "properties", &[WriteAllProperties], "PUT"),
                self.form(thing, "properties", &[WriteMultipleProperties], "PATCH"),
            ],
            Affordance::Property(p) => {
                let mut forms = vec![self.form(thing, p.name, &[ReadProperty], "GET")];
                if !p.read_only {
                    forms.push(self.form(thing, p.name, &[WriteProperty], "PUT"));
                }
                if p.observable {
                    let path = format!("{}/change-event", p.name);
                    forms.push(
                        self.form(thing, &path, &[ObserveProperty, UnobserveProperty], "GET").with_subprotocol("sse"),
                    );
                }
                forms
            }
            Affordance::Action(a) => vec![self.form(thing, a.name, &[InvokeAction], "POST")],
            Affordance::Event(e) => {
                vec![self.form(thing, e.name, &[SubscribeEvent, UnsubscribeEvent], "GET").with_subprotocol("sse")]
            }
            _ => Vec::new(),
        }
    }

    fn security_definitions(&self, _: &ThingInfo<'_>) -> Vec<(String, SecurityDefinition)> {
        let mut bearer = SecurityDefinition::new("bearer");
        bearer.location = Some("header".into());
        bearer.name = Some("Authorization".into());
        vec![("bearer_sc".into(), bearer)]
    }
}

/// Another binding's forms go into the TD through a `FormSource`: after the ZeroMQ ones (hololinked's client
/// takes the first form), with the security definition they name, valid TD 1.1, and read back by the typed TD
/// as it was built.
#[test]
fn a_binding_adds_http_forms_to_a_valid_td() {
    use thingwire::DescribeThing;
    let tcp = tcp_addresses("lab-pc", 5555);
    let http = HttpForms { base: "http://lab-pc:8080" };
    let basic = SecurityScheme::Basic { allow_list: false };
    let builder = ThingDescription::new(crate::macros::MacroSensor::thing_descriptor(), "lab", "sensor")
        .served_on(&tcp)
        .secured_by(&basic)
        .with_forms(&http);
    let td = builder.to_json();
    assert_valid(&validator("td-json-schema-validation.json"), &td, "a TD with HTTP forms");

    let definitions: Vec<&str> =
        td["securityDefinitions"].as_object().expect("defined").keys().map(String::as_str).collect();
    assert_eq!(definitions, ["basic_sc", "bearer_sc"]);
    assert_eq!(td["forms"][0]["op"], json!(["readallproperties", "readmultipleproperties"]));
    assert_eq!(td["forms"][2]["htv:methodName"], "PATCH");
    let gain: Vec<(&str, &Value)> = td["properties"]["gain"]["forms"]
        .as_array()
        .expect("forms")
        .iter()
        .map(|f| (f["href"].as_str().unwrap_or_default(), &f["op"]))
        .collect();
    assert_eq!(gain.len(), 6 + 3, "ZeroMQ: read, write and observe in JSON and msgpack; HTTP: GET, PUT, SSE");
    assert!(gain[..6].iter().all(|(href, _)| href.starts_with("tcp://")), "ZeroMQ first: {gain:?}");
    assert_eq!(
        gain[8],
        ("http://lab-pc:8080/sensor/gain/change-event", &json!(["observeproperty", "unobserveproperty"]))
    );
    let tick = &td["events"]["tick"]["forms"];
    assert_eq!(tick.as_array().map(Vec::len), Some(4 + 1));
    assert_eq!(tick[4]["subprotocol"], "sse");
    assert_eq!(tick[4]["security"], json!(["bearer_sc"]));
    assert_eq!(td["actions"]["ping"]["forms"][2]["htv:methodName"], "POST", "built-in actions get the binding's forms");

    let typed = builder.build();
    assert_eq!(typed.to_value(), td);
    let read: Document = serde_json::from_value(td).expect("reads back");
    assert_eq!(read, typed);
}
