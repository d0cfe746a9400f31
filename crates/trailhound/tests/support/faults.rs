//! Fault injection between the AWS SDK clients and moto: a small HTTP/1.1 proxy on
//! 127.0.0.1 (tokio only) that forwards each request to moto and, per a rule set, answers
//! some of them with a fault instead.
//!
//! - Requests are parsed minimally: the head up to `\r\n\r\n`, then the body by
//!   `Content-Length` or `Transfer-Encoding: chunked` (de-chunked before forwarding; S3's
//!   `aws-chunked` content encoding carries a `Content-Length` and passes through as is).
//!   `Expect: 100-continue` is answered by the proxy.
//! - Client connections are kept alive (requests are read in a loop on one socket); toward
//!   moto every request gets its own connection with `Connection: close`, and the response
//!   is re-framed with a `Content-Length` for the client.
//! - A [`Rule`] matches on method, path substring, a header (`x-amz-target` for DynamoDB)
//!   and/or the form body's `Action=` (SNS's query protocol), and fires for the first N
//!   requests that reach it (after skipping some), every k-th, or always. Rules are tried in
//!   order; each counts the requests that reached it (no earlier rule fired), the faults it
//!   injected, and how they went, in shared counters ([`Hits`]) the test reads.
//! - [`Fault`]s: an error response (S3 `SlowDown` / `InternalError` XML, DynamoDB JSON
//!   throttling errors, SNS query-protocol `Throttling` XML, or any status and body), a
//!   connection reset without forwarding, a reset after forwarding (the response is lost),
//!   a truncated response body, a delay before forwarding or before answering (for a time,
//!   or until the test opens a [`Gate`]), and a stall (never forwarded, never answered).

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod http;
use http::*;

/// What a firing rule does with the request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status, content type and body (never forwarded).
    Respond(u16, &'static str, String),
    /// Reset the client connection once the request is read (never forwarded).
    Reset,
    /// Forward, then reset the client connection: the effect happened, the answer is lost.
    ResetAfterForward,
    /// Forward, then send the response head and half of its body, then close.
    Truncate,
    /// Wait, then forward and answer (forwarded even if the client is gone by then).
    DelayRequest(Wait),
    /// Forward at once, wait, then answer (the effect happens before the client sees it).
    DelayResponse(Wait),
    /// Never forward, never answer: hold the connection until the client closes it.
    Stall,
}

/// How long a delayed request or response waits.
#[derive(Debug, Clone)]
pub enum Wait {
    For(Duration),
    /// Until the test opens the gate.
    Gate(Gate),
}

/// Holds delayed requests or responses until the test opens it.
#[derive(Debug, Clone)]
pub struct Gate(Arc<tokio::sync::Semaphore>);

impl Default for Gate {
    fn default() -> Gate {
        Gate(Arc::new(tokio::sync::Semaphore::new(0)))
    }
}

impl Gate {
    /// Lets everything held (and everything after) through.
    pub fn open(&self) {
        self.0.close();
    }
}

impl Wait {
    async fn wait(&self) {
        match self {
            Wait::For(d) => tokio::time::sleep(*d).await,
            Wait::Gate(g) => drop(g.0.acquire().await),
        }
    }
}

fn s3_error(status: u16, code: &str, message: &str) -> Fault {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>FAULT0000</RequestId><HostId>fault-injection</HostId></Error>"
    );
    Fault::status(status, "application/xml", body)
}

fn dynamo_error(status: u16, kind: &str, message: &str) -> Fault {
    let kind = format!("com.amazonaws.dynamodb.v20120810#{kind}");
    let body = json!({"__type": kind, "message": message}).to_string();
    Fault::status(status, "application/x-amz-json-1.0", body)
}

impl Fault {
    /// Any status with a body.
    pub fn status(status: u16, content_type: &'static str, body: impl Into<String>) -> Fault {
        Fault::Respond(status, content_type, body.into())
    }

    /// S3 `503 SlowDown`.
    pub fn s3_slow_down() -> Fault {
        s3_error(503, "SlowDown", "Please reduce your request rate.")
    }

    /// S3 `500 InternalError`.
    pub fn s3_internal_error() -> Fault {
        s3_error(500, "InternalError", "We encountered an internal error.")
    }

    /// DynamoDB `400 ThrottlingException`.
    pub fn dynamo_throttling() -> Fault {
        dynamo_error(
            400,
            "ThrottlingException",
            "Rate of requests exceeds the allowed throughput.",
        )
    }

    /// DynamoDB `400 ProvisionedThroughputExceededException`.
    pub fn dynamo_throughput_exceeded() -> Fault {
        let m = "The level of configured provisioned throughput for the table was exceeded.";
        dynamo_error(400, "ProvisionedThroughputExceededException", m)
    }

    /// DynamoDB `500 InternalServerError`.
    pub fn dynamo_internal_error() -> Fault {
        dynamo_error(500, "InternalServerError", "Internal server error")
    }

