//! Sniffing: what an object is when its key does not say, decided on the structure of its
//! first JSON value (top-level keys and their values), never on substrings an attacker can
//! write (user agents, S3 keys, model ids, prompts).

use std::borrow::Cow;

use crate::ingest::{ObjectKind, SkipReason};

pub(super) enum Layout {
    Skip,
    Document,
    Array,
    Lines,
    Stream,
}

/// Decides the layout from the first bytes. Content decides the kind, or skips the object,
/// only when the key did not say (`Unknown`): an object under a CloudTrail or invocation-log
/// key is read whatever its bytes contain, since those bytes are partly written by the callers
/// it records (user agents, S3 keys, model ids, prompts). Where content decides, it decides
/// on the structure of the first JSON value (its top-level keys and their values), never on
/// substrings.
pub(super) fn sniff(head: &[u8], kind: ObjectKind) -> Result<(ObjectKind, Layout), String> {
    if let ObjectKind::Skipped(_) = kind {
        return Ok((kind, Layout::Skip));
    }
    let Some(&first) = head.first() else {
        return Ok((ObjectKind::Skipped(SkipReason::Empty), Layout::Skip));
    };
    let top = Node::read(head);
    if kind == ObjectKind::Unknown
        && let Some(reason) = not_logs(&top)
    {
        return Ok((ObjectKind::Skipped(reason), Layout::Skip));
    }
    // `{"Records":[...]}`, or any object under a key in the CloudTrail layout (which promises one).
    let records_doc =
        matches!(&top, Node::Obj(f) if f.first().is_some_and(|(k, _)| k == "Records"));
    if records_doc || (kind == ObjectKind::CloudTrail && first == b'{') {
        return Ok((ObjectKind::CloudTrail, Layout::Document));
    }
    let resolved = match kind {
        ObjectKind::Unknown if invocation_like(&top) => ObjectKind::Invocation,
        ObjectKind::Unknown => ObjectKind::CloudTrail,
        k => k,
    };
    // JSON Lines when the first line is a whole value; else a stream of (pretty-printed) values.
    let first_line = head.split(|&b| b == b'\n').next().unwrap_or(head);
    let one_line = first_line.len() < head.len() || head.len() < 4096;
    let trimmed = first_line.trim_ascii_end();
    let lines = one_line && trimmed.len() > 1 && trimmed.ends_with(b"}");
    match first {
        b'{' if lines => Ok((resolved, Layout::Lines)),
        b'{' => Ok((resolved, Layout::Stream)),
        b'[' => Ok((resolved, Layout::Array)),
        other => Err(format!("starts with {:?}", other as char)),
    }
}

/// Why an object whose key said nothing is not logs, judged by its first JSON value's
/// structure: an S3 test event, a CloudTrail digest, trailhound's own findings, or an
/// S3/SQS/SNS/EventBridge notification.
fn not_logs(top: &Node<'_>) -> Option<SkipReason> {
    let Node::Obj(_) = top else { return None };
    if top.str("Event") == Some("s3:TestEvent") {
        return Some(SkipReason::TestEvent);
    }
    if top.get("digestStartTime").is_some() {
        return Some(SkipReason::Digest);
    }
    if top.get("schema_version").is_some() && top.get("detector").is_some() {
        return Some(SkipReason::Findings);
    }
    // SNS notification saved as is.
    let sns = top.str("Type") == Some("Notification") && top.get("Message").is_some();
    // EventBridge S3 events ("Object Created", "Object Deleted", "Object Tags Added", …); not
    // "AWS API Call via CloudTrail", which carries a CloudTrail event in `detail`.
    let eventbridge = top.str("source") == Some("aws.s3")
        && top
            .str("detail-type")
            .is_some_and(|t| t.starts_with("Object "));
    // Lambda-style batches: `{"Records":[{"eventSource":"aws:s3","s3":{…}}, …]}` and the
    // SQS and SNS equivalents.
    let batch = match top.get("Records") {
        Some(Node::Arr(items)) => items.first().is_some_and(|r| {
            (r.str("eventSource") == Some("aws:s3") && matches!(r.get("s3"), Some(Node::Obj(_))))
                || (r.str("eventSource") == Some("aws:sqs")
                    && r.get("receiptHandle").is_some()
                    && r.get("body").is_some())
                || (r.str("EventSource") == Some("aws:sns")
                    && matches!(r.get("Sns"), Some(Node::Obj(_))))
        }),
        _ => false,
    };
    (sns || eventbridge || batch).then_some(SkipReason::Envelope)
}

