//! A small blocking HTTP/1.1 client for the `http` and `prometheus` inputs.
//!
//! An **exchange** is one request on a fresh connection (`Connection: close`): resolve the
//! host, connect, run the TLS handshake for `https`, send the request, read the response
//! head, then stream the body as its framing says (`Content-Length`, `chunked`, or until
//! the server closes). Every step runs against one deadline, so a probe reports "timed out"
//! instead of hanging past its `response_timeout_ms`. Redirects are followed by
//! [`Client::fetch`] on request.
//!
//! Why hand-written rather than a crate (measured when this was written):
//! - reqwest's blocking client, which the agent could have had for free, starts a tokio
//!   runtime on a thread of its own per client: a thread and its stack per configured URL.
//! - ureq 3 (`default-features = false, features = ["rustls"]`, which uses ring) would add
//!   five crates to Cargo.lock (ureq, ureq-proto, utf8-zero, webpki-roots and a second
//!   base64), and it does not hand out the server's certificate, which
//!   `tls_cert_days_left` needs.
//! - rustls (with ring), rustls-platform-verifier, httparse and url are already linked into
//!   the agent for the sender's reqwest, so this client adds no crate at all; the code that
//!   is ours is the framing below (a few hundred lines).
//!
//! Certificates are verified like the sender's: the system's roots through
//! rustls-platform-verifier (loaded once per process and shared by every instance), or the
//! PEM bundle of `tls_ca`, or not at all with `insecure_skip_verify`.

use std::borrow::Cow;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};
use url::Url;

use super::x509;
use crate::inputs::dns::resolve::{ResolveError, resolve};

/// Bytes a response head (status line and headers) may take.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Headers a response may have.
const MAX_HEADERS: usize = 128;
/// Redirects [`Client::fetch`] follows before giving up.
pub const MAX_REDIRECTS: usize = 10;

/// How the server's certificate is checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsOptions {
    /// Accept any certificate (still reading its expiry).
    pub insecure_skip_verify: bool,
    /// A PEM file of CA certificates to trust instead of the system's; empty: the system's.
    pub ca_file: PathBuf,
}

/// Why an exchange failed, by the step that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error("connecting to {addr}: {source}")]
    Connect { addr: SocketAddr, source: io::Error },
    #[error("TLS handshake with {host}: {source}")]
    Handshake { host: String, source: io::Error },
    #[error("sending the request: {0}")]
    Send(io::Error),
    #[error("reading the response: {0}")]
    Receive(io::Error),
    #[error("invalid response: {0}")]
    Protocol(String),
    #[error("redirect: {0}")]
    Redirect(String),
    #[error("TLS setup: {0}")]
    TlsSetup(String),
    #[error("{0}")]
    Url(String),
}

impl Error {
    /// Whether the deadline ran out (as opposed to a refusal or a broken response).
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Resolve(e) => matches!(e, ResolveError::Timeout { .. }),
            Error::Connect { source, .. }
            | Error::Handshake { source, .. }
            | Error::Send(source)
            | Error::Receive(source) => is_timeout(source),
            _ => false,
        }
    }
}

/// Whether an I/O error is a socket timeout: `SO_RCVTIMEO` expiring reads as `EAGAIN`.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// One request to send.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'a str,
    pub url: Url,
    /// Sent as given, after the client's own `Host`, `User-Agent`, `Accept` and
    /// `Connection`, each of which is left out when given here.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// A response whose body is still on the wire.
pub struct Response {
    pub status: u16,
    /// Names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// The notAfter (Unix seconds) of the server's certificate, for `https`.
    pub cert_not_after: Option<i64>,
}

impl Response {
    /// The first header called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A client: the TLS settings and, once the first `https` URL needed it, their
/// configuration.
#[derive(Debug)]
pub struct Client {
    tls: TlsOptions,
    tls_config: Option<Arc<ClientConfig>>,
    /// `Accept` sent unless the request's headers have one.
    accept: &'static str,
}

impl Client {
    pub fn new(tls: TlsOptions, accept: &'static str) -> Self {
        Client {
            tls,
            tls_config: None,
            accept,
        }
    }

