//! MQTT brokers for the MQTT binding's tests, started by the tests themselves on free loopback ports: the
//! embedded `rumqttd` (always), and Mosquitto when its binary is installed (`apt-get install -y mosquitto`;
//! `.ci/run` installs it). A [`Proxy`] in front of a broker lets a test cut the server's connection (the
//! broker then publishes the last will) without stopping the broker.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Which broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// rumqttd, in this process.
    Embedded,
    /// Mosquitto, a child process.
    Mosquitto,
}

/// The Mosquitto binary, if installed: `THINGWIRE_MOSQUITTO` (a path; `none` runs without it), else
/// `/usr/sbin/mosquitto`, else `mosquitto` on `PATH`.
pub fn mosquitto_binary() -> Option<PathBuf> {
    if let Some(chosen) = std::env::var_os("THINGWIRE_MOSQUITTO") {
        return (chosen != "none" && !chosen.is_empty()).then(|| PathBuf::from(chosen));
    }
    let sbin = PathBuf::from("/usr/sbin/mosquitto");
    if sbin.exists() {
        return Some(sbin);
    }
    std::env::var_os("PATH")?.to_str()?.split(':').map(|dir| PathBuf::from(dir).join("mosquitto")).find(|p| p.exists())
}

/// The brokers to run a test against: always the embedded one; Mosquitto when installed, else a note saying
/// the Mosquitto half was skipped and how to install it.
pub fn kinds(test: &str) -> Vec<Kind> {
    if mosquitto_binary().is_some() {
        vec![Kind::Embedded, Kind::Mosquitto]
    } else {
        skipped(&format!(
            "{test}: ran against the embedded rumqttd broker only; the Mosquitto run was SKIPPED because no \
             `mosquitto` binary was found (install it: `apt-get install -y mosquitto`)"
        ));
        vec![Kind::Embedded]
    }
}

/// Says that (part of) a test was skipped, on the real stderr: libtest hides what passing tests print.
pub fn skipped(what: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "note: {what}");
}

/// A free loopback port (bound, then released for the broker to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// A running broker.
pub struct Broker {
    pub kind: Kind,
    /// The MQTT 5 port (Mosquitto: its one port).
    pub port: u16,
    /// The MQTT 3.1.1 port (rumqttd listens for each version on its own port; Mosquitto on the same).
    pub port_v311: u16,
    mosquitto: Option<Mosquitto>,
}

struct Mosquitto {
    child: Child,
    conf: PathBuf,
}

impl Broker {
    /// Starts a broker of `kind` accepting anyone; with `users`, only them (user, password).
    pub async fn start(kind: Kind, users: &[(&str, &str)]) -> Self {
        let broker = match kind {
            Kind::Embedded => Self::embedded(users),
            Kind::Mosquitto => Self::mosquitto(users),
        };
        broker.wait_listening().await;
        broker
    }

    fn embedded(users: &[(&str, &str)]) -> Self {
        use std::collections::HashMap;
        let (port, port_v311) = (free_port(), free_port());
        let auth: Option<HashMap<String, String>> =
            (!users.is_empty()).then(|| users.iter().map(|(u, p)| ((*u).to_owned(), (*p).to_owned())).collect());
        let connections = rumqttd::ConnectionSettings {
            connection_timeout_ms: 60_000,
            max_payload_size: 1 << 20,
            max_inflight_count: 500,
            auth,
            external_auth: None,
            dynamic_filters: true,
        };
        let server = |name: &str, port: u16| rumqttd::ServerSettings {
            name: name.to_owned(),
            listen: SocketAddr::from(([127, 0, 0, 1], port)),
            tls: None,
            next_connection_delay_ms: 1,
            connections: connections.clone(),
        };
        let config = rumqttd::Config {
            id: 0,
            router: rumqttd::RouterConfig {
                max_connections: 1000,
                max_outgoing_packet_count: 200,
                max_segment_size: 100 << 20,
                max_segment_count: 10,
                custom_segment: None,
                initialized_filters: None,
                shared_subscriptions_strategy: Default::default(),
            },
            v4: Some([("1".to_owned(), server("v4", port_v311))].into_iter().collect()),
            v5: Some([("1".to_owned(), server("v5", port))].into_iter().collect()),
            ws: None,
            cluster: None,
            console: None,
            bridge: None,
            prometheus: None,
            metrics: None,
        };
        // rumqttd has no stop: the broker lives until the test process ends.
        std::thread::Builder::new()
            .name(format!("rumqttd-{port}"))
            .spawn(move || {
                let mut broker = rumqttd::Broker::new(config);
                if let Err(e) = broker.start() {
                    eprintln!("rumqttd on {port} stopped: {e}");
                }
            })
            .expect("start rumqttd");
        Self { kind: Kind::Embedded, port, port_v311, mosquitto: None }
    }

