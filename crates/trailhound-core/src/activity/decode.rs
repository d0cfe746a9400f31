//! Decode: turns an object's bytes into normalized activities, record by record.
//!
//! CloudTrail files are split element by element out of the `"Records"` array as they stream
//! in; invocation logs and other JSON Lines are read line by line. A bad record is counted
//! and skipped; an object that cannot be read as a whole yields an [`ObjectError`] and none
//! of its records (so a redelivery neither loses nor double-counts them).

use std::collections::BTreeMap;
use std::io::Read;

use super::normalize;
use super::sniff::{Layout, sniff};
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

/// Where an object's activities go as they are decoded, in record order.
pub trait Sink {
    fn push(&mut self, a: Activity);
}

impl Sink for Vec<Activity> {
    fn push(&mut self, a: Activity) {
        Vec::push(self, a);
    }
}

/// Decoding context for one object.
pub(crate) struct DecodeCtx<'a, 'g> {
    pub object: &'a ObjectRef,
    pub norm: &'a mut Normalizer<'g>,
    pub out: &'a mut dyn Sink,
    pub stats: Decoded,
    seen: u64,
    /// [`Limits::max_records`] and [`Limits::deadline`].
    max_records: u64,
    deadline: Option<std::time::Instant>,
    /// Why decoding must stop (checked after each record).
    stop: Option<Stop>,
}

/// Why decoding stopped early: the object fails as a whole.
#[derive(Debug, Clone, Copy)]
enum Stop {
    TooManyRecords(u64),
    OutOfTime,
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::TooManyRecords(cap) => write!(f, "more than {cap} records"),
            Stop::OutOfTime => f.write_str("out of time"),
        }
    }
}

impl std::error::Error for Stop {}

/// How often (in records) the deadline is read.
const DEADLINE_EVERY: u64 = 1024;

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
        if self.stats.records >= self.max_records {
            self.stop = Some(Stop::TooManyRecords(self.max_records));
            return;
        }
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
    let result = decode_object_into(object, kind, raw, limits, norm, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Decodes one object from `raw` and hands its activities to `out` as they are decoded.
/// On error `out` has been given the activities of the records before the error: the
/// caller discards them (an object is applied whole or not at all).
pub fn decode_object_into<R: Read>(
    object: &ObjectRef,
    kind: ObjectKind,
    raw: R,
    limits: &Limits,
    norm: &mut Normalizer<'_>,
    out: &mut dyn Sink,
) -> Result<Decoded, ObjectError> {
    let opened = inflate::open(raw, limits.max_object_bytes);
    decode_opened_into(object, kind, opened, limits, norm, out)
}

/// As [`decode_object_into`], from an object already opened for reading (by
/// [`inflate::open`] or [`inflate::open_ahead`]; an error there is the object's read error).
pub fn decode_opened_into<R: Read>(
    object: &ObjectRef,
    kind: ObjectKind,
    opened: std::io::Result<inflate::Inflated<R>>,
    limits: &Limits,
    norm: &mut Normalizer<'_>,
    out: &mut dyn Sink,
) -> Result<Decoded, ObjectError> {
    let mut ctx = DecodeCtx {
        object,
        norm,
        out,
        stats: Decoded::default(),
        seen: 0,
        max_records: limits.max_records,
        deadline: limits.deadline,
        stop: None,
    };
    run(&mut ctx, kind, opened, limits)?;
    Ok(ctx.stats)
}

fn run<R: Read>(
    ctx: &mut DecodeCtx<'_, '_>,
    kind: ObjectKind,
    opened: std::io::Result<inflate::Inflated<R>>,
    limits: &Limits,
) -> Result<(), ObjectError> {
    let object = ctx.object;
    let io_err = |gzip: bool, e: std::io::Error| {
        if let Some(stop) = e.get_ref().and_then(|i| i.downcast_ref::<Stop>()) {
            match *stop {
                Stop::TooManyRecords(cap) => ObjectError::TooManyRecords {
                    object: object.clone(),
                    cap,
                },
                Stop::OutOfTime => ObjectError::OutOfTime {
                    object: object.clone(),
                    during: "decoding it",
                },
            }
        } else if let Some(cap) = inflate::is_cap(&e) {
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
    let inflated = opened.map_err(|e| io_err(false, e))?;
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
                Some(p) => record(ctx, p, resolved.0, Cut::Value).map_err(|e| io_err(gzip, e))?,
            }
        },
        Layout::Lines => loop {
            match s.line().map_err(|e| io_err(gzip, e))? {
                None => break,
                Some(Piece::Record(b)) if b.iter().all(u8::is_ascii_whitespace) => {}
                Some(p) => record(ctx, p, resolved.0, Cut::Line).map_err(|e| io_err(gzip, e))?,
            }
        },
    }
    ctx.stats.inflated_bytes = s.offset();
    Ok(())
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
            Some(p) => record(ctx, p, kind, Cut::Element)?,
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

/// One record's bytes: check, parse, validate, normalize, push. An error stops the object:
/// past the record cap, or past the deadline.
fn record(
    ctx: &mut DecodeCtx<'_, '_>,
    piece: Piece<'_>,
    kind: ObjectKind,
    cut: Cut,
) -> std::io::Result<()> {
    one_record(ctx, piece, kind, cut);
    if ctx.stop.is_none()
        && ctx.seen.is_multiple_of(DEADLINE_EVERY)
        && ctx.deadline.is_some_and(|d| std::time::Instant::now() >= d)
    {
        ctx.stop = Some(Stop::OutOfTime);
    }
    match ctx.stop {
        Some(stop) => Err(std::io::Error::other(stop)),
        None => Ok(()),
    }
}

fn one_record(ctx: &mut DecodeCtx<'_, '_>, piece: Piece<'_>, kind: ObjectKind, cut: Cut) {
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
