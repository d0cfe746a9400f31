//! Decode: turns an object's bytes into normalized activities, record by record.
//!
//! CloudTrail files are split element by element out of the `"Records"` array as they stream
//! in; invocation logs and other JSON Lines are read line by line. A bad record is counted
//! and skipped; an object that cannot be read as a whole yields an [`ObjectError`] and none
//! of its records (so a redelivery neither loses nor double-counts them).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read;

use super::normalize;
use super::{Activity, Normalizer};
use crate::ingest::{ObjectError, ObjectKind, ObjectRef, SkipReason, inflate};
use crate::record::split::{self, Piece, Splitter};
use crate::record::{BadRecord, Limits};

/// Counts from decoding one object.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// What the object turned out to be (content decides when the key did not).
    pub kind: Option<ObjectKind>,
    pub records: u64,
    pub bad: BTreeMap<BadRecord, u64>,
    /// Values tolerated but odd (leading-zero IPs, malformed regions), by field.
    pub odd: BTreeMap<&'static str, u64>,
    pub inflated_bytes: u64,
    pub newest_event: Option<i64>,
}

impl Decoded {
    pub fn bad_total(&self) -> u64 {
        self.bad.values().sum()
    }

    pub fn skipped(&self) -> Option<SkipReason> {
        match self.kind {
            Some(ObjectKind::Skipped(r)) => Some(r),
            _ => None,
        }
    }
}

/// Decoding context for one object.
pub(crate) struct DecodeCtx<'a, 'g> {
    pub object: &'a ObjectRef,
    pub norm: &'a mut Normalizer<'g>,
    pub out: &'a mut Vec<Activity>,
    pub stats: Decoded,
    seen: u64,
}

impl DecodeCtx<'_, '_> {
    pub(crate) fn bad(&mut self, why: BadRecord, detail: &str) {
        *self.stats.bad.entry(why).or_default() += 1;
        let n = self.stats.bad_total();
        if n <= 3 {
            tracing::warn!(object = %self.object, record = self.seen, reason = why.as_str(), detail, "skipped a bad record");
        } else if n == 4 {
            tracing::warn!(object = %self.object, "more bad records in this object; counting them silently");
        }
    }

    pub(crate) fn odd(&mut self, field: &'static str) {
        *self.stats.odd.entry(field).or_default() += 1;
    }

    pub(crate) fn push(&mut self, a: Activity) {
        self.stats.records += 1;
        self.stats.newest_event = Some(self.stats.newest_event.map_or(a.time, |t| t.max(a.time)));
        self.out.push(a);
    }
}

/// Decodes one object from `raw` (compressed or not) and appends its activities to `out`.
/// On error nothing of the object is left in `out`.
pub fn decode_object<R: Read>(
    object: &ObjectRef,
    kind: ObjectKind,
    raw: R,
    limits: &Limits,
    norm: &mut Normalizer<'_>,
    out: &mut Vec<Activity>,
) -> Result<Decoded, ObjectError> {
    let start = out.len();
    let mut ctx = DecodeCtx {
        object,
        norm,
        out,
        stats: Decoded::default(),
        seen: 0,
    };
    let result = run(&mut ctx, kind, raw, limits);
    match result {
        Ok(()) => Ok(ctx.stats),
        Err(e) => {
            ctx.out.truncate(start);
            Err(e)
        }
    }
}

fn run<R: Read>(
    ctx: &mut DecodeCtx<'_, '_>,
    kind: ObjectKind,
    raw: R,
    limits: &Limits,
) -> Result<(), ObjectError> {
    let object = ctx.object;
    let io_err = |gzip: bool, e: std::io::Error| {
        if let Some(cap) = inflate::is_cap(&e) {
            ObjectError::TooLarge {
                object: object.clone(),
                cap,
            }
        } else if gzip {
            ObjectError::Inflate {
                object: object.clone(),
                source: e,
            }
        } else {
            ObjectError::Read {
                object: object.clone(),
                source: e,
            }
        }
    };
    let inflated = inflate::open(raw, limits.max_object_bytes).map_err(|e| io_err(false, e))?;
    let gzip = inflated.gzip;
    let mut s = Splitter::new(inflated, limits.max_record_bytes);
    let head = s.head(4096).map_err(|e| io_err(gzip, e))?.to_vec();
    let resolved = match sniff(&head, kind) {
        Ok(k) => k,
        Err(reason) => {
            return Err(ObjectError::NotJson {
                object: object.clone(),
                reason,
            });
        }
    };
    ctx.stats.kind = Some(resolved.0);
    match resolved.1 {
        Layout::Skip => {}
        Layout::Document => document(ctx, &mut s, resolved.0).map_err(|e| match e {
            DocError::Io(e) => io_err(gzip, e),
            DocError::Schema(reason) => ObjectError::Schema {
                object: object.clone(),
                reason,
            },
        })?,
        Layout::Array => {
            s.expect(b'[').map_err(|e| io_err(gzip, e))?;
            elements(ctx, &mut s, resolved.0).map_err(|e| io_err(gzip, e))?;
        }
        Layout::Stream => loop {
            match s.stream_value().map_err(|e| io_err(gzip, e))? {
                None => break,
                Some(p) => record(ctx, p, resolved.0, Cut::Value),
            }
        },
        Layout::Lines => loop {
            match s.line().map_err(|e| io_err(gzip, e))? {
                None => break,
                Some(Piece::Record(b)) if b.iter().all(u8::is_ascii_whitespace) => {}
                Some(p) => record(ctx, p, resolved.0, Cut::Line),
            }
        },
    }
    ctx.stats.inflated_bytes = s.offset();
    Ok(())
}

