//! Records: the typed CloudTrail and invocation-log records (borrowed from the buffer, only
//! the fields in use), the streaming splitter that cuts them out of an object, the content
//! scan of prompt bodies, and why a record can be bad. Turning records into activities is
//! the `activity` module's job.

pub(crate) mod bytes;
pub mod cloudtrail;
pub mod content;
pub mod invocation;
pub mod paths;
mod scan;
pub mod split;
pub mod text;

/// Limits for one object (documented in the README's "Limits" section).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Cap on inflated bytes per object (decompression bombs stop here).
    pub max_object_bytes: u64,
    /// Cap on one record's bytes; larger records are skipped and counted.
    pub max_record_bytes: usize,
    /// Cap on the records (activities) one object may yield: an object's activities are
    /// held in memory until applied, so this bounds memory whatever the inflated size
    /// (20 MB of gzip can hold tens of millions of tiny records). Past it the object fails
    /// as a whole ([`crate::ingest::ObjectError::TooManyRecords`]).
    pub max_records: u64,
    /// Decoding stops (the object fails, to be retried) once this instant has passed: the
    /// Lambda's deadline, so a long object cannot overrun the function's timeout.
    pub deadline: Option<std::time::Instant>,
}

/// Default [`Limits::max_records`]: at about 1 KB per held activity (the struct, its
/// extracted parameters, sorting and the per-principal split; strings are interned per
/// object), 1,000,000 records are about 1 GB: ten times the largest CloudTrail files seen
/// in busy accounts (~100,000 records), within a laptop's or a 1,769 MB function's memory.
pub const DEFAULT_MAX_RECORDS: u64 = 1_000_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_object_bytes: 2 << 30,
            max_record_bytes: 8 << 20,
            max_records: DEFAULT_MAX_RECORDS,
            deadline: None,
        }
    }
}

impl Limits {
    /// Limits that follow a Lambda function's memory (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, MB):
    /// records at [`RECORD_BUDGET_BYTES`] each within half the memory (the rest is the
    /// runtime, the SDK and the state being applied), and an inflated-size cap of
    /// [`INFLATE_BYTES_PER_RECORD`] per allowed record (decoding streams, so inflated bytes
    /// cost time, not memory: the cap bounds the time a bomb can take).
    pub fn for_memory_mb(mb: u64) -> Limits {
        let mb = mb.max(128);
        let max_records = (mb << 20) / 2 / RECORD_BUDGET_BYTES;
        Limits {
            max_records,
            max_object_bytes: max_records * INFLATE_BYTES_PER_RECORD,
            ..Limits::default()
        }
    }
}

/// Memory budgeted per held activity by [`Limits::for_memory_mb`].
pub const RECORD_BUDGET_BYTES: u64 = 1024;
/// Inflated bytes allowed per allowed record by [`Limits::for_memory_mb`]: CloudTrail
/// records average 1-2 KB, invocation logs with prompts more.
pub const INFLATE_BYTES_PER_RECORD: u64 = 8 * 1024;

/// Why one record was skipped. Stable names, used as counter labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BadRecord {
    NotJson,
    MissingField,
    BadTime,
    /// A time more than a day before its object's key time, or after the newest time the
    /// run allows: forged or broken, it changes no state.
    TimeOutOfRange,
    WrongSchema,
    Oversized,
}

impl BadRecord {
    pub fn as_str(self) -> &'static str {
        match self {
            BadRecord::NotJson => "not-json",
            BadRecord::MissingField => "missing-field",
            BadRecord::BadTime => "bad-time",
            BadRecord::TimeOutOfRange => "time-out-of-range",
            BadRecord::WrongSchema => "wrong-schema",
            BadRecord::Oversized => "oversized",
        }
    }
}
