//! Ingest: where objects come from (local files; S3 is `trailhound-aws`), what they are (key classification),
//! and how their bytes are inflated. Decoding the content is the job of the modules downstream (`record`, `activity`).

mod ahead;
pub mod inflate;
pub mod key;
pub mod local;

use std::fmt;

pub use key::{ObjectKind, SkipReason, classify, key_time};

/// The order of a replay: objects with a time in their key first, by that time, then by key.
pub fn replay_order(time: Option<i64>, key: &str) -> (bool, Option<i64>, &str) {
    (time.is_none(), time, key)
}

/// File names a replay reads: log-like extensions and the Bedrock permission-check object.
pub fn log_like(key: &str) -> bool {
    let n = key.to_ascii_lowercase();
    [".json.gz", ".json", ".jsonl", ".jsonl.gz", ".gz"]
        .iter()
        .any(|e| n.ends_with(e))
        || n.ends_with("permission-check")
}

/// One log object: an S3 object, or a local file laid out like one (`bucket` empty,
/// `key` the path relative to the replayed folder).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
    /// ETag or version id when known; part of the object's identity for idempotency.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// For an object applied in several parts (the Lambda splits objects that touch more
    /// entities than one transaction holds): the part, from 1. 0 is the whole object.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub part: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl ObjectRef {
    pub fn local(key: impl Into<String>) -> Self {
        ObjectRef {
            bucket: String::new(),
            key: key.into(),
            version: String::new(),
            part: 0,
        }
    }

    pub fn s3(
        bucket: impl Into<String>,
        key: impl Into<String>,
        version: impl Into<String>,
    ) -> Self {
        ObjectRef {
            bucket: bucket.into(),
            key: key.into(),
            version: version.into(),
            part: 0,
        }
    }

    /// A stable identity for "this object (or this part of it) has been applied": bucket,
    /// key, version and part.
    pub fn identity(&self) -> String {
        if self.part == 0 {
            format!("{}/{}#{}", self.bucket, self.key, self.version)
        } else {
            format!(
                "{}/{}#{}#part{}",
                self.bucket, self.key, self.version, self.part
            )
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.bucket.is_empty() {
            f.write_str(&self.key)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.key)
        }
    }
}

/// Why a whole object could not be read. Each message names the object and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("{object}: could not read the object: {source}")]
    Read {
        object: ObjectRef,
        source: std::io::Error,
    },
    #[error(
        "{object}: the gzip stream is corrupt or truncated ({source}); the object was cut short or is not gzip: check the writer, then redeliver it"
    )]
    Inflate {
        object: ObjectRef,
        source: std::io::Error,
    },
    #[error(
        "{object}: inflates past the cap of {cap} bytes (a decompression bomb, or an unusually large log); raise --max-object-bytes if the object is genuine"
    )]
    TooLarge { object: ObjectRef, cap: u64 },
    #[error(
        "{object}: not JSON ({reason}); expected a CloudTrail {{\"Records\":[...]}} file or JSON Lines of invocation logs"
    )]
    NotJson { object: ObjectRef, reason: String },
    #[error("{object}: unexpected JSON layout: {reason}")]
    Schema { object: ObjectRef, reason: String },
    #[error("{object}: could not fetch from S3: {reason}")]
    Fetch { object: ObjectRef, reason: String },
    #[error(
        "{object}: holds more than {cap} records, the cap per object (an object's activities are held in memory until applied); raise TRAILHOUND_MAX_RECORDS_PER_OBJECT (Lambda, with more memory) or --max-records (replay) if the object is genuine"
    )]
    TooManyRecords { object: ObjectRef, cap: u64 },
    #[error(
        "{object}: the invocation ran out of time while {during}; the event will be retried (raise the function's timeout if this repeats)"
    )]
    OutOfTime {
        object: ObjectRef,
        during: &'static str,
    },
}

impl ObjectError {
    /// A short stable name for counting errors by kind.
    pub fn kind(&self) -> &'static str {
        match self {
            ObjectError::Read { .. } => "read",
            ObjectError::Inflate { .. } => "inflate",
            ObjectError::TooLarge { .. } => "too-large",
            ObjectError::NotJson { .. } => "not-json",
            ObjectError::Schema { .. } => "schema",
            ObjectError::Fetch { .. } => "fetch",
            ObjectError::TooManyRecords { .. } => "too-many-records",
            ObjectError::OutOfTime { .. } => "out-of-time",
        }
    }
}
