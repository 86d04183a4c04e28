//! The commands: connect, check names against the Thing Description, send, print. The same for every
//! transport: only fetching the description and the exchanges themselves differ between ZeroMQ and HTTP.

use std::io::Write;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Map, Value, json};
use thingwire::client::{RawRequest, reply_value};
use thingwire::protocol::{MessageType, op};
use thingwire::server::{GET_THING_DESCRIPTION, LIST_THINGS, ThingSummary};
use thingwire::{CallOptions, Client, ClientError, ConnectOptions, Protocol};

use crate::address::Address;
use crate::describe::Affordances;
use crate::failure::{Failure, Kind};
use crate::http::{EventStream, HttpLink};
use crate::{Command, Global, address, output, progress, suggest, values};

/// The reply deadline when `--timeout` is not given.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Actions every hololinked-compatible server answers without listing them in the Thing Description.
const UNLISTED_ACTIONS: [&str; 3] = [GET_THING_DESCRIPTION, "_get_properties", "_set_properties"];

/// Runs one command.
pub async fn run(command: Command, global: Global) -> Result<(), Failure> {
    match command {
        Command::List { address } => {
            let s = Session::connect(&address, &global).await?;
            s.list().await
        }
        Command::Td { address, thing, protocol, model, summary } => {
            if summary && global.json {
                return Err(Failure::usage("--summary is for people; with --json the whole description is printed"));
            }
            if let Some(p) = &protocol
                && Protocol::parse(p).is_none()
            {
                return Err(Failure::usage(format!("unknown protocol `{p}`; expected TCP, IPC or INPROC")));
            }
            let s = Session::connect(&address, &global).await?;
            if protocol.is_some() && matches!(s.link, Link::Http(_)) {
                return Err(Failure::usage(
                    "--protocol chooses a ZeroMQ transport; over HTTP the description's forms are HTTP",
                ));
            }
            s.td(&thing, protocol.as_deref(), model, summary).await
        }
        Command::Read { address, thing, property } => {
            let s = Session::connect(&address, &global).await?;
            s.read(&thing, &property).await
        }
        Command::Write { address, thing, property, value } => {
            let s = Session::connect(&address, &global).await?;
            s.write(&thing, &property, &value).await
        }
        Command::Call { address, thing, action, args, args_json, execution_timeout, invocation_timeout, oneway } => {
            let base = match args_json {
                None => None,
                Some(text) => match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(map)) => Some(map),
                    Ok(_) => return Err(Failure::usage("--args takes a JSON object, e.g. '{\"a\": 1}'")),
                    Err(e) => return Err(Failure::usage(format!("--args is not valid JSON: {e}"))),
                },
            };
            let s = Session::connect(&address, &global).await?;
            // Only for the action: the description is fetched with the plain options.
            let options = CallOptions { execution_timeout, invocation_timeout, oneway, ..s.options.clone() };
            s.call(&thing, &action, base, &args, &options).await
        }
        Command::Watch { address, thing, name, count } => {
            let s = Session::connect(&address, &global).await?;
            let idle = global.timeout.and_then(|l| l.0);
            s.watch(&thing, &name, count, idle).await
        }
        // Started by `main` on a runtime of its own.
        Command::Gateway { .. } => Err(Failure::usage("the gateway is started from main")),
    }
}

/// How this run reaches the server.
enum Link {
    /// A ZeroMQ client (`tcp://`, `ipc://`).
    Zmq(Client),
    /// An HTTP client (`http://`, `https://`).
    Http(HttpLink),
}

/// A connection and the options of this run.
struct Session {
    link: Link,
    address: String,
    options: CallOptions,
    json: bool,
    quiet: bool,
    verbose: bool,
}

