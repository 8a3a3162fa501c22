//! A loopback HTTP server answering as a machine's metadata service does (EC2's IMDS, ECS's
//! credentials endpoint): the tests' stand-in for what a machine asks for its credentials.
//! It records each request.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// An answer: status, extra headers, body.
pub type RouteAnswer = (u16, Vec<(&'static str, String)>, String);

/// A request as recorded: `METHOD PATH` and its headers (names in lower case).
type Asked = (String, Vec<(String, String)>);

/// A loopback HTTP server answering with `route(method, path, headers)`; it records each
/// request.
pub struct Metadata {
    pub origin: String,
    asked: Arc<Mutex<Vec<Asked>>>,
}

impl Metadata {
    /// Starts the server; `route(method, path, headers)` answers each request.
    pub fn start(
        route: impl Fn(&str, &str, &[(String, String)]) -> RouteAnswer + Send + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut words = line.split_whitespace();
                let (method, path) = (
                    words.next().unwrap_or_default().to_string(),
                    words.next().unwrap_or_default().to_string(),
                );
                let mut headers = Vec::new();
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = header.trim().split_once(':') {
                        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                    }
                }
                let (status, extra, body) = route(&method, &path, &headers);
                log.lock()
                    .unwrap()
                    .push((format!("{method} {path}"), headers));
                let mut answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                    body.len()
                );
                for (k, v) in extra {
                    answer.push_str(&format!("{k}: {v}\r\n"));
                }
                answer.push_str("\r\n");
                answer.push_str(&body);
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        Self { origin, asked }
    }

    /// What was asked: `METHOD PATH`, in order.
    pub fn asked(&self) -> Vec<String> {
        self.asked
            .lock()
            .unwrap()
            .iter()
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// The value of header `name` on every request to `path`.
    pub fn headers_at(&self, path: &str, name: &str) -> Vec<String> {
        self.asked
            .lock()
            .unwrap()
            .iter()
            .filter(|(r, _)| r.ends_with(&format!(" {path}")))
            .flat_map(|(_, h)| h.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()))
            .collect()
    }
}