    /// Checks the TLS settings now (a missing `tls_ca` file is a config error, better found
    /// at start than at the first gather).
    pub fn check_tls(&mut self) -> Result<(), Error> {
        if self.tls.insecure_skip_verify || !self.tls.ca_file.as_os_str().is_empty() {
            self.tls_config()?;
        }
        Ok(())
    }

    fn tls_config(&mut self) -> Result<Arc<ClientConfig>, Error> {
        if let Some(config) = &self.tls_config {
            return Ok(config.clone());
        }
        let config = tls_config(&self.tls)?;
        self.tls_config = Some(config.clone());
        Ok(config)
    }

    /// Sends `request`, following up to [`MAX_REDIRECTS`] redirects when `follow` is set.
    pub fn fetch(
        &mut self,
        request: &Request<'_>,
        follow: bool,
        deadline: Instant,
    ) -> Result<Response, Error> {
        let mut method = request.method;
        let mut url = request.url.clone();
        let mut body = request.body;
        let mut headers = Cow::Borrowed(request.headers);
        for _ in 0..=MAX_REDIRECTS {
            let hop = Request {
                method,
                url: url.clone(),
                headers: &headers,
                body,
            };
            let response = self.send(&hop, deadline)?;
            let location = match response.status {
                301 | 302 | 303 | 307 | 308 if follow => response.header("location"),
                _ => None,
            };
            let Some(location) = location else {
                return Ok(response);
            };
            let next = url
                .join(location)
                .map_err(|e| Error::Redirect(format!("bad Location {location:?}: {e}")))?;
            if !matches!(next.scheme(), "http" | "https") {
                return Err(Error::Redirect(format!("to a non-HTTP URL {next}")));
            }
            // As browsers do: a 303, and a 301 or 302 after a POST, become a GET.
            let to_get = response.status == 303
                || (matches!(response.status, 301 | 302) && method == "POST");
            if to_get && method != "HEAD" {
                method = "GET";
                body = &[];
            }
            // Credentials are for the origin they were configured for.
            if next.origin() != url.origin() {
                let kept = headers
                    .iter()
                    .filter(|(k, _)| {
                        !["authorization", "cookie", "proxy-authorization"]
                            .contains(&k.to_ascii_lowercase().as_str())
                    })
                    .cloned()
                    .collect();
                headers = Cow::Owned(kept);
            }
            url = next;
        }
        Err(Error::Redirect(format!(
            "more than {MAX_REDIRECTS} redirects"
        )))
    }

    /// One exchange: no redirect is followed.
    pub fn send(&mut self, request: &Request<'_>, deadline: Instant) -> Result<Response, Error> {
        let url = &request.url;
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            other => return Err(Error::Url(format!("unsupported scheme {other:?} in {url}"))),
        };
        let host = url
            .host()
            .ok_or_else(|| Error::Url(format!("no host in {url}")))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| Error::Url(format!("no port in {url}")))?;
        let host_name = match &host {
            url::Host::Domain(d) => d.to_string(),
            url::Host::Ipv4(ip) => ip.to_string(),
            url::Host::Ipv6(ip) => ip.to_string(),
        };
        let addrs = resolve(
            &host_name,
            port,
            remaining(deadline).map_err(Error::Receive)?,
        )?;
        let tcp = connect(&addrs, deadline)?;
        let (stream, cert_not_after) = if https {
            let config = self.tls_config()?;
            let name = match host {
                url::Host::Domain(d) => ServerName::try_from(d.to_string())
                    .map_err(|e| Error::Url(format!("host {d:?}: {e}")))?,
                url::Host::Ipv4(ip) => ServerName::IpAddress(std::net::IpAddr::V4(ip).into()),
                url::Host::Ipv6(ip) => ServerName::IpAddress(std::net::IpAddr::V6(ip).into()),
            };
            let (tls, not_after) =
                handshake(config, name, tcp, deadline).map_err(|source| Error::Handshake {
                    host: host_name.clone(),
                    source,
                })?;
            (Stream::Tls(Box::new(tls)), not_after)
        } else {
            (Stream::Plain(tcp), None)
        };
        let mut conn = Conn { stream, deadline };
        let head = self.request_head(request);
        conn.write_all(&head)
            .and_then(|()| conn.write_all(request.body))
            .and_then(|()| conn.flush())
            .map_err(Error::Send)?;

