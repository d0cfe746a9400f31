//! HTTP/1.1 framing for the fault-injection proxy: request and response heads, bodies by
//! `Content-Length` or chunked transfer encoding, and forwarding one request to moto.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub(super) type Headers = Vec<(String, String)>;

pub(super) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let mut h = headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name));
    h.next().map(|(_, v)| v.as_str())
}

/// Headers the proxy sets itself (framing and routing).
pub(super) fn framing(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "host",
        "connection",
        "transfer-encoding",
        "content-length",
        "expect",
    ]
    .contains(&n.as_str())
}

pub(super) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Decodes a chunked body starting at `buf[at..]`: `Ok(None)` while incomplete, else the
/// body and the index after it (trailers skipped).
pub(super) fn dechunk(buf: &[u8], mut at: usize) -> Result<Option<(Vec<u8>, usize)>, String> {
    let mut body = Vec::new();
    loop {
        let Some(eol) = find(&buf[at..], b"\r\n") else {
            return Ok(None);
        };
        let line = String::from_utf8_lossy(&buf[at..at + eol]).to_string();
        let hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(hex, 16).map_err(|e| format!("chunk {line:?}: {e}"))?;
        at += eol + 2;
        if size == 0 {
            // Trailers, up to an empty line.
            while let Some(eol) = find(&buf[at..], b"\r\n") {
                at += eol + 2;
                if eol == 0 {
                    return Ok(Some((body, at)));
                }
            }
            return Ok(None);
        }
        if buf.len() < at + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[at..at + size]);
        at += size + 2;
    }
}

/// A request or a response: start line, headers, body (de-chunked).
pub(super) struct Msg {
    pub(super) start: String,
    pub(super) headers: Headers,
    pub(super) body: Vec<u8>,
    pub(super) chunked: bool,
}

impl Msg {
    /// Parses a message from `buf`, reading more from `sock` as needed (without a socket,
    /// `buf` is all there is: a body without a length runs to its end). Consumes it from
    /// `buf`; `None` at EOF or when malformed.
    pub(super) async fn read(
        mut sock: Option<&mut TcpStream>,
        buf: &mut Vec<u8>,
        head: bool,
    ) -> Option<Msg> {
        let more = async |sock: &mut Option<&mut TcpStream>, buf: &mut Vec<u8>| {
            let mut chunk = [0u8; 16 * 1024];
            match sock.as_mut()?.read(&mut chunk).await {
                Ok(0) | Err(_) => None,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    Some(())
                }
            }
        };
        let end = loop {
            match find(buf, b"\r\n\r\n") {
                Some(i) => break i + 4,
                None => more(&mut sock, buf).await?,
            }
        };
        let text = String::from_utf8_lossy(&buf[..end - 4]).to_string();
        let mut lines = text.split("\r\n");
        let start = lines.next()?.to_string();
        let field = |l: &str| {
            l.split_once(':')
                .map(|(n, v)| (n.trim().into(), v.trim().into()))
        };
        let headers: Headers = lines.filter_map(field).collect();
        if header(&headers, "expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
            let s = sock.as_mut()?;
            s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await.ok()?;
        }
        let te = header(&headers, "transfer-encoding").unwrap_or("");
        let chunked = te.to_ascii_lowercase().contains("chunked");
        let length = header(&headers, "content-length").and_then(|l| l.parse::<usize>().ok());
        let (body, used) = if head {
            (Vec::new(), end)
        } else if chunked {
            loop {
                match dechunk(buf, end).ok()? {
                    Some(done) => break done,
                    None => more(&mut sock, buf).await?,
                }
            }
        } else {
            let len = match (length, &sock) {
                (Some(n), _) => n,
                (None, Some(_)) => 0,
                (None, None) => buf.len() - end,
            };
            while buf.len() < end + len {
                more(&mut sock, buf).await?;
            }
            (buf[end..end + len].to_vec(), end + len)
        };
        buf.drain(..used);
        Some(Msg {
            start,
            headers,
            body,
            chunked,
        })
    }

    pub(super) fn word(&self, i: usize) -> &str {
        self.start.split(' ').nth(i).unwrap_or("")
    }

    pub(super) fn action(&self) -> Option<&str> {
        let body = std::str::from_utf8(&self.body).ok()?;
        body.split('&').find_map(|kv| kv.strip_prefix("Action="))
    }

    pub(super) fn op(&self) -> String {
        match header(&self.headers, "x-amz-target") {
            Some(t) => t.rsplit('.').next().unwrap_or(t).to_string(),
            None => self.action().unwrap_or_default().to_string(),
        }
    }

    pub(super) fn keep_alive(&self) -> bool {
        let close = header(&self.headers, "connection") == Some("close");
        !close && self.word(2) != "HTTP/1.0"
    }

    /// The bytes to send: the framing headers replaced (`length` instead of the body's when
    /// given, for the answer to a `HEAD`), the body unless `head`.
    pub(super) fn bytes(&self, extra: &str, length: Option<&str>, head: bool) -> Vec<u8> {
        let mut out = format!("{}\r\n", self.start);
        for (n, v) in self.headers.iter().filter(|(n, _)| !framing(n)) {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        let len = length.map_or(self.body.len().to_string(), str::to_string);
        out.push_str(&format!("content-length: {len}\r\n{extra}\r\n"));
        let mut out = out.into_bytes();
        if !head {
            out.extend_from_slice(&self.body);
        }
        out
    }

    /// A response to `req` for the client.
    pub(super) fn answer(&self, req: &Msg, keep_alive: bool) -> Vec<u8> {
        let head = req.word(0) == "HEAD";
        let close = if keep_alive {
            ""
        } else {
            "connection: close\r\n"
        };
        self.bytes(
            close,
            head.then(|| header(&self.headers, "content-length"))
                .flatten(),
            head,
        )
    }

    pub(super) fn status(status: u16, content_type: &str, body: Vec<u8>) -> Msg {
        let headers = vec![
            ("content-type".into(), content_type.into()),
            ("x-amzn-requestid".into(), "fault-0000".into()),
        ];
        let start = format!("HTTP/1.1 {status} Fault");
        let chunked = false;
        Msg {
            start,
            headers,
            body,
            chunked,
        }
    }
}

/// Sends `req` to moto on a new connection (`Connection: close`) and reads the whole
/// response; a 502 response when that fails.
pub(super) async fn forward(req: &Msg, upstream: &str) -> Msg {
    let exchange = async {
        let mut up = TcpStream::connect(upstream).await.ok()?;
        let extra = format!("host: {upstream}\r\nconnection: close\r\n");
        up.write_all(&req.bytes(&extra, None, false)).await.ok()?;
        let mut buf = Vec::new();
        up.read_to_end(&mut buf).await.ok()?;
        Msg::read(None, &mut buf, req.word(0) == "HEAD").await
    };
    match exchange.await {
        Some(r) => r,
        None => Msg::status(
            502,
            "text/plain",
            b"fault proxy: moto did not answer".to_vec(),
        ),
    }
}
