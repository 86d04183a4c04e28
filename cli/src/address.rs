//! Server addresses as people type them, turned into ZeroMQ endpoints.

use std::path::Path;

/// What `<ADDRESS>` accepts, for help texts and errors.
pub const FORMS: &str = "tcp://host:port, host:port, a port on this machine, ipc:///path/to/socket.ipc, \
                         or the id of a server with an IPC socket in ~/.hololinked/sockets";

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
        assert!(resolve("ipc:///nonexistent/x.ipc").unwrap_err().contains("no IPC socket"));
        assert!(resolve("tcp://0.0.0.0:5555").unwrap_err().contains("try 127.0.0.1"));
        let err = resolve("no-such-server-id-for-sure").unwrap_err();
        assert!(err.contains(".hololinked/sockets/no-such-server-id-for-sure.ipc"), "{err}");
    }
}