        let mut reader = BufReader::with_capacity(8 * 1024, conn);
        // Interim 1xx responses (other than 101) come before the real one.
        let (status, headers) = loop {
            let (status, headers) = read_head(&mut reader)?;
            if !(100..200).contains(&status) || status == 101 {
                break (status, headers);
            }
        };
        let framing = framing(request.method, status, &headers)?;
        Ok(Response {
            status,
            headers,
            body: Body {
                reader,
                framing,
                chunk: ChunkState::Size,
            },
            cert_not_after,
        })
    }

    fn request_head(&self, request: &Request<'_>) -> Vec<u8> {
        let url = &request.url;
        let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
        let path = if path.is_empty() { "/" } else { path };
        let mut head = format!("{} {path} HTTP/1.1\r\n", request.method);
        let given = |name: &str| {
            request
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(name))
        };
        if !given("host") {
            let host = url.host_str().unwrap_or("");
            match url.port() {
                Some(port) => head.push_str(&format!("Host: {host}:{port}\r\n")),
                None => head.push_str(&format!("Host: {host}\r\n")),
            }
        }
        if !given("user-agent") {
            head.push_str(concat!(
                "User-Agent: argus-agent/",
                env!("CARGO_PKG_VERSION"),
                "\r\n"
            ));
        }
        if !given("accept") {
            head.push_str(&format!("Accept: {}\r\n", self.accept));
        }
        head.push_str("Connection: close\r\n");
        for (k, v) in request.headers {
            if !k.eq_ignore_ascii_case("connection") && !k.eq_ignore_ascii_case("content-length") {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        if !request.body.is_empty() || matches!(request.method, "POST" | "PUT" | "PATCH") {
            head.push_str(&format!("Content-Length: {}\r\n", request.body.len()));
        }
        head.push_str("\r\n");
        head.into_bytes()
    }
}

/// Checks a header name and value for what would break the request (CR, LF, NUL, a name
/// that is not a token); used on the configured headers at build time.
pub fn check_header(name: &str, value: &str) -> Result<(), String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(format!("header name {name:?} is not a valid HTTP token"));
    }
    if value.chars().any(|c| matches!(c, '\r' | '\n' | '\0')) {
        return Err(format!(
            "header {name}: the value contains a line break or NUL"
        ));
    }
    Ok(())
}

/// A configured time limit in milliseconds (option `key`): at least 1 ms and at most an
/// hour, so that adding it to the clock cannot overflow.
pub fn limit_ms(key: &str, ms: u64) -> anyhow::Result<Duration> {
    if !(1..=3_600_000).contains(&ms) {
        anyhow::bail!("{key}: must be between 1 and 3600000 (an hour), not {ms}");
    }
    Ok(Duration::from_millis(ms))
}

/// Time left before `deadline`, or a `TimedOut` error once it has passed.
pub fn remaining(deadline: Instant) -> io::Result<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "deadline passed"))
}

/// Connects to the first address that accepts, in the resolver's order.
fn connect(addrs: &[SocketAddr], deadline: Instant) -> Result<TcpStream, Error> {
    let mut last = None;
    for &addr in addrs {
        let attempt = remaining(deadline).and_then(|left| TcpStream::connect_timeout(&addr, left));
        match attempt {
            Ok(tcp) => {
                let _ = tcp.set_nodelay(true);
                return Ok(tcp);
            }
            Err(source) => {
                let timed_out = is_timeout(&source);
                last = Some(Error::Connect { addr, source });
                if timed_out {
                    break;
                }
            }
        }
    }
    Err(last.unwrap_or_else(|| Error::Url("no address to connect to".into())))
}

type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// Runs the handshake to its end, so that the certificate is known before anything is
/// sent, and returns the certificate's notAfter.
fn handshake(
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    tcp: TcpStream,
    deadline: Instant,
) -> io::Result<(TlsStream, Option<i64>)> {
    let conn = ClientConnection::new(config, name).map_err(io::Error::other)?;
    let mut tls = StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        let left = remaining(deadline)?;
        tls.sock.set_read_timeout(Some(left))?;
        tls.sock.set_write_timeout(Some(left))?;
        let (read, written) = tls.conn.complete_io(&mut tls.sock)?;
        if read == 0 && written == 0 && tls.conn.is_handshaking() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed during the handshake",
            ));
        }
    }
    let not_after = tls
        .conn
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|leaf| x509::not_after(leaf));
    Ok((tls, not_after))
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

