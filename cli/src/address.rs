//! Server addresses as people type them, turned into ZeroMQ endpoints or HTTP base URLs.

use std::path::Path;

use reqwest::Url;

/// What `<ADDRESS>` accepts, for help texts and errors.
pub const FORMS: &str = "tcp://host:port, host:port, a port on this machine, ipc:///path/to/socket.ipc, \
                         the id of a server with an IPC socket in ~/.hololinked/sockets, or http(s)://host:port";

/// Where the Thing Description of a Thing is, under an HTTP server's base URL (hololinked's route, which
/// thingwire's HTTP binding serves too); every other route comes from the description's forms.
pub const TD_ROUTE: &str = "resources/wot-td";

/// A server address: a ZeroMQ endpoint, or the base URL of an HTTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `tcp://…` or `ipc://…`, for [`thingwire::Client`].
    Zmq(String),
    /// An HTTP server.
    Http(HttpAddress),
}

/// The base URL of an HTTP server, and the Thing the address named (when it was a Thing Description's URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAddress {
    /// `http(s)://host:port/` or with a path prefix; always ends with `/`.
    pub base: Url,
    /// The thing id from `<base>/<thing>/resources/wot-td`, when the address was that URL.
    pub thing: Option<String>,
}

impl HttpAddress {
    /// The URL of Thing `thing`'s description.
    pub fn td_url(&self, thing: &str) -> Result<Url, String> {
        self.base.join(&format!("{thing}/{TD_ROUTE}")).map_err(|e| format!("`{thing}` does not fit in a URL: {e}"))
    }

    /// The base URL as people read it (without the trailing `/` of a bare origin).
    pub fn display(&self) -> String {
        let s = self.base.as_str();
        if self.base.path() == "/" { s.trim_end_matches('/').to_owned() } else { s.to_owned() }
    }
}

/// Turns `input` into an [`Address`]: `http://` and `https://` URLs are HTTP servers, everything else goes
/// through [`resolve`].
pub fn parse(input: &str) -> Result<Address, String> {
    let trimmed = input.trim();
    let scheme = trimmed.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("http" | "https") => http(trimmed).map(Address::Http),
        _ => resolve(input).map(Address::Zmq),
    }
}