    /// DynamoDB `400 TransactionCanceledException` with a `ThrottlingError` reason (what a
    /// throttled item of `TransactWriteItems` gives; the SDK does not retry it).
    pub fn dynamo_transaction_throttled() -> Fault {
        let body = json!({
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons [ThrottlingError]",
            "CancellationReasons": [{"Code": "ThrottlingError", "Message": "Throughput exceeds the current capacity of your table or index."}],
        });
        Fault::status(400, "application/x-amz-json-1.0", body.to_string())
    }

    /// An SNS (query protocol) error response.
    pub fn sns_error(status: u16, kind: &str, code: &str, message: &str) -> Fault {
        let body = format!(
            "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-0000</RequestId></ErrorResponse>"
        );
        Fault::status(status, "text/xml", body)
    }

    /// SNS `400 Throttling`.
    pub fn sns_throttling() -> Fault {
        Fault::sns_error(400, "Sender", "Throttling", "Rate exceeded")
    }

    /// SNS `500 InternalFailure`.
    pub fn sns_internal_error() -> Fault {
        Fault::sns_error(500, "Receiver", "InternalFailure", "An unknown error.")
    }
}

/// Counters shared between a rule in the proxy and the test.
#[derive(Debug, Clone, Default)]
pub struct Hits {
    /// Requests that matched the rule (and no earlier rule fired on).
    pub reached: Arc<AtomicUsize>,
    pub injected: Arc<AtomicUsize>,
    pub forwarded: Arc<AtomicUsize>,
    pub done: Arc<AtomicUsize>,
}

impl Hits {
    /// Faults the rule injected.
    pub fn injected(&self) -> usize {
        self.injected.load(SeqCst)
    }

    /// Injected faults whose request moto answered (delayed, reset after forwarding, ...).
    pub fn forwarded(&self) -> usize {
        self.forwarded.load(SeqCst)
    }

    /// Injected faults whose handling is over (a delayed request forwarded and answered).
    pub fn done(&self) -> usize {
        self.done.load(SeqCst)
    }
}

/// A matcher, a firing pattern and a fault.
#[derive(Debug, Clone)]
pub struct Rule {
    method: Option<String>,
    path: Option<String>,
    header: Option<(String, String)>,
    action: Option<String>,
    skip: usize,
    /// Fires on the n-th request after the skipped ones when `first` allows and `n % every`.
    first: usize,
    every: usize,
    fault: Fault,
    hits: Hits,
}

impl Rule {
    /// A rule firing on every request (narrow it with the matchers and the pattern).
    pub fn new(fault: Fault) -> Rule {
        let (method, path, header, action) = (None, None, None, None);
        let (skip, first, every, hits) = (0, usize::MAX, 1, Hits::default());
        #[rustfmt::skip]
        let rule = Rule { method, path, header, action, skip, first, every, fault, hits };
        rule
    }

    pub fn method(self, m: &str) -> Rule {
        let method = Some(m.to_ascii_uppercase());
        Rule { method, ..self }
    }

    /// The request target (path and query) contains `s`.
    pub fn path(self, s: &str) -> Rule {
        let path = Some(s.to_string());
        Rule { path, ..self }
    }

    /// Header `name` contains `value`.
    pub fn header(self, name: &str, value: &str) -> Rule {
        let header = Some((name.to_ascii_lowercase(), value.to_string()));
        Rule { header, ..self }
    }

    /// A DynamoDB operation: `x-amz-target` ends with `.<op>`.
    pub fn target(self, op: &str) -> Rule {
        self.header("x-amz-target", &format!(".{op}"))
    }

    /// A query-protocol operation (SNS): the form body has `Action=<action>`.
    pub fn action(self, action: &str) -> Rule {
        let action = Some(action.to_string());
        Rule { action, ..self }
    }

    /// Lets the first `n` requests reaching the rule through before the pattern applies.
    pub fn skip(self, skip: usize) -> Rule {
        Rule { skip, ..self }
    }

    /// Fires on the first `n` requests (after the skipped ones).
    pub fn first(self, first: usize) -> Rule {
        Rule { first, ..self }
    }

    /// Fires on every `k`-th request (the k-th, the 2k-th, ...).
    pub fn every(self, every: usize) -> Rule {
        assert!(every > 0);
        Rule { every, ..self }
    }

    fn matches(&self, r: &Msg) -> bool {
        let header =
            |(n, v): &(String, String)| header(&r.headers, n).is_some_and(|h| h.contains(v));
        self.method.as_ref().is_none_or(|m| m == r.word(0))
            && self
                .path
                .as_ref()
                .is_none_or(|p| r.word(1).contains(p.as_str()))
            && self.header.as_ref().is_none_or(header)
            && self.action.as_ref().is_none_or(|a| r.action() == Some(a))
    }

