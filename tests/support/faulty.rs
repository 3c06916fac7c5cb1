//! A fault-injecting HTTP/1.1 proxy in front of `moto_server`: zrm's S3 endpoint points at it,
//! and it drops connections, answers 503 SlowDown / 500 InternalError, loses responses, or
//! cuts GET bodies midway, at random (seeded) rates. Plain std threads, one per connection.
//!
//! * Requests: a head up to `\r\n\r\n`, then a `Content-Length` body or a `chunked` body
//!   (forwarded as received, trailers included); `Expect: 100-continue` is answered here.
//!   Keep-alive: a client connection serves requests until the client closes it or a fault
//!   closes it. (The SDK sends PutObject and UploadPart with `Content-Length`, no chunked
//!   encoding and no Expect, as zrm calculates checksums only `WhenRequired`.)
//! * Upstream: one fresh connection per request, sent with `Connection: close`; the response
//!   is read to EOF and handed back framed for keep-alive (`Connection: keep-alive` and the
//!   body's `Content-Length`; HEAD, 1xx, 204 and 304 responses have no body; a chunked body
//!   is passed on as is).
//! * One moto quirk is mended on the way: see [`fix_complete_multipart_root`].
//! * The moto control API (`/moto-api/…`) is never faulted.
//! * Requests can be held back ([`FaultyProxy::stall_when`]) to stop a client at a chosen
//!   point, e.g. before CompleteMultipartUpload.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Probabilities (0.0–1.0) of each fault per request, checked in this order; the rest are
/// forwarded. `cut_body` applies to forwarded GET responses.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// Close the client connection after reading the request, without answering (the request
    /// never reaches S3).
    pub drop_connection: f64,
    /// `503 SlowDown`, keeping the connection.
    pub error_503: f64,
    /// `500 InternalError`, keeping the connection.
    pub error_500: f64,
    /// Forward the request (S3 executes it), then close without answering: the response is
    /// lost, as when a connection breaks while S3 answers.
    pub drop_response: f64,
    /// Forward, then send the head and only half of the body of a GET answered 200 or 206
    /// with at least `cut_min_body` bytes, and close.
    pub cut_body: f64,
    pub cut_min_body: usize,
    pub seed: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            drop_connection: 0.0,
            error_503: 0.0,
            error_500: 0.0,
            drop_response: 0.0,
            cut_body: 0.0,
            cut_min_body: CUT_MIN_BODY,
            seed: 1,
        }
    }
}

/// By default bodies shorter than this are never cut: object data, not the lock, manifests or
/// listings.
pub const CUT_MIN_BODY: usize = 64 << 10;

/// What the proxy did so far. `requests` counts the requests subject to faults (not the moto
/// control API); each is then one of the others, unless moto could not be reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultStats {
    pub requests: u64,
    pub dropped: u64,
    pub e503: u64,
    pub e500: u64,
    pub lost_response: u64,
    pub cut: u64,
    pub forwarded: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    dropped: AtomicU64,
    e503: AtomicU64,
    e500: AtomicU64,
    lost_response: AtomicU64,
    cut: AtomicU64,
    forwarded: AtomicU64,
}

/// What happens to one request instead of a plain forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// See [`Faults::drop_connection`].
    DropConnection,
    Error503,
    Error500,
    /// See [`Faults::drop_response`].
    LoseResponse,
}

enum Fate {
    Drop,
    E503,
    E500,
    LoseResponse,
    Forward,
}

impl From<Fault> for Fate {
    fn from(f: Fault) -> Fate {
        match f {
            Fault::DropConnection => Fate::Drop,
            Fault::Error503 => Fate::E503,
            Fault::Error500 => Fate::E500,
            Fault::LoseResponse => Fate::LoseResponse,
        }
    }
}

struct Shared {
    upstream: u16,
    faults: Mutex<Faults>,
    rng: Mutex<u64>,
    counters: Counters,
    stop: AtomicBool,
    /// Open client connections, shut down when the proxy stops.
    clients: Mutex<HashMap<u64, TcpStream>>,
    next_client: AtomicU64,
    /// One line per request: `METHOD path -> outcome`.
    log: Mutex<Vec<String>>,
    /// Requests (method, path) held back until released.
    stall: Mutex<Option<Matcher>>,
    /// One-shot faults for the first request that matches, in the order given.
    targeted: Mutex<Vec<(Fault, Matcher)>>,
}

/// Selects requests by method and path (with its query).
type Matcher = Box<dyn Fn(&str, &str) -> bool + Send>;