/// An `http(s)://host[:port][/prefix]` base URL, or `<base>/<thing>/resources/wot-td`.
fn http(input: &str) -> Result<HttpAddress, String> {
    let mut url = Url::parse(input).map_err(|e| format!("`{input}` is not a URL: {e}"))?;
    let Some(host) = url.host_str() else {
        return Err(format!("`{input}` has no host, e.g. http://127.0.0.1:8080"));
    };
    if matches!(host, "0.0.0.0" | "[::]") {
        return Err(format!("`{host}` is where a server binds, not where a client connects; try 127.0.0.1"));
    }
    if url.port() == Some(0) {
        return Err("the port `0` is not a number from 1 to 65535".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{input}`: give the server's base URL, without `?…` or `#…`"));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    let mut thing = None;
    if let Some(rest) = path.strip_suffix(&format!("/{TD_ROUTE}"))
        && let Some((prefix, id)) = rest.rsplit_once('/')
        && !id.is_empty()
    {
        thing = Some(id.to_owned());
        url.set_path(&format!("{prefix}/"));
    } else {
        url.set_path(&format!("{path}/"));
    }
    Ok(HttpAddress { base: url, thing })
}

/// Turns `input` into a ZeroMQ endpoint a client can connect to.
///
/// * `tcp://host:port` and `ipc://path` are taken as they are (an IPC socket file must exist);
/// * `host:port` means `tcp://host:port`, and a bare port means `tcp://127.0.0.1:port`;
/// * a path to an existing socket file means `ipc://path`;
/// * any other word is a server id whose socket is where hololinked puts it, `~/.hololinked/sockets/<id>.ipc`.
pub fn resolve(input: &str) -> Result<String, String> {
    let input = input.trim();
    if input.is_empty() {
        return Err(format!("the address is empty; expected {FORMS}"));
    }
    if let Some((scheme, rest)) = input.split_once("://") {
        return match scheme.to_ascii_lowercase().as_str() {
            "tcp" => tcp(rest).map_err(|why| format!("`{input}` is not a TCP address: {why}")),
            "ipc" => {
                if Path::new(rest).exists() {
                    Ok(format!("ipc://{rest}"))
                } else {
                    Err(format!("no IPC socket at `{rest}`; is the server running on this machine?"))
                }
            }
            "inproc" => Err(format!(
                "`{input}` is an in-process address, reachable only from inside the server's process; \
                 use its tcp:// or ipc:// address"
            )),
            other => Err(format!("unknown transport `{other}://` in `{input}`; expected {FORMS}")),
        };
    }
    if input.chars().all(|c| c.is_ascii_digit()) {
        return tcp(&format!("127.0.0.1:{input}")).map_err(|why| format!("`{input}` is not a port: {why}"));
    }
    if input.contains('/') || input.ends_with(".ipc") {
        return if Path::new(input).exists() {
            Ok(format!("ipc://{input}"))
        } else {
            Err(format!("no IPC socket at `{input}`; is the server running on this machine?"))
        };
    }
    if input.contains(':') {
        return tcp(input).map_err(|why| format!("`{input}` is not an address: {why}; expected {FORMS}"));
    }
    let (socket, _) = thingwire::transport::ipc_paths(&thingwire::transport::default_ipc_dir(), input);
    if socket.exists() {
        return Ok(format!("ipc://{}", socket.display()));
    }
    Err(format!(
        "`{input}` is not an address, and no server with that id has an IPC socket at `{}`; expected {FORMS}",
        socket.display()
    ))
}

fn tcp(host_port: &str) -> Result<String, String> {
    let (host, port) = host_port.rsplit_once(':').ok_or("expected host:port, e.g. 127.0.0.1:5555")?;
    if host.is_empty() {
        return Err("the host is missing, e.g. 127.0.0.1:5555".into());
    }
    if matches!(host, "*" | "0.0.0.0") {
        return Err(format!("`{host}` is where a server binds, not where a client connects; try 127.0.0.1"));
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("the port `{port}` is not a number from 1 to 65535")),
        Ok(p) => Ok(format!("tcp://{host}:{p}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_usual_spellings() {
        assert_eq!(resolve("tcp://127.0.0.1:5555").as_deref(), Ok("tcp://127.0.0.1:5555"));
        assert_eq!(resolve("lab-pc:5555").as_deref(), Ok("tcp://lab-pc:5555"));
        assert_eq!(resolve("5555").as_deref(), Ok("tcp://127.0.0.1:5555"));
        assert_eq!(resolve("[::1]:5555").as_deref(), Ok("tcp://[::1]:5555"));
    }

    #[test]
    fn explains_what_is_wrong() {
        assert!(resolve("tcp://host").unwrap_err().contains("expected host:port"));
        assert!(resolve("host:99999").unwrap_err().contains("from 1 to 65535"));
        assert!(resolve("inproc://lab").unwrap_err().contains("in-process"));
        assert!(resolve("http://lab:80").unwrap_err().contains("unknown transport `http://`"));
        assert!(resolve("udp://lab:80").unwrap_err().contains("unknown transport `udp://`"));
        assert!(resolve("ipc:///nonexistent/x.ipc").unwrap_err().contains("no IPC socket"));
        assert!(resolve("tcp://0.0.0.0:5555").unwrap_err().contains("try 127.0.0.1"));
        let err = resolve("no-such-server-id-for-sure").unwrap_err();
        assert!(err.contains(".hololinked/sockets/no-such-server-id-for-sure.ipc"), "{err}");
    }

    #[test]
    fn http_addresses() {
        let http = |s: &str| match parse(s) {
            Ok(Address::Http(a)) => a,
            other => panic!("{s}: {other:?}"),
        };
        let a = http("http://127.0.0.1:8095");
        assert_eq!((a.base.as_str(), a.thing.as_deref()), ("http://127.0.0.1:8095/", None));
        assert_eq!(a.display(), "http://127.0.0.1:8095");
        assert_eq!(
            a.td_url("interop").map(String::from).as_deref(),
            Ok("http://127.0.0.1:8095/interop/resources/wot-td")
        );
        let a = http("HTTPS://lab.example/things/");
        assert_eq!(a.base.as_str(), "https://lab.example/things/");
        assert_eq!(
            a.td_url("stage").map(String::from).as_deref(),
            Ok("https://lab.example/things/stage/resources/wot-td")
        );
        let a = http("http://lab:8095/interop/resources/wot-td");
        assert_eq!((a.base.as_str(), a.thing.as_deref()), ("http://lab:8095/", Some("interop")));
        assert!(matches!(parse("tcp://127.0.0.1:5555"), Ok(Address::Zmq(_))));
        assert!(parse("http://0.0.0.0:8095").unwrap_err().contains("try 127.0.0.1"));
        assert!(parse("http://lab:99999").unwrap_err().contains("not a URL"));
        assert!(parse("http://lab:8095/?x=1").unwrap_err().contains("without `?"));
    }
}