    fn mosquitto(users: &[(&str, &str)]) -> Self {
        let port = free_port();
        let dir = super::scratch_dir("mosquitto");
        let conf = dir.join("mosquitto.conf");
        let mut text = format!("listener {port} 127.0.0.1\npersistence false\nlog_dest stderr\nlog_type error\n");
        if users.is_empty() {
            text.push_str("allow_anonymous true\n");
        } else {
            let passwords = dir.join("passwords");
            std::fs::write(&passwords, "").expect("password file");
            for (user, password) in users {
                let status = Command::new("mosquitto_passwd")
                    .args(["-b"])
                    .arg(&passwords)
                    .args([user, password])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .expect("mosquitto_passwd (it comes with the mosquitto package)");
                assert!(status.success(), "mosquitto_passwd failed");
            }
            text.push_str(&format!("allow_anonymous false\npassword_file {}\n", passwords.display()));
        }
        std::fs::write(&conf, text).expect("mosquitto.conf");
        let mut broker = Self { kind: Kind::Mosquitto, port, port_v311: port, mosquitto: None };
        broker.mosquitto = Some(Mosquitto { child: spawn_mosquitto(&conf), conf });
        broker
    }

    /// Mosquitto with a plain listener ([`port`](Self::port)) and a TLS one (the returned port) serving
    /// `certificate` and `key` (PEM files).
    pub async fn mosquitto_with_tls(certificate: &std::path::Path, key: &std::path::Path) -> (Self, u16) {
        let (port, tls_port) = (free_port(), free_port());
        let conf = super::scratch_dir("mosquitto-tls").join("mosquitto.conf");
        let text = format!(
            "per_listener_settings false\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\n\
             listener {port} 127.0.0.1\nlistener {tls_port} 127.0.0.1\ncertfile {}\nkeyfile {}\n",
            certificate.display(),
            key.display()
        );
        std::fs::write(&conf, text).expect("mosquitto.conf");
        let broker = Self {
            kind: Kind::Mosquitto,
            port,
            port_v311: port,
            mosquitto: Some(Mosquitto { child: spawn_mosquitto(&conf), conf }),
        };
        broker.wait_listening().await;
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", tls_port)).await.is_ok() {
                return (broker, tls_port);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("Mosquitto's TLS listener did not listen on {tls_port} within 5 s");
    }

    async fn wait_listening(&self) {
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", self.port)).await.is_ok()
                && TcpStream::connect(("127.0.0.1", self.port_v311)).await.is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the {:?} broker did not listen on {} within 5 s", self.kind, self.port);
    }

    /// `mqtt://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Stops Mosquitto (a real broker outage). Panics for the embedded broker, which cannot stop: use a
    /// [`Proxy`] there.
    pub fn stop(&mut self) {
        let m = self.mosquitto.as_mut().expect("only Mosquitto can be stopped; put a Proxy before rumqttd");
        let _ = m.child.kill();
        let _ = m.child.wait();
    }

    /// Starts Mosquitto again on the same port.
    pub async fn restart(&mut self) {
        let m = self.mosquitto.as_mut().expect("only Mosquitto can be restarted");
        m.child = spawn_mosquitto(&m.conf);
        self.wait_listening().await;
    }
}

fn spawn_mosquitto(conf: &std::path::Path) -> Child {
    let binary = mosquitto_binary().expect("mosquitto is installed");
    Command::new(binary)
        .arg("-c")
        .arg(conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("start mosquitto")
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(m) = self.mosquitto.as_mut() {
            let _ = m.child.kill();
            let _ = m.child.wait();
        }
    }
}

/// A TCP proxy on a loopback port of its own to a broker: [`cut`](Self::cut) closes every connection and
/// stops listening (the broker sees its clients vanish), [`resume`](Self::resume) listens again.
pub struct Proxy {
    pub port: u16,
    upstream: u16,
    running: Mutex<Option<tokio::task::JoinHandle<()>>>,
    connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    pub async fn start(upstream: u16) -> Self {
        let proxy = Self { port: free_port(), upstream, running: Mutex::new(None), connections: Arc::default() };
        proxy.resume().await;
        proxy
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Listens (again) on its port.
    pub async fn resume(&self) {
        let mut listener = None;
        for _ in 0..100 {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        let listener = listener.expect("the proxy's port is free again");
        let (upstream, connections) = (self.upstream, Arc::clone(&self.connections));
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let connection = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", upstream)).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                connections.lock().expect("lock").push(connection);
            }
        });
        *self.running.lock().expect("lock") = Some(task);
    }

    /// Closes every connection and stops listening.
    pub fn cut(&self) {
        if let Some(task) = self.running.lock().expect("lock").take() {
            task.abort();
        }
        for connection in self.connections.lock().expect("lock").drain(..) {
            connection.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}

/// One message a [`Subscriber`] received.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: String,
    pub payload: Bytes,
    pub retain: bool,
    pub content_type: Option<String>,
    pub correlation: Option<Bytes>,
    pub user_properties: Vec<(String, String)>,
}