/// A connection whose every read and write is bounded by the exchange's deadline.
pub struct Conn {
    stream: Stream,
    deadline: Instant,
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match &self.stream {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => &tls.sock,
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = remaining(self.deadline)?;
        self.tcp().set_read_timeout(Some(left))?;
        match &mut self.stream {
            Stream::Plain(tcp) => tcp.read(buf),
            Stream::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = remaining(self.deadline)?;
        self.tcp().set_write_timeout(Some(left))?;
        match &mut self.stream {
            Stream::Plain(tcp) => tcp.write(buf),
            Stream::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let left = remaining(self.deadline)?;
        self.tcp().set_write_timeout(Some(left))?;
        match &mut self.stream {
            Stream::Plain(tcp) => tcp.flush(),
            Stream::Tls(tls) => tls.flush(),
        }
    }
}

/// Reads one line into `line` (cleared first), keeping its line ending; at most `max`
/// bytes. An empty `line` means end of stream.
pub fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>, max: usize) -> io::Result<()> {
    line.clear();
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        let (taken, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        line.extend_from_slice(&buf[..taken]);
        reader.consume(taken);
        if line.len() > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("line longer than {max} bytes"),
            ));
        }
        if done {
            return Ok(());
        }
    }
}

/// Reads a response head: the status and the headers (names lower-cased).
fn read_head(reader: &mut impl BufRead) -> Result<(u16, Vec<(String, String)>), Error> {
    let mut head = Vec::with_capacity(1024);
    let mut line = Vec::new();
    loop {
        read_line(reader, &mut line, MAX_HEAD_BYTES).map_err(Error::Receive)?;
        if line.is_empty() {
            return Err(if head.is_empty() {
                Error::Protocol("the server closed the connection without a response".into())
            } else {
                Error::Protocol("the connection closed inside the response head".into())
            });
        }
        // Blank lines before the status line are tolerated (RFC 9112 §2.2).
        let blank = line == b"\r\n" || line == b"\n";
        if blank && head.is_empty() {
            continue;
        }
        head.extend_from_slice(&line);
        if head.len() > MAX_HEAD_BYTES {
            return Err(Error::Protocol(format!(
                "response head larger than {MAX_HEAD_BYTES} bytes"
            )));
        }
        if blank {
            break;
        }
    }
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut slots);
    match response.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(Error::Protocol("incomplete response head".into()));
        }
        Err(e) => return Err(Error::Protocol(format!("response head: {e}"))),
    }
    let status = response
        .code
        .ok_or_else(|| Error::Protocol("no status code".into()))?;
    let headers = response
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).trim().to_string(),
            )
        })
        .collect();
    Ok((status, headers))
}

/// How the body's end is found (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

