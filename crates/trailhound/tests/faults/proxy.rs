//! The fault-injection proxy itself (`support/faults.rs`), driven by a raw client: chunked
//! and plain requests on one kept-alive connection, an injected error between them.

use crate::support::faults::{Fault, Proxy, Rule};

/// Reads one response (head and `Content-Length` body) from a raw socket: status, body.
async fn raw_response(sock: &mut tokio::net::TcpStream) -> (u16, String) {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(sock.read(&mut byte).await.unwrap(), 1, "closed mid-head");
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("a content-length");
    let mut body = vec![0u8; len];
    sock.read_exact(&mut body).await.unwrap();
    (
        head[9..12].parse().unwrap(),
        String::from_utf8(body).unwrap(),
    )
}

/// The SDK sends no chunked request bodies here (see the count the S3 test prints): a raw
/// client checks that the proxy de-chunks them, and serves several requests (forwarded,
/// faulted, forwarded) on one kept-alive connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_relays_chunked_bodies_on_kept_alive_connections() {
    use tokio::io::AsyncWriteExt;
    let proxy = Proxy::start().await;
    let throttled = proxy.add(
        Rule::new(Fault::sns_throttling())
            .action("ListTopics")
            .skip(1)
            .first(1),
    );
    let addr = proxy.url().trim_start_matches("http://");
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = "POST / HTTP/1.1\r\nhost: sns.us-east-1.amazonaws.com\r\ncontent-type: application/x-www-form-urlencoded\r\nauthorization: AWS4-HMAC-SHA256 Credential=testing/20261001/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0\r\n";
    let body = "Action=ListTopics&Version=2010-03-31";
    let (a, b) = body.split_at(7);
    let chunked = format!(
        "{head}transfer-encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x};ext=1\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    let plain = format!("{head}content-length: {}\r\n\r\n{body}", body.len());
    let mut got = Vec::new();
    for req in [&chunked, &plain, &chunked] {
        sock.write_all(req.as_bytes()).await.unwrap();
        got.push(raw_response(&mut sock).await);
    }
    let statuses: Vec<u16> = got.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [200, 400, 200], "{got:?}");
    assert!(got[0].1.contains("ListTopicsResponse"), "{}", got[0].1);
    assert!(got[1].1.contains("<Code>Throttling</Code>"), "{}", got[1].1);
    assert_eq!(throttled.injected(), 1);
    assert_eq!(proxy.connections(), 1);
    let chunks: Vec<bool> = proxy.seen().iter().map(|s| s.chunked).collect();
    assert_eq!(chunks, [true, false, true]);
    assert_eq!(proxy.count("ListTopics"), 3);
}