impl Session {
    async fn connect(input: &str, global: &Global) -> Result<Self, Failure> {
        let timeout = global.timeout.map_or(Some(DEFAULT_TIMEOUT), |l| l.0);
        let options = CallOptions { timeout, ..CallOptions::default() };
        let address = match address::parse(input).map_err(Failure::usage)? {
            Address::Zmq(address) => address,
            Address::Http(http) => {
                let link = HttpLink::new(http, timeout, global.connect_timeout, global.quiet, global.verbose)?;
                let address = link.display();
                return Ok(Self {
                    link: Link::Http(link),
                    address,
                    options,
                    json: global.json,
                    quiet: global.quiet,
                    verbose: global.verbose,
                });
            }
        };
        let connect = ConnectOptions { handshake_timeout: global.connect_timeout, ..ConnectOptions::default() };
        let client = progress::waiting(
            &format!("connecting to {address}"),
            global.quiet,
            Client::connect_with(&address, connect),
        )
        .await
        .map_err(|e| Failure::from_client(&e, global.verbose))?;
        Ok(Self {
            link: Link::Zmq(client),
            address,
            options,
            json: global.json,
            quiet: global.quiet,
            verbose: global.verbose,
        })
    }

    /// The ZeroMQ client; `None` over HTTP.
    fn zmq(&self) -> Option<&Client> {
        match &self.link {
            Link::Zmq(client) => Some(client),
            Link::Http(_) => None,
        }
    }

    /// The ZeroMQ server's id, for messages.
    fn server_id(&self) -> String {
        self.zmq().map(Client::server_id).unwrap_or_default()
    }

    fn fail(&self, error: &ClientError) -> Failure {
        Failure::from_client(error, self.verbose)
    }

    /// Sends one operation and returns the reply as JSON (raw bytes as `{"bytes", "hex"}`).
    async fn exchange(&self, thing: &str, name: &str, operation: &str, payload: &Value) -> Result<Value, ClientError> {
        self.exchange_with(thing, name, operation, payload, &self.options).await
    }

    /// [`Session::exchange`] with other options.
    async fn exchange_with(
        &self,
        thing: &str,
        name: &str,
        operation: &str,
        payload: &Value,
        options: &CallOptions,
    ) -> Result<Value, ClientError> {
        let encoded = thingwire::protocol::encode(payload, &options.content_type)
            .map_err(|e| ClientError::Codec(format!("could not encode the request: {e}")))?;
        let request =
            RawRequest { thing_id: thing, objekt: Some(name), operation, payload: encoded, preserialized: Vec::new() };
        let what = format!("waiting for {thing}.{name} from {}", self.address);
        let Some(client) = self.zmq() else {
            return Err(ClientError::Codec(format!("{} is not a ZeroMQ server", self.address)));
        };
        let Some(reply) = progress::waiting(&what, self.quiet, client.request(request, options)).await? else {
            return Ok(Value::Null);
        };
        let null_payload = reply.payload.is_empty() || reply.payload == b"null" || reply.payload == [0xc0];
        if reply.kind == Some(MessageType::Reply) && null_payload && !reply.preserialized.is_empty() {
            return Ok(output::bytes(&reply.preserialized));
        }
        reply_value::<Value>(reply, thing, name)
    }

    async fn list_things(&self) -> Result<Vec<ThingSummary>, ClientError> {
        let payload = thingwire::protocol::encode(&Value::Null, &self.options.content_type)
            .map_err(|e| ClientError::Codec(e.to_string()))?;
        let request = RawRequest {
            thing_id: "",
            objekt: Some(LIST_THINGS),
            operation: op::INVOKE_ACTION,
            payload,
            preserialized: Vec::new(),
        };
        let what = format!("waiting for the list of Things from {}", self.address);
        let Some(client) = self.zmq() else {
            return Err(ClientError::Codec(format!("{} is not a ZeroMQ server", self.address)));
        };
        progress::waiting(&what, self.quiet, client.call(request, &self.options)).await
    }

