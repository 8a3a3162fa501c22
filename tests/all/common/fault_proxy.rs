//! A fault-injecting HTTP proxy on loopback for the exactly-once tests. Not a mock: it
//! forwards every request it lets through to a real server (moto) and perturbs the traffic
//! the way networks and APIs do: a throttle (answered as AWS answers, nothing forwarded), a
//! server error after the request was carried out, a connection closed before the request was
//! forwarded, and an answer dropped after the request was carried out. One thread per
//! connection, one request per connection (`Connection: close` both ways).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forwarded, answered.
    None,
    /// Not forwarded; answered `503 RequestLimitExceeded`.
    Throttle,
    /// Forwarded (carried out), then answered `500 InternalError`.
    ServerError,
    /// Not forwarded; the connection is closed without an answer.
    Reset,
    /// Forwarded (carried out), then the connection is closed without an answer.
    DropAnswer,
}

/// Which requests get which fault.
pub enum Policy {
    /// Everything passes.
    Pass,
    /// The answer to the first request of this action is dropped after it was carried out.
    DropFirst(String),
    /// The answer to the `nth` (1-based) request whose action (a Query `Action`, else the
    /// request's `METHOD /path`) contains this text (is exactly it, with a final `$`) is
    /// dropped after it was carried out.
    DropNth { contains: String, nth: usize },
    /// Each request independently: throttled, 500, reset, answer dropped, each with this
    /// probability (seeded, so a failure can be replayed).
    Random { rate: f64, rng: fastrand::Rng },
    /// Each request independently gets this one fault with this probability (seeded).
    Only {
        fault: Fault,
        rate: f64,
        rng: fastrand::Rng,
    },
}

struct Shared {
    upstream: String,
    policy: Mutex<Policy>,
    delay: Mutex<Duration>,
    log: Mutex<Vec<(String, Fault)>>,
}

/// A running proxy; it stops with the test process.
pub struct FaultProxy {
    pub endpoint: String,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// A proxy to `upstream` (`http://127.0.0.1:PORT`) applying `policy`.
    pub fn start(upstream: &str, policy: Policy) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            upstream: upstream.trim_start_matches("http://").to_string(),
            policy: Mutex::new(policy),
            delay: Mutex::new(Duration::ZERO),
            log: Mutex::new(Vec::new()),
        });
        let accept = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = accept.clone();
                std::thread::spawn(move || serve(&shared, stream));
            }
        });
        Self { endpoint, shared }
    }

    /// Changes the policy for the requests to come.
    pub fn set_policy(&self, policy: Policy) {
        *self.shared.policy.lock().unwrap() = policy;
    }

    /// Adds `delay` before every request is handled (so a run is slow enough to interrupt).
    pub fn set_delay(&self, delay: Duration) {
        *self.shared.delay.lock().unwrap() = delay;
    }

    /// Every request so far: its API action and what was done to it.
    pub fn log(&self) -> Vec<(String, Fault)> {
        self.shared.log.lock().unwrap().clone()
    }

    /// How many requests got a fault.
    pub fn faults(&self) -> usize {
        self.log().iter().filter(|(_, f)| *f != Fault::None).count()
    }
}

/// The request's headers and body, once complete.
fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&data[..end]).to_string();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        if data.len() >= end + 4 + length {
            return Some((head, data[end + 4..end + 4 + length].to_vec()));
        }
    }
}

/// A JSON request's operation: the end of its `X-Amz-Target` (`CloudApiService.CreateResource`).
fn target_of(head: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("x-amz-target").then(|| {
            value
                .trim()
                .rsplit('.')
                .next()
                .unwrap_or_default()
                .to_string()
        })
    })
}

/// The Query protocol's `Action` of a form body.
fn action_of(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .split('&')
        .find_map(|kv| kv.strip_prefix("Action="))
        .unwrap_or("?")
        .to_string()
}

fn forward(upstream: &str, head: &str, body: &[u8]) -> Option<Vec<u8>> {
    let mut conn = TcpStream::connect(upstream).ok()?;
    let mut lines = head.lines();
    let mut out = format!("{}\r\n", lines.next()?);
    for line in lines {
        let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
        if name != "connection" && name != "keep-alive" {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    // One write, sent at once (no Nagle wait behind a delayed ACK).
    let _ = conn.set_nodelay(true);
    let mut request = out.into_bytes();
    request.extend_from_slice(body);
    conn.write_all(&request).ok()?;
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).ok()?;
    Some(answer)
}

/// Whether `action` contains `pattern` (equals it, when the pattern ends with `$`).
fn matches(action: &str, pattern: &str) -> bool {
    match pattern.strip_suffix('$') {
        Some(exact) => action == exact,
        None => action.contains(pattern),
    }
}

fn aws_error(status: &str, code: &str) -> Vec<u8> {
    let body = format!(
        "<Response><Errors><Error><Code>{code}</Code><Message>injected by the test proxy</Message></Error></Errors></Response>"
    );
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn serve(shared: &Shared, mut stream: TcpStream) {
    let Some((head, body)) = read_request(&mut stream) else {
        return;
    };
    let delay = *shared.delay.lock().unwrap();
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
    let action = match (target_of(&head), action_of(&body)) {
        (Some(op), _) => op,
        (None, query) if query != "?" => query,
        // A REST request (S3): its method and path, without the query.
        _ => head
            .lines()
            .next()
            .and_then(|line| {
                let mut parts = line.split(' ');
                let method = parts.next()?;
                let path = parts.next()?.split('?').next()?;
                Some(format!("{method} {path}"))
            })
            .unwrap_or_else(|| "?".into()),
    };
    let fault = match &mut *shared.policy.lock().unwrap() {
        Policy::Pass => Fault::None,
        Policy::DropFirst(target) if *target == action => {
            target.clear();
            Fault::DropAnswer
        }
        Policy::DropFirst(_) => Fault::None,
        Policy::DropNth { contains, nth } if *nth > 0 && matches(&action, contains) => {
            *nth -= 1;
            if *nth == 0 {
                Fault::DropAnswer
            } else {
                Fault::None
            }
        }
        Policy::DropNth { .. } => Fault::None,
        Policy::Random { rate, rng } => {
            let roll = rng.f64();
            match (roll / *rate) as usize {
                0 => Fault::Throttle,
                1 => Fault::ServerError,
                2 => Fault::Reset,
                3 => Fault::DropAnswer,
                _ => Fault::None,
            }
        }
        Policy::Only { fault, rate, rng } => {
            if rng.f64() < *rate {
                *fault
            } else {
                Fault::None
            }
        }
    };
    shared.log.lock().unwrap().push((action, fault));
    let answer = match fault {
        Fault::Throttle => Some(aws_error("503 Service Unavailable", "RequestLimitExceeded")),
        Fault::Reset => None,
        Fault::None => forward(&shared.upstream, &head, &body),
        Fault::ServerError => {
            forward(&shared.upstream, &head, &body);
            Some(aws_error("500 Internal Server Error", "InternalError"))
        }
        Fault::DropAnswer => {
            forward(&shared.upstream, &head, &body);
            None
        }
    };
    if let Some(answer) = answer {
        let _ = stream.set_nodelay(true);
        let _ = stream.write_all(&answer);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        // Let the client read the answer before the socket goes.
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut buf = [0u8; 1024];
        while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
    }
}