impl Shared {
    /// xorshift64*: a uniform number in [0, 1).
    fn roll(&self) -> f64 {
        let mut s = self.rng.lock().unwrap();
        let mut x = *s;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *s = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn fate(&self, method: &str, path: &str) -> Fate {
        {
            let mut targeted = self.targeted.lock().unwrap();
            if let Some(i) = targeted.iter().position(|(_, m)| m(method, path)) {
                return targeted.remove(i).0.into();
            }
        }
        let f = *self.faults.lock().unwrap();
        let r = self.roll();
        let mut edge = f.drop_connection;
        if r < edge {
            return Fate::Drop;
        }
        edge += f.error_503;
        if r < edge {
            return Fate::E503;
        }
        edge += f.error_500;
        if r < edge {
            return Fate::E500;
        }
        edge += f.drop_response;
        if r < edge {
            return Fate::LoseResponse;
        }
        Fate::Forward
    }

    fn stalled(&self, method: &str, path: &str) -> bool {
        !self.stop.load(Ordering::SeqCst)
            && self
                .stall
                .lock()
                .unwrap()
                .as_ref()
                .is_some_and(|f| f(method, path))
    }

    fn note(&self, method: &str, path: &str, what: &str) {
        self.log
            .lock()
            .unwrap()
            .push(format!("{method} {path} -> {what}"));
    }
}

pub struct FaultyProxy {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl FaultyProxy {
    /// A proxy on 127.0.0.1 (a free port) to `127.0.0.1:upstream`.
    pub fn start(upstream: u16, faults: Faults) -> FaultyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            upstream,
            faults: Mutex::new(faults),
            rng: Mutex::new(faults.seed.max(1)),
            counters: Counters::default(),
            stop: AtomicBool::new(false),
            clients: Mutex::new(HashMap::new()),
            next_client: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
            stall: Mutex::new(None),
            targeted: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = shared.clone();
            thread::Builder::new()
                .name("faulty-accept".into())
                .spawn(move || accept_loop(listener, shared))
                .expect("start the fault proxy")
        };
        FaultyProxy {
            port,
            shared,
            acceptor: Some(acceptor),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Changes the fault rates from now on (the random sequence goes on).
    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.lock().unwrap() = faults;
    }

    /// Holds back the requests for which `f(method, path)` is true (they wait, unanswered,
    /// before any fault is decided) until [`release`](Self::release) or the proxy stops.
    pub fn stall_when(&self, f: impl Fn(&str, &str) -> bool + Send + 'static) {
        *self.shared.stall.lock().unwrap() = Some(Box::new(f));
    }

    /// Injects `fault` into the next request for which `f(method, path)` is true (once),
    /// whatever the random rates say.
    pub fn once(&self, fault: Fault, f: impl Fn(&str, &str) -> bool + Send + 'static) {
        self.shared
            .targeted
            .lock()
            .unwrap()
            .push((fault, Box::new(f)));
    }

    /// Lets the held requests go on, and holds none from now on.
    pub fn release(&self) {
        *self.shared.stall.lock().unwrap() = None;
    }

    pub fn stats(&self) -> FaultStats {
        let c = &self.shared.counters;
        FaultStats {
            requests: c.requests.load(Ordering::SeqCst),
            dropped: c.dropped.load(Ordering::SeqCst),
            e503: c.e503.load(Ordering::SeqCst),
            e500: c.e500.load(Ordering::SeqCst),
            lost_response: c.lost_response.load(Ordering::SeqCst),
            cut: c.cut.load(Ordering::SeqCst),
            forwarded: c.forwarded.load(Ordering::SeqCst),
        }
    }

    /// Every request so far, `METHOD path -> outcome`, in order of decision.
    pub fn log(&self) -> Vec<String> {
        self.shared.log.lock().unwrap().clone()
    }
}

impl Drop for FaultyProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor up.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        for (_, c) in self.shared.clients.lock().unwrap().drain() {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(conn) = conn else { continue };
        let id = shared.next_client.fetch_add(1, Ordering::SeqCst);
        if let Ok(c) = conn.try_clone() {
            shared.clients.lock().unwrap().insert(id, c);
        }
        let shared = shared.clone();
        let _ = thread::Builder::new()
            .name("faulty-conn".into())
            .spawn(move || {
                let _ = serve(conn, &shared);
                shared.clients.lock().unwrap().remove(&id);
            });
    }
}

struct Request {
    method: String,
    path: String,
    /// Header lines without their CRLF, in order.
    headers: Vec<String>,
    /// The body as received (raw chunked framing included).
    body: Vec<u8>,
}

fn header<'a>(headers: &'a [String], name: &str) -> Option<&'a str> {
    headers.iter().find_map(|h| {
        let (k, v) = h.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// One line up to LF (LF included); `None` at EOF before any byte.
fn read_line(r: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    if r.read_until(b'\n', &mut line)? == 0 {
        return Ok(None);
    }
    if !line.ends_with(b"\n") {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "cut line"));
    }
    Ok(Some(line))
}