    async fn list(&self) -> Result<(), Failure> {
        if matches!(self.link, Link::Http(_)) {
            return Err(Failure::usage(format!("listing Things is not supported over HTTP yet ({})", self.address))
                .detail("name a Thing by its id, e.g.")
                .detail(format!("thingwire td {} <thing-id>", self.address)));
        }
        let things = match self.list_things().await {
            Ok(things) => things,
            Err(e @ (ClientError::InvalidMessage { .. } | ClientError::Remote(_))) => {
                let mut failure = Failure::failed(format!(
                    "the server at {} (id `{}`) cannot list its Things",
                    self.address,
                    self.server_id()
                ))
                .detail("hololinked servers have no such operation: name a Thing by its id, e.g.")
                .detail(format!("thingwire td {} <thing-id>", self.address));
                if self.verbose {
                    failure = failure.detail(format!("the server answered: {e}"));
                }
                return Err(failure);
            }
            Err(e) => return Err(self.fail(&e)),
        };
        if self.json {
            let list: Vec<Value> = things
                .iter()
                .map(|t| {
                    let mut entry = json!({"id": t.id, "title": t.title, "td_id": t.td_id});
                    if let Some(backend) = &t.backend {
                        entry["backend"] = json!(backend);
                    }
                    entry
                })
                .collect();
            print_line(&Value::Array(list).to_string());
        } else if things.is_empty() {
            eprintln!("the server at {} serves no Things", self.address);
        } else {
            let width = things.iter().map(|t| t.id.chars().count()).max().unwrap_or(0);
            let titles = things.iter().map(|t| t.title.chars().count()).max().unwrap_or(0);
            for t in &things {
                match &t.backend {
                    // A gateway's Things: where each lives.
                    Some(backend) => print_line(&format!("{:width$}  {:titles$}  on {backend}", t.id, t.title)),
                    None => print_line(&format!("{:width$}  {}", t.id, t.title)),
                };
            }
        }
        Ok(())
    }

    /// The Thing Description for `protocol` (default: the transport connected over).
    async fn fetch_td(&self, thing: &str, protocol: Option<&str>) -> Result<Value, Failure> {
        if let Link::Http(http) = &self.link {
            return http.thing_description(thing).await;
        }
        let protocol =
            protocol.and_then(Protocol::parse).or_else(|| Protocol::of_address(&self.address)).unwrap_or(Protocol::Tcp);
        let args = json!({"protocol": protocol.as_str(), "ignore_errors": false, "skip_names": []});
        match self.exchange(thing, GET_THING_DESCRIPTION, op::INVOKE_ACTION, &args).await {
            Ok(td) => Ok(td),
            Err(e @ ClientError::InvalidMessage { .. }) => Err(self.unknown_thing(thing, &e).await),
            Err(e) => Err(self.fail(&e)),
        }
    }

    async fn fetch_model(&self, thing: &str) -> Result<Value, Failure> {
        if let Link::Http(http) = &self.link {
            return http.thing_model(thing).await;
        }
        let args = json!({"ignore_errors": false, "skip_names": []});
        match self.exchange(thing, "get_thing_model", op::INVOKE_ACTION, &args).await {
            Ok(model) => Ok(model),
            Err(e @ ClientError::InvalidMessage { .. }) => Err(self.unknown_thing(thing, &e).await),
            Err(e) => Err(self.fail(&e)),
        }
    }

    /// What the Thing offers, to check names and read values: its Thing Description, or, when the server
    /// cannot describe this transport (hololinked over IPC), its Thing Model.
    async fn affordances(&self, thing: &str) -> Result<Value, Failure> {
        if let Link::Http(http) = &self.link {
            // Over HTTP the forms are needed: the Thing Model has none.
            return http.thing_description(thing).await;
        }
        match self.fetch_td(thing, None).await {
            Ok(td) => Ok(td),
            Err(failure) if failure.exception.is_some() => self.fetch_model(thing).await.map_err(|_| failure),
            Err(failure) => Err(failure),
        }
    }