/// An invocation log record, bare or in an `{"event": …}` / `{"detail": …}` wrapper (or the
/// first element of an array of them).
fn invocation_like(top: &Node<'_>) -> bool {
    match top {
        Node::Arr(items) => items.first().is_some_and(invocation_like),
        Node::Obj(_) => {
            top.get("schemaType").is_some()
                || [top.get("event"), top.get("detail")]
                    .into_iter()
                    .flatten()
                    .any(|inner| inner.get("schemaType").is_some())
        }
        _ => false,
    }
}

/// The first levels of the first JSON value in an object's head, read by a small tolerant
/// parser: the head may end in the middle of the value (whatever was read is kept), arrays
/// keep their first element only, and containers below the first levels are skipped.
#[derive(Debug, PartialEq)]
enum Node<'a> {
    Str(Cow<'a, str>),
    Obj(Vec<(Cow<'a, str>, Node<'a>)>),
    Arr(Vec<Node<'a>>),
    /// A number, `true`, `false`, `null`, or something that is not JSON.
    Other,
}

/// Levels of the first value that [`Node::read`] keeps: the top, a `Records` array, its first
/// element, and that element's fields.
const SNIFF_LEVELS: usize = 3;

impl<'a> Node<'a> {
    fn read(head: &'a [u8]) -> Node<'a> {
        let mut r = NodeReader { b: head, i: 0 };
        r.value(SNIFF_LEVELS).unwrap_or(Node::Other)
    }

    fn get(&self, key: &str) -> Option<&Node<'a>> {
        match self {
            Node::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }
}

struct NodeReader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> NodeReader<'a> {
    fn peek(&mut self) -> Option<u8> {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
        self.b.get(self.i).copied()
    }

    /// One value; `None` when the input ends (or stops being JSON) before the value begins.
    /// A container cut short comes back with what it holds so far; reading stops there.
    fn value(&mut self, levels: usize) -> Option<Node<'a>> {
        match self.peek()? {
            b'"' => self.string().map(Node::Str),
            c @ (b'{' | b'[') if levels == 0 => {
                self.skip_container();
                Some(if c == b'{' {
                    Node::Obj(Vec::new())
                } else {
                    Node::Arr(Vec::new())
                })
            }
            b'{' => {
                self.i += 1;
                let mut fields = Vec::new();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Some(Node::Obj(fields));
                }
                loop {
                    if self.peek() != Some(b'"') {
                        return Some(Node::Obj(fields));
                    }
                    let Some(k) = self.string() else {
                        return Some(Node::Obj(fields));
                    };
                    if self.peek() != Some(b':') {
                        return Some(Node::Obj(fields));
                    }
                    self.i += 1;
                    let Some(v) = self.value(levels - 1) else {
                        return Some(Node::Obj(fields));
                    };
                    fields.push((k, v));
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Some(Node::Obj(fields));
                        }
                        _ => return Some(Node::Obj(fields)),
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Some(Node::Arr(items));
                }
                if let Some(v) = self.value(levels - 1) {
                    items.push(v);
                }
                // The rest is not needed: leave the reader where it is.
                Some(Node::Arr(items))
            }
            _ => {
                let end = self.b[self.i..]
                    .iter()
                    .position(|&c| matches!(c, b',' | b'}' | b']') || c.is_ascii_whitespace())
                    .map_or(self.b.len(), |n| self.i + n);
                self.i = end;
                Some(Node::Other)
            }
        }
    }

    /// A string token at `self.i`, unescaped; `None` if it is cut short or invalid.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let start = self.i;
        let (end, escaped) = self.string_end()?;
        self.i = end + 1;
        let token = &self.b[start..=end];
        if escaped {
            serde_json::from_slice::<String>(token).ok().map(Cow::Owned)
        } else {
            std::str::from_utf8(&token[1..token.len() - 1])
                .ok()
                .map(Cow::Borrowed)
        }
    }

    /// The closing quote of the string token at `self.i`, and whether it has escapes.
    fn string_end(&self) -> Option<(usize, bool)> {
        let mut j = self.i + 1;
        let mut escaped = false;
        loop {
            let off = memchr::memchr2(b'"', b'\\', self.b.get(j..)?)?;
            if self.b[j + off] == b'"' {
                return Some((j + off, escaped));
            }
            escaped = true;
            j += off + 2;
        }
    }

    /// Skips the container at `self.i` (iteratively), or to the end of the input.
    fn skip_container(&mut self) {
        let mut depth = 0usize;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'"' => {
                    self.i = self.string_end().map_or(self.b.len(), |(end, _)| end + 1);
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.i += 1;
                        return;
                    }
                }
                _ => {}
            }
            self.i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(head: &str, key: ObjectKind) -> ObjectKind {
        sniff(head.as_bytes(), key).unwrap().0
    }

    #[test]
    fn content_never_skips_an_object_under_a_log_key() {
        let lure = r#"{"Event":"s3:TestEvent","digestStartTime":"x","Type":"Notification","Message":"m","Records":[{"eventSource":"aws:s3","s3":{}}]}"#;
        assert_eq!(
            kind(lure, ObjectKind::Unknown),
            ObjectKind::Skipped(SkipReason::TestEvent)
        );
        assert_eq!(kind(lure, ObjectKind::CloudTrail), ObjectKind::CloudTrail);
        assert_eq!(kind(lure, ObjectKind::Invocation), ObjectKind::Invocation);
    }

    #[test]
    fn unknown_keys_are_judged_by_structure_not_substrings() {
        let u = ObjectKind::Unknown;
        // The strings, nested or as values of other keys, do not count.
        let ct = r#"{"eventTime":"2026-10-09T03:00:00Z","eventName":"s3:TestEvent","userAgent":"aws:s3 \"digestStartTime\" \"Type\":\"Notification\"","requestParameters":{"Event":"s3:TestEvent","digestStartTime":1,"Type":"Notification","Message":"m","detail-type":"Object Created","source":"aws.s3"}}"#;
        assert_eq!(kind(ct, u), ObjectKind::CloudTrail);
        let skip = |r| ObjectKind::Skipped(r);
        assert_eq!(
            kind(r#"{ "Type" : "Notification", "Message" : "{}" }"#, u),
            skip(SkipReason::Envelope)
        );
        assert_eq!(
            kind(r#"{"Type":"Notification","Subject":"x"}"#, u),
            ObjectKind::CloudTrail
        );
        assert_eq!(
            kind(
                r#"{"Records":[{"EventSource":"aws:sns","Sns":{"Message":"x"}}]}"#,
                u
            ),
            skip(SkipReason::Envelope)
        );
        assert_eq!(
            kind(
                r#"{"Records":[{"eventSource":"aws:sqs","receiptHandle":"h","body":"{}"}]}"#,
                u
            ),
            skip(SkipReason::Envelope)
        );
        // A CloudTrail record's eventSource is never aws:s3; a user agent saying so is not one.
        assert_eq!(
            kind(
                r#"{"Records":[{"eventSource":"s3.amazonaws.com","userAgent":"aws:s3","s3":{}}]}"#,
                u
            ),
            ObjectKind::CloudTrail
        );
        assert_eq!(
            kind(r#"{"schema_version":1,"detector":"x","id":"f"}"#, u),
            skip(SkipReason::Findings)
        );
        assert_eq!(
            kind(
                r#"{"_panther":{},"event":{"schemaType":"ModelInvocationLog"}}"#,
                u
            ),
            ObjectKind::Invocation
        );
        // Escaped keys are keys.
        assert_eq!(
            kind(r#"{"\u0045vent":"s3:Test\u0045vent"}"#, u),
            skip(SkipReason::TestEvent)
        );
    }

    #[test]
    fn the_node_reader_keeps_what_a_cut_head_holds() {
        let head =
            br#"{"Records":[{"eventSource":"aws:s3","s3":{"bucket":{"name":"b"}},"eventName":"Obj"#;
        let top = Node::read(head);
        let Some(Node::Arr(items)) = top.get("Records") else {
            panic!("{top:?}")
        };
        assert_eq!(items[0].str("eventSource"), Some("aws:s3"));
        assert_eq!(items[0].get("s3"), Some(&Node::Obj(Vec::new())));
        assert_eq!(items[0].get("eventName"), None);
        assert_eq!(not_logs(&top), Some(SkipReason::Envelope));
        for head in [
            "", "{", "[", "\"", "{\"", "{\"a\"", "{\"a\":", "{\"a\":[", "]}", "nope", "{\"a\\",
        ] {
            let _ = Node::read(head.as_bytes());
        }
        let deep = "[".repeat(1_000_000);
        assert_eq!(
            Node::read(deep.as_bytes()),
            Node::Arr(vec![Node::Arr(vec![Node::Arr(vec![Node::Arr(vec![])])])])
        );
    }
}