/// The next request of a connection; `None` when the client closed it between requests.
fn read_request(r: &mut impl BufRead, w: &mut impl Write) -> io::Result<Option<Request>> {
    let start = loop {
        match read_line(r)? {
            None => return Ok(None),
            Some(l) if l == b"\r\n" || l == b"\n" => continue, // stray CRLF between requests
            Some(l) => break l,
        }
    };
    let start = String::from_utf8_lossy(&start).trim_end().to_string();
    let mut parts = start.split(' ');
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let l = read_line(r)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "cut head"))?;
        let l = String::from_utf8_lossy(&l).trim_end().to_string();
        if l.is_empty() {
            break;
        }
        headers.push(l);
    }
    // A client that waits for `100 Continue` gets it from us (moto never sees the Expect).
    if header(&headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        w.flush()?;
        headers.retain(|h| {
            !h.split(':')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("expect")
        });
    }
    let mut body = Vec::new();
    let chunked = header(&headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        // Keep the framing as is: it is forwarded unchanged.
        loop {
            let size_line = read_line(r)?
                .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "cut chunk"))?;
            body.extend_from_slice(&size_line);
            let text = String::from_utf8_lossy(&size_line);
            let hex = text.trim().split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(hex, 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if size == 0 {
                // Trailers, up to an empty line.
                loop {
                    let t = read_line(r)?.ok_or_else(|| {
                        io::Error::new(io::ErrorKind::UnexpectedEof, "cut trailers")
                    })?;
                    body.extend_from_slice(&t);
                    if t == b"\r\n" || t == b"\n" {
                        break;
                    }
                }
                break;
            }
            let at = body.len();
            body.resize(at + size + 2, 0); // the data and its CRLF
            r.read_exact(&mut body[at..])?;
        }
    } else if let Some(n) = header(&headers, "content-length") {
        let n: usize = n
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad Content-Length"))?;
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    }
    Ok(Some(Request {
        method,
        path,
        headers,
        body,
    }))
}

/// Whether the client closed its end (EOF pending on the socket).
fn client_gone(s: &TcpStream) -> bool {
    if s.set_nonblocking(true).is_err() {
        return true;
    }
    let gone = match s.peek(&mut [0u8; 1]) {
        Ok(n) => n == 0,
        Err(e) => e.kind() != io::ErrorKind::WouldBlock,
    };
    let _ = s.set_nonblocking(false);
    gone
}

fn error_response(status: &str, code: &str, message: &str) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>faulty-proxy</RequestId></Error>"
    );
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn serve(client: TcpStream, shared: &Shared) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(256 << 10, client.try_clone()?);
    let mut out = client;
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        let Some(req) = read_request(&mut reader, &mut out)? else {
            return Ok(());
        };
        if shared.stalled(&req.method, &req.path) {
            shared.note(&req.method, &req.path, "held back");
            while shared.stalled(&req.method, &req.path) {
                thread::sleep(Duration::from_millis(20));
            }
            if client_gone(&out) {
                // Its sender died meanwhile (a killed zrm): the request goes nowhere.
                shared.note(&req.method, &req.path, "client gone while held back");
                return Ok(());
            }
        }
        let c = &shared.counters;
        let fate = if req.path.starts_with("/moto-api") {
            Fate::Forward
        } else {
            c.requests.fetch_add(1, Ordering::SeqCst);
            shared.fate(&req.method, &req.path)
        };
        match fate {
            Fate::Drop => {
                c.dropped.fetch_add(1, Ordering::SeqCst);
                shared.note(&req.method, &req.path, "dropped");
                let _ = out.shutdown(Shutdown::Both);
                return Ok(());
            }
            Fate::E503 => {
                c.e503.fetch_add(1, Ordering::SeqCst);
                shared.note(&req.method, &req.path, "503");
                out.write_all(&error_response(
                    "503 Service Unavailable",
                    "SlowDown",
                    "Please reduce your request rate.",
                ))?;
            }
            Fate::E500 => {
                c.e500.fetch_add(1, Ordering::SeqCst);
                shared.note(&req.method, &req.path, "500");
                out.write_all(&error_response(
                    "500 Internal Server Error",
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                ))?;
            }
            Fate::LoseResponse => {
                let resp = forward(shared.upstream, &req);
                c.lost_response.fetch_add(1, Ordering::SeqCst);
                let status = resp.as_ref().map(|r| r.status).unwrap_or(0);
                shared.note(
                    &req.method,
                    &req.path,
                    &format!("forwarded ({status}), response lost"),
                );
                let _ = out.shutdown(Shutdown::Both);
                return Ok(());
            }
            Fate::Forward => {
                let resp = match forward(shared.upstream, &req) {
                    Ok(r) => r,
                    Err(e) => {
                        // moto itself failed us: the client sees a broken connection.
                        shared.note(&req.method, &req.path, &format!("upstream error: {e}"));
                        let _ = out.shutdown(Shutdown::Both);
                        return Ok(());
                    }
                };
                let faultable = !req.path.starts_with("/moto-api");
                let f = *shared.faults.lock().unwrap();
                if faultable
                    && req.method == "GET"
                    && matches!(resp.status, 200 | 206)
                    && resp.body.len() >= f.cut_min_body.max(2)
                    && f.cut_body > 0.0
                    && shared.roll() < f.cut_body
                {
                    c.cut.fetch_add(1, Ordering::SeqCst);
                    shared.note(
                        &req.method,
                        &req.path,
                        &format!(
                            "{} cut at {}/{}",
                            resp.status,
                            resp.body.len() / 2,
                            resp.body.len()
                        ),
                    );
                    out.write_all(&resp.head)?;
                    out.write_all(&resp.body[..resp.body.len() / 2])?;
                    out.flush()?;
                    // FIN after the half body: the client reads it, then a premature EOF.
                    let _ = out.shutdown(Shutdown::Both);
                    return Ok(());
                }
                if faultable {
                    c.forwarded.fetch_add(1, Ordering::SeqCst);
                }
                shared.note(&req.method, &req.path, &resp.status.to_string());
                out.write_all(&resp.head)?;
                out.write_all(&resp.body)?;
                out.flush()?;
            }
        }
    }
}

