//! Records: the typed CloudTrail and invocation-log records (borrowed from the buffer, only
//! the fields in use), the streaming splitter that cuts them out of an object, the content
//! scan of prompt bodies, and why a record can be bad. Turning records into activities is
//! the `activity` module's job.

pub mod cloudtrail;
pub mod content;
pub mod invocation;
pub mod paths;
pub mod split;

/// Size limits for one object.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Cap on inflated bytes per object (decompression bombs stop here).
    pub max_object_bytes: u64,
    /// Cap on one record's bytes; larger records are skipped and counted.
    pub max_record_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_object_bytes: 2 << 30,
            max_record_bytes: 8 << 20,
        }
    }
}

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