    /// Counts a request reaching the rule; true when the fault fires on it.
    fn fires(&self) -> bool {
        let n = self.hits.reached.fetch_add(1, SeqCst) + 1;
        let n = n.saturating_sub(self.skip);
        let fire = n > 0 && n <= self.first && n.is_multiple_of(self.every);
        if fire {
            self.hits.injected.fetch_add(1, SeqCst);
        }
        fire
    }
}

/// One request the proxy saw: method, target, operation (DynamoDB target or SNS action),
/// whether its body came chunked, and the fault injected, if any.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub op: String,
    pub chunked: bool,
    pub fault: Option<String>,
}

struct State {
    upstream: String,
    rules: Mutex<Vec<Rule>>,
    seen: Mutex<Vec<Seen>>,
    connections: AtomicUsize,
}

/// The proxy; it stops accepting when dropped.
pub struct Proxy {
    url: String,
    state: Arc<State>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Proxy {
    /// A proxy in front of the test binary's moto server.
    pub async fn start() -> Proxy {
        let upstream = super::moto::endpoint().trim_start_matches("http://");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(State {
            upstream: upstream.to_string(),
            rules: Mutex::default(),
            seen: Mutex::default(),
            connections: AtomicUsize::new(0),
        });
        let st = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                st.connections.fetch_add(1, SeqCst);
                let _ = sock.set_nodelay(true);
                tokio::spawn(serve(sock, st.clone()));
            }
        });
        Proxy { url, state, accept }
    }

    /// The endpoint URL to give the SDK.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Adds a rule (after the others); returns its counters.
    pub fn add(&self, rule: Rule) -> Hits {
        let hits = rule.hits.clone();
        self.state.rules.lock().unwrap().push(rule);
        hits
    }

    /// Removes every rule: requests pass through.
    pub fn clear(&self) {
        self.state.rules.lock().unwrap().clear();
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Client connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(SeqCst)
    }

    /// Requests seen for an operation: a DynamoDB target or SNS action (`PublishBatch`), or
    /// `<METHOD> <path substring>`.
    pub fn count(&self, op: &str) -> usize {
        let seen = self.seen();
        let is = |s: &&Seen| match op.split_once(' ') {
            Some((m, p)) => s.method == m && s.target.contains(p),
            None => s.op == op,
        };
        seen.iter().filter(is).count()
    }
}

/// Serves one client connection: requests in a loop until it closes or a fault ends it.
async fn serve(mut sock: TcpStream, state: Arc<State>) {
    let mut buf = Vec::new();
    while let Some(req) = Msg::read(Some(&mut sock), &mut buf, false).await {
        let fired = {
            let rules = state.rules.lock().unwrap();
            let mut fired = rules.iter().filter(|r| r.matches(&req) && r.fires());
            fired.next().map(|r| (r.fault.clone(), r.hits.clone()))
        };
        state.seen.lock().unwrap().push(Seen {
            method: req.word(0).to_string(),
            target: req.word(1).to_string(),
            op: req.op(),
            chunked: req.chunked,
            fault: fired.as_ref().map(|(f, _)| format!("{f:?}")),
        });
        let keep = req.keep_alive();
        let upstream = state.upstream.as_str();
        let Some((fault, hits)) = fired else {
            let resp = forward(&req, upstream).await;
            if sock.write_all(&resp.answer(&req, keep)).await.is_err() || !keep {
                return;
            }
            continue;
        };
        let (request, forwarded) = (&req, &hits.forwarded);
        let forward = move || async move {
            let r = forward(request, upstream).await;
            forwarded.fetch_add(1, SeqCst);
            r
        };
        let truncated = matches!(fault, Fault::Truncate);
        // What goes back to the client: bytes (then the connection is kept if `keep`), or
        // nothing (a reset when `reset`, else a plain close).
        let (reply, reset): (Option<Vec<u8>>, bool) = match fault {
            Fault::Respond(status, content_type, body) => {
                let resp = Msg::status(status, content_type, body.into_bytes());
                (Some(resp.answer(&req, keep)), false)
            }
            Fault::Reset => (None, true),
            Fault::ResetAfterForward => {
                forward().await;
                (None, true)
            }
            Fault::Truncate => {
                let resp = forward().await;
                let mut bytes = resp.answer(&req, false);
                bytes.truncate(bytes.len() - resp.body.len() / 2);
                (Some(bytes), false)
            }
            Fault::DelayRequest(w) => {
                w.wait().await;
                (Some(forward().await.answer(&req, keep)), false)
            }
            Fault::DelayResponse(w) => {
                let resp = forward().await;
                w.wait().await;
                (Some(resp.answer(&req, keep)), false)
            }
            Fault::Stall => {
                let mut rest = [0u8; 1024];
                while matches!(sock.read(&mut rest).await, Ok(n) if n > 0) {}
                (None, false)
            }
        };
        hits.done.fetch_add(1, SeqCst);
        match reply {
            Some(bytes) if sock.write_all(&bytes).await.is_ok() && keep && !truncated => {}
            Some(_) => return,
            None => {
                if reset {
                    let _ = sock.set_zero_linger();
                }
                return;
            }
        }
    }
}