/// moto 5.2.0 and 5.2.1 answer CompleteMultipartUpload with the root element
/// `CompleteMultipartUploadResponse` (getmoto/moto#10055, a regression of 5.2's serializer)
/// where S3 sends `CompleteMultipartUploadResult`: boto3 does not mind, but the Rust SDK
/// refuses the answer ("invalid XML root"), and so every multipart upload would fail. Put the
/// S3 name back (nothing changes with a fixed moto).
fn fix_complete_multipart_root(body: Vec<u8>) -> Vec<u8> {
    const WRONG: &str = "CompleteMultipartUploadResponse";
    const RIGHT: &str = "CompleteMultipartUploadResult";
    match String::from_utf8(body) {
        Ok(text) if text.contains(&format!("<{WRONG}")) => text
            .replace(&format!("<{WRONG}"), &format!("<{RIGHT}"))
            .replace(&format!("</{WRONG}>"), &format!("</{RIGHT}>"))
            .into_bytes(),
        Ok(text) => text.into_bytes(),
        Err(e) => e.into_bytes(),
    }
}

struct Response {
    status: u16,
    /// The head to send to the client, framed for keep-alive, blank line included.
    head: Vec<u8>,
    body: Vec<u8>,
}

/// Sends `req` to moto on a new connection (`Connection: close`) and reads the whole answer.
fn forward(upstream: u16, req: &Request) -> io::Result<Response> {
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    up.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.path);
    for h in &req.headers {
        let name = h.split(':').next().unwrap_or("").trim();
        if name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("keep-alive") {
            continue;
        }
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    up.write_all(head.as_bytes())?;
    up.write_all(&req.body)?;
    up.flush()?;
    let mut raw = Vec::new();
    up.read_to_end(&mut raw)?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no response head"))?;
    let head_text = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut lines = head_text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
    let headers: Vec<String> = lines.map(str::to_string).collect();
    let mut body = raw[end + 4..].to_vec();
    let no_body = req.method == "HEAD" || status / 100 == 1 || status == 204 || status == 304;
    let chunked = header(&headers, "transfer-encoding").is_some();
    if req.method == "POST" && req.path.contains("uploadId=") && !chunked {
        body = fix_complete_multipart_root(body);
    }
    // The body as received from an upstream that closed after it: framed by its length for
    // the client's keep-alive connection (HEAD keeps the object's length).
    let reframe = !no_body && !chunked;
    let mut out = format!("{status_line}\r\n");
    for h in &headers {
        let name = h.split(':').next().unwrap_or("").trim();
        if name.eq_ignore_ascii_case("connection")
            || name.eq_ignore_ascii_case("keep-alive")
            || (reframe && name.eq_ignore_ascii_case("content-length"))
        {
            continue;
        }
        out.push_str(h);
        out.push_str("\r\n");
    }
    if reframe {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("Connection: keep-alive\r\n\r\n");
    Ok(Response {
        status,
        head: out.into_bytes(),
        body: if no_body { Vec::new() } else { body },
    })
}