impl Message {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {:?}", self.topic, String::from_utf8_lossy(&self.payload)))
    }
}

/// An MQTT 5 client that subscribes to `filters` (again after each reconnection) and hands every message to a
/// channel; it can publish requests with a response topic and correlation data.
pub struct Subscriber {
    pub client: rumqttc::v5::AsyncClient,
    pub messages: mpsc::UnboundedReceiver<Message>,
    /// How many times its subscriptions were acknowledged (once per connection).
    pub subscribed: tokio::sync::watch::Receiver<u32>,
    /// Messages [`next_on`](Self::next_on) passed over, for later calls.
    skipped: Vec<Message>,
    task: tokio::task::JoinHandle<()>,
}

impl Subscriber {
    pub async fn connect(port: u16, id: &str, filters: &[&str]) -> Self {
        use rumqttc::v5::mqttbytes::QoS;
        use rumqttc::v5::{Event, Incoming, MqttOptions};
        let mut options = MqttOptions::new(id, "127.0.0.1", port);
        options.set_keep_alive(Duration::from_secs(5)).set_max_packet_size(Some(4 << 20));
        let (client, mut events) = rumqttc::v5::AsyncClient::new(options, 1024);
        let (tx, messages) = mpsc::unbounded_channel();
        let (acks_tx, subscribed) = tokio::sync::watch::channel(0u32);
        let filters: Vec<String> = filters.iter().map(|f| (*f).to_owned()).collect();
        let resubscribe = client.clone();
        let task = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                        for filter in &filters {
                            let _ = resubscribe.subscribe(filter.clone(), QoS::AtLeastOnce).await;
                        }
                    }
                    Ok(Event::Incoming(Incoming::SubAck(_))) => {
                        acks_tx.send_modify(|n| *n += 1);
                    }
                    Ok(Event::Incoming(Incoming::Publish(p))) => {
                        let properties = p.properties.clone().unwrap_or_default();
                        let _ = tx.send(Message {
                            topic: String::from_utf8_lossy(&p.topic).into_owned(),
                            payload: p.payload.clone(),
                            retain: p.retain,
                            content_type: properties.content_type,
                            correlation: properties.correlation_data,
                            user_properties: properties.user_properties,
                        });
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        let mut subscriber = Self { client, messages, subscribed, skipped: Vec::new(), task };
        subscriber.wait_subscribed(1).await;
        subscriber
    }

    /// Waits (bounded: 10 s) until its subscriptions were acknowledged on `connections` connections.
    pub async fn wait_subscribed(&mut self, connections: u32) {
        let acks = tokio::time::timeout(Duration::from_secs(10), self.subscribed.wait_for(|n| *n >= connections)).await;
        assert!(acks.is_ok(), "the test subscriber was not subscribed within 10 s");
    }

    /// The next message on `topic` (bounded: 10 s); messages on other topics are kept for later calls.
    pub async fn next_on(&mut self, topic: &str) -> Message {
        if let Some(i) = self.skipped.iter().position(|m| m.topic == topic) {
            return self.skipped.remove(i);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, self.messages.recv()).await {
                Ok(Some(m)) if m.topic == topic => return m,
                Ok(Some(m)) => self.skipped.push(m),
                Ok(None) => panic!("the subscriber stopped before a message on {topic}"),
                Err(_) => panic!("no message on {topic} within 10 s"),
            }
        }
    }

    /// Publishes a request with a response topic and correlation data.
    pub async fn request(&self, topic: &str, response_topic: &str, correlation: &[u8], payload: &serde_json::Value) {
        let properties = rumqttc::v5::mqttbytes::v5::PublishProperties {
            response_topic: Some(response_topic.to_owned()),
            correlation_data: Some(Bytes::copy_from_slice(correlation)),
            content_type: Some("application/json".into()),
            ..Default::default()
        };
        self.client
            .publish_with_properties(
                topic,
                rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
                false,
                serde_json::to_vec(payload).expect("json"),
                properties,
            )
            .await
            .expect("publish a request");
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}