fn framing(method: &str, status: u16, headers: &[(String, String)]) -> Result<Framing, Error> {
    if method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(Framing::Empty);
    }
    let mut lengths = headers.iter().filter(|(k, _)| k == "content-length");
    if let Some((_, te)) = headers.iter().find(|(k, _)| k == "transfer-encoding") {
        return if te
            .rsplit(',')
            .next()
            .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
        {
            Ok(Framing::Chunked)
        } else {
            Ok(Framing::UntilClose)
        };
    }
    match (lengths.next(), lengths.next()) {
        (None, _) => Ok(Framing::UntilClose),
        (Some((_, a)), Some((_, b))) if a != b => {
            Err(Error::Protocol("conflicting Content-Length headers".into()))
        }
        (Some((_, len)), _) => len
            .parse()
            .map(Framing::Length)
            .map_err(|_| Error::Protocol(format!("bad Content-Length {len:?}"))),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ChunkState {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk with this many bytes left.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    Done,
}

/// A response body, decoded from its framing as it is read.
pub struct Body {
    reader: BufReader<Conn>,
    framing: Framing,
    chunk: ChunkState,
}

impl Body {
    fn read_chunked(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut line = Vec::new();
        loop {
            match self.chunk {
                ChunkState::Done => return Ok(0),
                ChunkState::Data(left) => {
                    let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let n = self.reader.read(&mut buf[..want])?;
                    if n == 0 {
                        return Err(truncated());
                    }
                    let left = left - n as u64;
                    self.chunk = if left == 0 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left)
                    };
                    return Ok(n);
                }
                ChunkState::DataEnd => {
                    read_line(&mut self.reader, &mut line, 2)?;
                    if line != b"\r\n" && line != b"\n" {
                        return Err(bad_chunk("no line break after a chunk"));
                    }
                    self.chunk = ChunkState::Size;
                }
                ChunkState::Size => {
                    read_line(&mut self.reader, &mut line, 1024)?;
                    if line.is_empty() {
                        return Err(truncated());
                    }
                    let text = std::str::from_utf8(&line).map_err(|_| bad_chunk("chunk size"))?;
                    // Chunk extensions (`;name=value`) are ignored.
                    let hex = text.split(';').next().unwrap_or("").trim();
                    let size = u64::from_str_radix(hex, 16).map_err(|_| bad_chunk("chunk size"))?;
                    if size == 0 {
                        // Trailer fields, up to the blank line.
                        loop {
                            read_line(&mut self.reader, &mut line, MAX_HEAD_BYTES)?;
                            if line.is_empty() || line == b"\r\n" || line == b"\n" {
                                break;
                            }
                        }
                        self.chunk = ChunkState::Done;
                        return Ok(0);
                    }
                    self.chunk = ChunkState::Data(size);
                }
            }
        }
    }
}

fn truncated() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the connection closed before the end of the body",
    )
}

fn bad_chunk(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("bad chunked body: {what}"),
    )
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match self.framing {
            Framing::Empty => Ok(0),
            Framing::Length(0) => Ok(0),
            Framing::Length(left) => {
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let n = self.reader.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(truncated());
                }
                self.framing = Framing::Length(left - n as u64);
                Ok(n)
            }
            Framing::Chunked => self.read_chunked(buf),
            Framing::UntilClose => match self.reader.read(buf) {
                // Many servers close TLS without close_notify; with this framing the
                // close is the end of the body either way.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }
}

/// The ring provider, as everywhere in Argus (no C toolchain, no aws-lc).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The configuration verifying against the system's roots, built once per process: the
/// root store is the largest allocation of TLS (a few hundred KiB), so every instance and
/// every input shares one.
static SYSTEM_ROOTS: OnceLock<Arc<ClientConfig>> = OnceLock::new();

fn tls_config(options: &TlsOptions) -> Result<Arc<ClientConfig>, Error> {
    let setup = |e: &dyn std::fmt::Display| Error::TlsSetup(e.to_string());
    let provider = provider();
    let verifier: Arc<dyn ServerCertVerifier> = if options.insecure_skip_verify {
        Arc::new(NoVerification(provider.clone()))
    } else if !options.ca_file.as_os_str().is_empty() {
        let path = &options.ca_file;
        let mut roots = rustls::RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| Error::TlsSetup(format!("tls_ca {}: {e}", path.display())))?;
        for cert in certs {
            let cert =
                cert.map_err(|e| Error::TlsSetup(format!("tls_ca {}: {e}", path.display())))?;
            roots
                .add(cert)
                .map_err(|e| Error::TlsSetup(format!("tls_ca {}: {e}", path.display())))?;
        }
        if roots.is_empty() {
            return Err(Error::TlsSetup(format!(
                "tls_ca {}: no certificate in the file",
                path.display()
            )));
        }
        rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .map_err(|e| setup(&e))?
    } else {
        if let Some(config) = SYSTEM_ROOTS.get() {
            return Ok(config.clone());
        }
        let verifier =
            rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| setup(&e))?;
        let config = Arc::new(
            ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| setup(&e))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth(),
        );
        return Ok(SYSTEM_ROOTS.get_or_init(|| config).clone());
    };
    Ok(Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| setup(&e))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth(),
    ))
}

/// `insecure_skip_verify`: any certificate is accepted, but the handshake signatures are
/// still checked so that the session keys are the server's.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