enum Layout {
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
fn sniff(head: &[u8], kind: ObjectKind) -> Result<(ObjectKind, Layout), String> {
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

enum DocError {
    Io(std::io::Error),
    Schema(String),
}

impl From<std::io::Error> for DocError {
    fn from(e: std::io::Error) -> Self {
        DocError::Io(e)
    }
}

/// `{"Records":[...], ...}`: walks top-level keys, splits the array's elements.
fn document<R: Read>(
    ctx: &mut DecodeCtx<'_, '_>,
    s: &mut Splitter<R>,
    kind: ObjectKind,
) -> Result<(), DocError> {
    s.expect(b'{')?;
    let mut found = false;
    loop {
        if s.expect(b'}')? {
            break;
        }
        let key = s
            .key()?
            .ok_or_else(|| DocError::Schema(format!("expected a key at byte {}", s.offset())))?;
        if !s.expect(b':')? {
            return Err(DocError::Schema(format!(
                "expected ':' after \"{key}\" at byte {}",
                s.offset()
            )));
        }
        if key == "Records" {
            if !s.expect(b'[')? {
                return Err(DocError::Schema("\"Records\" is not an array".into()));
            }
            found = true;
            elements(ctx, s, kind)?;
        } else {
            s.value()?;
        }
        if !s.expect(b',')? {
            if s.expect(b'}')? {
                break;
            }
            return Err(DocError::Schema(format!(
                "the document is truncated or malformed at byte {}",
                s.offset()
            )));
        }
    }
    if !found {
        return Err(DocError::Schema("no \"Records\" array".into()));
    }
    Ok(())
}

/// Array elements up to the closing `]` (whose absence means truncation).
fn elements<R: Read>(
    ctx: &mut DecodeCtx<'_, '_>,
    s: &mut Splitter<R>,
    kind: ObjectKind,
) -> std::io::Result<()> {
    if s.expect(b']')? {
        return Ok(());
    }
    loop {
        match s.value()? {
            None => return Err(truncated()),
            Some(p) => record(ctx, p, kind, Cut::Element),
        }
        if s.expect(b',')? {
            continue;
        }
        if s.expect(b']')? {
            return Ok(());
        }
        return Err(truncated());
    }
}

fn truncated() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        "the JSON ends before the Records array closes",
    )
}

/// How a record's bytes were cut out of the object, and so what is known of them.
#[derive(Clone, Copy)]
enum Cut {
    /// An element of an array (`Records`, or a top-level array): the splitter checked its
    /// nesting; the object's kind says which record type it is.
    Element,
    /// A value of a stream of concatenated values: the splitter checked its nesting; its own
    /// top-level keys say which record type it is.
    Value,
    /// A line of JSON Lines: nothing checked yet; its own top-level keys say which type.
    Line,
}

/// One record's bytes: check, parse, validate, normalize, push.
fn record(ctx: &mut DecodeCtx<'_, '_>, piece: Piece<'_>, kind: ObjectKind, cut: Cut) {
    ctx.seen += 1;
    let too_deep = |ctx: &mut DecodeCtx<'_, '_>, n: u64| {
        ctx.bad(
            BadRecord::WrongSchema,
            &format!(
                "nested more than {} levels deep ({n} bytes)",
                split::MAX_DEPTH
            ),
        )
    };
    match piece {
        Piece::Oversized(n) => ctx.bad(BadRecord::Oversized, &format!("{n} bytes")),
        Piece::TooDeep(n) => too_deep(ctx, n),
        Piece::Record(bytes) => {
            let invocation = match cut {
                Cut::Element => kind == ObjectKind::Invocation,
                Cut::Value => split::has_top_level_key(bytes, "schemaType"),
                Cut::Line => {
                    // One pass for both: the nesting check and the top-level keys.
                    let mut schema_type = false;
                    let shape = split::outline(bytes, split::MAX_DEPTH, |k| {
                        schema_type |= split::key_is(k, "schemaType")
                    });
                    if shape.is_err() {
                        return too_deep(ctx, bytes.len() as u64);
                    }
                    schema_type
                }
            };
            normalize::record(ctx, bytes, invocation)
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