    /// The server refused thing id `thing`: say so, with a suggestion when the server can list its Things.
    async fn unknown_thing(&self, thing: &str, error: &ClientError) -> Failure {
        match self.list_things().await {
            Ok(things) => {
                let ids: Vec<&str> = things.iter().map(|t| t.id.as_str()).collect();
                if ids.contains(&thing) {
                    return self.fail(error);
                }
                let message = match suggest::closest(thing, ids.iter().copied()) {
                    Some(s) => format!("the server at {} has no thing `{thing}`; did you mean `{s}`?", self.address),
                    None => format!("the server at {} has no thing `{thing}`", self.address),
                };
                let failure = Failure::failed(message);
                if ids.is_empty() {
                    failure.detail("it serves no Things")
                } else {
                    failure.detail(format!("things there: {}", ids.join(", ")))
                }
            }
            Err(_) => Failure::failed(format!(
                "the server at {} (id `{}`) serves no thing `{thing}`",
                self.address,
                self.server_id()
            ))
            .detail("it cannot list its Things (hololinked servers cannot): check the thing id"),
        }
    }

    async fn td(&self, thing: &str, protocol: Option<&str>, model: bool, summary: bool) -> Result<(), Failure> {
        let td = if model {
            self.fetch_model(thing).await?
        } else {
            self.fetch_td(thing, protocol).await.map_err(|f| {
                if f.exception.is_some() {
                    f.detail("`--model` asks for the Thing Model instead (the description without forms)")
                } else {
                    f
                }
            })?
        };
        if summary {
            let text = Affordances::new(thing, &td).summary();
            print_line(text.trim_end());
        } else {
            print_line(&serde_json::to_string_pretty(&td).unwrap_or_else(|_| td.to_string()));
        }
        Ok(())
    }

    async fn read(&self, thing: &str, property: &str) -> Result<(), Failure> {
        let td = self.affordances(thing).await?;
        let affordance = Affordances::new(thing, &td).property(property)?;
        let value = match &self.link {
            Link::Http(http) => http.read(thing, &td, property, affordance).await?,
            Link::Zmq(_) => {
                self.exchange(thing, property, op::READ_PROPERTY, &Value::Null).await.map_err(|e| self.fail(&e))?
            }
        };
        print_line(&if self.json { output::one_line(&value) } else { output::human(&value) });
        Ok(())
    }

    async fn write(&self, thing: &str, property: &str, text: &str) -> Result<(), Failure> {
        let td = self.affordances(thing).await?;
        let schema = Affordances::new(thing, &td).writable_property(property)?;
        let value = values::parse(text, Some(schema))
            .map_err(|e| Failure::usage(format!("property `{property}` of `{thing}` {e}")))?;
        match &self.link {
            Link::Http(http) => http.write(thing, &td, property, schema, &value).await?,
            Link::Zmq(_) => {
                self.exchange(thing, property, op::WRITE_PROPERTY, &value).await.map_err(|e| self.fail(&e))?;
            }
        }
        if self.json {
            print_line(&json!({"thing": thing, "property": property, "value": value}).to_string());
        } else {
            print_line(&format!("{thing}.{property} = {}", output::one_line(&value)));
        }
        Ok(())
    }

    async fn call(
        &self,
        thing: &str,
        action: &str,
        base: Option<Map<String, Value>>,
        words: &[String],
        options: &CallOptions,
    ) -> Result<(), Failure> {
        let td = self.affordances(thing).await?;
        let http = match &self.link {
            Link::Http(http) => Some(http),
            Link::Zmq(_) => None,
        };
        // Over HTTP an action is reachable only through its form in the description.
        let affordance = if UNLISTED_ACTIONS.contains(&action) && http.is_none() {
            None
        } else {
            Some(Affordances::new(thing, &td).action(action)?)
        };
        let input = affordance.and_then(|a| a.get("input"));
        let args = values::action_args(action, input, base, words).map_err(Failure::usage)?;
        let result = match (http, affordance) {
            (Some(http), Some(affordance)) => http.invoke(thing, &td, action, affordance, &args, options).await?,
            _ => self
                .exchange_with(thing, action, op::INVOKE_ACTION, &Value::Object(args), options)
                .await
                .map_err(|e| self.fail(&e))?,
        };
        if options.oneway && http.is_some() {
            // The server answered 204 once it had the request.
            if !self.quiet {
                eprintln!("sent {thing}.{action} (oneway: no reply)");
            }
            if self.json {
                print_line("null");
            }
        } else if options.oneway {
            // The request only sits in the socket's queue so far, and this process is about to end: any
            // reply to a later request on the same connection proves the server got it. `list_things` is
            // answered at once, outside every Thing's queue (by hololinked too, with INVALID_MESSAGE).
            let _ = self.list_things().await;
            if !self.quiet {
                eprintln!("sent {thing}.{action} (oneway: no reply)");
            }
            if self.json {
                print_line("null");
            }
        } else if self.json {
            print_line(&output::one_line(&result));
        } else if result.is_null() {
            print_line(&format!("{thing}.{action}: done"));
        } else {
            print_line(&output::human(&result));
        }
        Ok(())
    }

