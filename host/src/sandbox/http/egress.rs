//! Sending a request the HTTP gate let through: the destination's addresses are resolved and
//! vetted here against [`super::addresses`], and the connection is made to a vetted address
//! (never resolved again), so a grant by host name cannot be turned towards a cloud metadata
//! endpoint, the link-local network, the user's private network or (but for `localhost`) the
//! machine itself by DNS, rebinding included.
//!
//! Invariants: an address literal in the URL is used as it is (the gate only lets one through
//! when a grant names exactly it); a host name whose addresses include a forbidden one is
//! refused as a whole; TLS verifies the certificate against the host *name* with the webpki
//! roots; redirects are answers like any other (nothing here follows them).

use super::addresses::refused;
use crate::text::escaped;
use bytes::Bytes;
use http::uri::Scheme;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// The addresses to connect to for `host:port`, vetted against [`super::addresses`]
/// (`localhost`: the grant names localhost, so loopback addresses may be reached); the reason
/// if refused.
pub async fn addresses(host: &str, port: u16, localhost: bool) -> Result<Vec<SocketAddr>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let found: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|e| format!("cannot resolve {}: {e}", escaped(bare)))?
        .collect();
    for addr in &found {
        if let Some(why) = refused(addr.ip(), localhost) {
            return Err(format!(
                "{} resolves to {}: {why}",
                escaped(bare),
                addr.ip()
            ));
        }
    }
    if found.is_empty() {
        return Err(format!("{} has no address", escaped(bare)));
    }
    Ok(found)
}

/// A connection, plain or TLS.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> Stream for T {}

type Sent = (
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
);

/// Sends `request` over a new connection to the first of `addrs` that answers.
pub async fn send(
    mut request: http::Request<WasiBody>,
    addrs: Vec<SocketAddr>,
    options: Option<RequestOptions>,
) -> Result<Sent, Error> {
    use http_body_util::BodyExt;
    let connect_timeout = options
        .and_then(|o| o.connect_timeout)
        .unwrap_or(Duration::from_secs(60));
    let first_byte_timeout = options
        .and_then(|o| o.first_byte_timeout)
        .unwrap_or(Duration::from_secs(600));
    let host = request
        .uri()
        .host()
        .ok_or(Error::HttpRequestUriInvalid)?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let tls = request.uri().scheme() == Some(&Scheme::HTTPS);

    let mut last = None;
    let mut stream = None;
    for addr in addrs {
        match tokio::time::timeout(connect_timeout, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                stream = Some(s);
                break;
            }
            Ok(Err(e)) => last = Some(Error::Connect(e)),
            Err(_) => last = Some(Error::ConnectionTimeout),
        }
    }
    let stream = stream.ok_or_else(|| last.unwrap_or(Error::ConnectionTimeout))?;

    // Origin-form on the wire (the Host header carries the authority).
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|_| Error::HttpRequestUriInvalid)?;

    let stream: Box<dyn Stream> = if tls {
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.into(),
            })
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from(host)
            .map_err(|_| Error::HttpRequestUriInvalid)?;
        let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, stream)
            .await
            .map_err(Error::Tls)?;
        Box::new(stream)
    } else {
        Box::new(stream)
    };
    let (response, conn) = exchange(
        TokioIo::new(stream),
        request,
        connect_timeout,
        first_byte_timeout,
    )
    .await?;
    let response = response.map(|body| body.map_err(Error::from).boxed_unsync());
    Ok((response, conn))
}

/// One HTTP/1.1 request on `io`: the response head, and the connection's remaining I/O.
async fn exchange<I>(
    io: I,
    request: http::Request<WasiBody>,
    connect_timeout: Duration,
    first_byte_timeout: Duration,
) -> Result<
    (
        http::Response<hyper::body::Incoming>,
        Box<dyn Future<Output = Result<(), Error>> + Send>,
    ),
    Error,
>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::Builder::new().handshake::<_, WasiBody>(io),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)??;
    // Drive the connection beside the exchange; its end is reported through the future.
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let _ = done_tx.send(conn.await.map_err(Error::from));
    });
    let response = tokio::time::timeout(first_byte_timeout, sender.send_request(request))
        .await
        .map_err(|_| Error::ConnectionReadTimeout)??;
    let io = async move { done_rx.await.unwrap_or(Ok(())) };
    Ok((response, Box::new(io)))
}

/// A request body of `bytes`, as wasi-http carries bodies.
pub fn body(bytes: Bytes) -> WasiBody {
    use http_body_util::BodyExt;
    http_body_util::Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn literals_pass_and_names_resolve() {
        assert_eq!(
            addresses("[::1]", 80, false).await.unwrap(),
            vec!["[::1]:80".parse().unwrap()]
        );
        assert_eq!(
            addresses("169.254.169.254", 80, false).await.unwrap(),
            vec!["169.254.169.254:80".parse().unwrap()],
            "a literal passed the gate only because a grant names it"
        );
        let local = addresses("localhost", 8080, true).await.unwrap();
        assert!(local.iter().all(|a| a.ip().is_loopback()), "{local:?}");
        let refused = addresses("localhost", 8080, false).await.unwrap_err();
        assert!(refused.contains("loopback"), "{refused}");
    }
}
