//! Decode: turns an object's bytes into normalized activities, record by record.
//!
//! CloudTrail files are split element by element out of the `"Records"` array as they stream
//! in; invocation logs and other JSON Lines are read line by line. A bad record is counted
//! and skipped; an object that cannot be read as a whole yields an [`ObjectError`] and none
//! of its records (so a redelivery neither loses nor double-counts them).

use std::collections::BTreeMap;
use std::io::Read;

use super::normalize;
use super::{Activity, Normalizer};
use crate::ingest::{ObjectError, ObjectKind, ObjectRef, SkipReason, inflate};
use crate::record::split::{Piece, Splitter};
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
    pub index: u32,
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
    index: u32,
    kind: ObjectKind,
    raw: R,
    limits: &Limits,
    norm: &mut Normalizer<'_>,
    out: &mut Vec<Activity>,
) -> Result<Decoded, ObjectError> {
    let start = out.len();
    let mut ctx = DecodeCtx {
        object,
        index,
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
            match s.value().map_err(|e| io_err(gzip, e))? {
                None => break,
                Some(p) => record(ctx, p, resolved.0, true),
            }
        },
        Layout::Lines => loop {
            match s.line().map_err(|e| io_err(gzip, e))? {
                None => break,
                Some(Piece::Record(b)) if b.iter().all(u8::is_ascii_whitespace) => {}
                Some(p) => record(ctx, p, resolved.0, true),
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

/// Decides the layout from the first bytes; content overrides an `Unknown` key.
fn sniff(head: &[u8], kind: ObjectKind) -> Result<(ObjectKind, Layout), String> {
    if let ObjectKind::Skipped(_) = kind {
        return Ok((kind, Layout::Skip));
    }
    let Some(&first) = head.first() else {
        return Ok((ObjectKind::Skipped(SkipReason::Empty), Layout::Skip));
    };
    let has = |n: &[u8]| memchr::memmem::find(head, n).is_some();
    let records_doc = first == b'{' && {
        let rest = head[1..]
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .map(|i| &head[1 + i..]);
        rest.is_some_and(|r| r.starts_with(b"\"Records\""))
    };
    if first == b'{' && has(b"\"digestStartTime\"") {
        return Ok((ObjectKind::Skipped(SkipReason::Digest), Layout::Skip));
    }
    if first == b'{' && head.starts_with(b"{\"schema_version\":") && has(b"\"detector\"") {
        return Ok((ObjectKind::Skipped(SkipReason::Findings), Layout::Skip));
    }
    if first == b'{' && has(b"s3:TestEvent") {
        return Ok((ObjectKind::Skipped(SkipReason::TestEvent), Layout::Skip));
    }
    let envelope = [
        &b"\"aws:s3\""[..],
        b"\"aws:sqs\"",
        b"\"aws:sns\"",
        b"\"Type\" : \"Notification\"",
        b"\"Type\":\"Notification\"",
    ]
    .iter()
    .any(|m| has(m))
        || (has(b"\"detail-type\"") && has(b"\"aws.s3\""));
    if first == b'{' && envelope {
        return Ok((ObjectKind::Skipped(SkipReason::Envelope), Layout::Skip));
    }
    // A key in the CloudTrail layout promises the `{"Records":[...]}` document.
    if records_doc || (kind == ObjectKind::CloudTrail && first == b'{') {
        return Ok((ObjectKind::CloudTrail, Layout::Document));
    }
    let resolved = match kind {
        ObjectKind::Unknown if has(b"\"schemaType\"") && !has(b"\"eventSource\"") => {
            ObjectKind::Invocation
        }
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
            Some(p) => record(ctx, p, kind, false),
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

/// One record's bytes: parse, validate, normalize, push.
/// `mixed` (JSON Lines) lets a line's own shape decide between the two record types.
fn record(ctx: &mut DecodeCtx<'_, '_>, piece: Piece<'_>, kind: ObjectKind, mixed: bool) {
    ctx.seen += 1;
    match piece {
        Piece::Oversized(n) => ctx.bad(BadRecord::Oversized, &format!("{n} bytes")),
        Piece::Record(bytes) => {
            let invocation = if mixed {
                memchr::memmem::find(bytes, b"\"schemaType\"").is_some()
            } else {
                kind == ObjectKind::Invocation
            };
            if invocation {
                normalize::invocation(ctx, bytes)
            } else {
                normalize::cloudtrail(ctx, bytes)
            }
        }
    }
}