    async fn watch(&self, thing: &str, name: &str, count: Option<u64>, idle: Option<Duration>) -> Result<(), Failure> {
        let td = self.affordances(thing).await?;
        let watched = Affordances::new(thing, &td).watched(name)?;
        let (source, mut events): (String, EventStream) = match &self.link {
            Link::Http(http) => {
                let (url, events) = http.subscribe(thing, &td, &watched.event, watched.property.as_deref()).await?;
                (url.to_string(), events)
            }
            Link::Zmq(client) => {
                let events = client.subscribe::<Value>(thing, &watched.event).await.map_err(|e| self.fail(&e))?;
                let events = events.map(|item| item.map(|message| message.data).map_err(|e| e.to_string()));
                (client.event_address().to_owned(), Box::pin(events))
            }
        };
        if !self.quiet {
            eprintln!(
                "watching {thing}/{} at {}{}",
                watched.event,
                source,
                match count {
                    Some(n) => format!(" for {n} event{}; ctrl-c stops", if n == 1 { "" } else { "s" }),
                    None => "; ctrl-c stops".into(),
                }
            );
        }
        let label = watched.property.as_deref().unwrap_or(&watched.event);
        let mut seen = 0u64;
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        while count.is_none_or(|n| seen < n) {
            let next = async {
                match idle {
                    Some(limit) => tokio::time::timeout(limit, events.next()).await.ok(),
                    None => Some(events.next().await),
                }
            };
            let item = tokio::select! {
                _ = &mut ctrl_c => return Ok(()),
                item = next => item,
            };
            let data = match item {
                None => {
                    let limit = idle.map(values::human_duration).unwrap_or_default();
                    let what = match &watched.property {
                        Some(p) => format!("no change of `{p}` of `{thing}`"),
                        None => format!("no `{}` from `{thing}`", watched.event),
                    };
                    return Err(Failure::new(Kind::NoAnswer, format!("{what} within {limit}")).detail(if seen == 0 {
                        "nothing arrived; --timeout sets how long to wait for each event".to_owned()
                    } else {
                        format!("{seen} arrived before that; --timeout sets how long to wait for each event")
                    }));
                }
                Some(None) => return Err(Failure::failed(format!("the event stream of {thing} ended"))),
                Some(Some(Err(e))) => {
                    eprintln!("warning: an event of {thing}/{} could not be read: {e}", watched.event);
                    continue;
                }
                Some(Some(Ok(data))) => data,
            };
            seen += 1;
            let now = chrono::Utc::now();
            let line = if self.json {
                let mut line = json!({"time": output::utc_time(now), "thing": thing, "event": watched.event});
                if let Some(p) = &watched.property {
                    line["property"] = json!(p);
                }
                line["data"] = data;
                line.to_string()
            } else {
                format!("{}  {label}  {}", output::local_time(now), output::one_line(&data))
            };
            if !print_line(&line) {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// Prints one line on stdout; `false` when stdout is gone (e.g. `| head`), which ends the command quietly.
fn print_line(line: &str) -> bool {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()
}
