//! What happens to objects, records and findings, as typed events. Each event writes its one
//! log line and updates the run's [`Stats`] in the same call ([`Stats::emit`]), so the replay
//! summary, the Lambda's invocation log line and its EMF metrics are one account of the same
//! events, not four (the shape of vector's `internal_events`).

use std::collections::BTreeMap;

use crate::activity::Decoded;
use crate::finding::Finding;
use crate::ingest::{ObjectError, ObjectKind, ObjectRef, SkipReason};

/// One thing that happened. Borrowed, built at the call site, consumed by [`Stats::emit`].
pub enum Event<'a> {
    /// Bytes fetched (compressed, as stored) for an object.
    BytesRead { bytes: u64 },
    /// An object was decoded (content may still have said it is one to skip).
    Decoded {
        object: &'a ObjectRef,
        decoded: &'a Decoded,
    },
    /// An object skipped before it was read (its key, or its size, said so).
    Skipped {
        object: &'a ObjectRef,
        reason: SkipReason,
    },
    /// An object that could not be read or decoded; its records count nowhere.
    ObjectFailed {
        object: &'a ObjectRef,
        error: &'a ObjectError,
    },
    /// An object whose state or publish step failed after it was read (it will be retried).
    ApplyFailed {
        object: &'a ObjectRef,
        error: &'a dyn std::fmt::Display,
    },
    /// An object applied before (a redelivery): state untouched.
    Duplicate { object: &'a ObjectRef },
    /// A Lambda message that is no envelope trailhound knows (it fails, to reach the DLQ).
    Unrecognized {
        message_id: Option<&'a str>,
        reason: &'a str,
    },
    /// Activities a detector's suppression matched in an object (not judged, not learned),
    /// and those only an expired suppression matched (judged).
    Suppressed {
        object: &'a ObjectRef,
        counts: crate::detect::Suppressions,
    },
    /// A finding raised or updated by an object.
    Finding { finding: &'a Finding },
    /// Findings a sink accepted.
    Published { sink: &'static str, count: u64 },
    /// A sink refused one finding (too large, invalid, throttled, or the whole call failed):
    /// it stays in the outbox and its object is retried; the others are not held back.
    /// `reason` is the sink's error code and message, never the finding's content.
    Rejected {
        sink: &'static str,
        finding: &'a str,
        reason: &'a str,
    },
    /// An outbox entry not published because a newer version of the same finding was
    /// already sent (its sequence number is below the newest published one).
    Superseded {
        finding: &'a str,
        seq: u64,
        newest: u64,
    },
}

/// Counters for a run (replay) or an invocation (Lambda), fed only by [`Stats::emit`].
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Stats {
    /// Objects read, by what they turned out to be (`cloudtrail`, `invocation`, `other`).
    pub objects: BTreeMap<&'static str, u64>,
    /// Objects skipped, by reason.
    pub skipped: BTreeMap<&'static str, u64>,
    /// Objects skipped by their content although their key named a log kind, by
    /// `<key kind>/<reason>`: these are the skips an operator must be able to see.
    pub skipped_by_content: BTreeMap<String, u64>,
    /// Objects that failed to read or decode, by error kind.
    pub errors: BTreeMap<&'static str, u64>,
    /// Objects that failed after they were read (state, publish).
    pub apply_failures: u64,
    pub duplicates: u64,
    /// (activity, detector) pairs a suppression matched.
    pub suppressed: u64,
    /// (activity, detector) pairs only an expired suppression matched (judged as usual).
    pub suppression_expired: u64,
    /// Lambda messages that were no known envelope.
    pub unrecognized: u64,
    pub records: u64,
    pub bad_records: BTreeMap<&'static str, u64>,
    pub odd_values: BTreeMap<&'static str, u64>,
    /// Finding versions raised or updated, by (detector, severity label).
    pub findings: BTreeMap<(String, String), u64>,
    /// Findings accepted by sinks, by sink.
    pub published: BTreeMap<&'static str, u64>,
    /// Findings a sink refused (kept in the outbox, retried), by sink.
    pub rejected: BTreeMap<&'static str, u64>,
    /// Stale outbox versions dropped because a newer version was already sent.
    pub superseded: u64,
    pub bytes_in: u64,
    pub bytes_inflated: u64,
    pub newest_event: Option<i64>,
}

impl Stats {
    /// Logs the event (one line, never content) and counts it.
    pub fn emit(&mut self, event: Event<'_>) {
        match event {
            Event::BytesRead { bytes } => self.bytes_in += bytes,
            Event::Decoded { object, decoded } => self.decoded(object, decoded),
            Event::Skipped { object, reason } => {
                tracing::info!(object = %object, reason = reason.as_str(), "object skipped");
                *self.skipped.entry(reason.as_str()).or_default() += 1;
            }
            Event::ObjectFailed { object, error } => {
                tracing::error!(object = %object, kind = error.kind(), error = %error, "object failed");
                *self.errors.entry(error.kind()).or_default() += 1;
            }
            Event::ApplyFailed { object, error } => {
                tracing::error!(object = %object, error = %error, "object failed; its event will be retried");
                self.apply_failures += 1;
            }
            Event::Duplicate { object } => {
                tracing::info!(object = %object, "object applied before; state unchanged");
                self.duplicates += 1;
            }
            Event::Unrecognized { message_id, reason } => {
                tracing::warn!(
                    message_id,
                    reason,
                    "message is no known envelope; it fails and goes to the dead-letter queue"
                );
                self.unrecognized += 1;
            }
            Event::Suppressed { object, counts } => {
                if counts.suppressed > 0 {
                    tracing::debug!(object = %object, count = counts.suppressed, "activity suppressed");
                }
                if counts.expired > 0 {
                    tracing::warn!(
                        object = %object,
                        count = counts.expired,
                        "activity matched a suppression past its expires date and was judged: renew the suppression or remove it"
                    );
                }
                self.suppressed += counts.suppressed;
                self.suppression_expired += counts.expired;
            }
            Event::Finding { finding } => {
                tracing::info!(
                    detector = %finding.detector,
                    id = %finding.id,
                    severity = finding.severity,
                    principal = %finding.principal,
                    count = finding.count,
                    "finding"
                );
                *self
                    .findings
                    .entry((finding.detector.clone(), finding.severity_label.clone()))
                    .or_default() += 1;
            }
            Event::Published { sink, count } => {
                tracing::info!(sink, count, "findings published");
                *self.published.entry(sink).or_default() += count;
            }
            Event::Rejected {
                sink,
                finding,
                reason,
            } => {
                // The reason is the sink's error, cut short; never the message body.
                let reason: String = reason.chars().take(300).collect();
                tracing::error!(
                    sink,
                    finding,
                    reason = %reason,
                    "a sink refused a finding; it stays in the outbox and its object will be retried"
                );
                *self.rejected.entry(sink).or_default() += 1;
            }
            Event::Superseded {
                finding,
                seq,
                newest,
            } => {
                tracing::info!(
                    finding,
                    seq,
                    newest,
                    "a newer version of the finding was already published; the stale one is dropped"
                );
                self.superseded += 1;
            }
        }
    }

    fn decoded(&mut self, object: &ObjectRef, d: &Decoded) {
        match d.kind {
            Some(ObjectKind::Skipped(r)) => {
                let key_kind = crate::ingest::classify(&object.key);
                if matches!(key_kind, ObjectKind::CloudTrail | ObjectKind::Invocation) {
                    tracing::warn!(object = %object, key_kind = key_kind.as_str(), reason = r.as_str(), "object under a log key skipped by its content");
                    *self
                        .skipped_by_content
                        .entry(format!("{}/{}", key_kind.as_str(), r.as_str()))
                        .or_default() += 1;
                } else {
                    tracing::info!(object = %object, reason = r.as_str(), "object skipped by its content");
                }
                *self.skipped.entry(r.as_str()).or_default() += 1;
            }
            Some(ObjectKind::CloudTrail) => *self.objects.entry("cloudtrail").or_default() += 1,
            Some(ObjectKind::Invocation) => *self.objects.entry("invocation").or_default() += 1,
            _ => *self.objects.entry("other").or_default() += 1,
        }
        tracing::debug!(object = %object, records = d.records, bad = d.bad_total(), "object read");
        self.records += d.records;
        for (k, v) in &d.bad {
            *self.bad_records.entry(k.as_str()).or_default() += v;
        }
        for (k, v) in &d.odd {
            *self.odd_values.entry(k).or_default() += v;
        }
        self.bytes_inflated += d.inflated_bytes;
        if let Some(t) = d.newest_event {
            self.newest_event = Some(self.newest_event.map_or(t, |n| n.max(t)));
        }
    }

    pub fn objects_read(&self) -> u64 {
        self.objects.values().sum()
    }

    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    pub fn failed_total(&self) -> u64 {
        self.errors.values().sum::<u64>() + self.apply_failures
    }

    pub fn bad_total(&self) -> u64 {
        self.bad_records.values().sum()
    }

    pub fn findings_total(&self) -> u64 {
        self.findings.values().sum()
    }

    /// Findings by detector (all severities).
    pub fn findings_by_detector(&self) -> BTreeMap<&str, u64> {
        let mut out = BTreeMap::new();
        for ((d, _), n) in &self.findings {
            *out.entry(d.as_str()).or_default() += n;
        }
        out
    }

    pub fn merge(&mut self, o: &Stats) {
        fn add<K: Ord + Clone>(a: &mut BTreeMap<K, u64>, b: &BTreeMap<K, u64>) {
            for (k, v) in b {
                *a.entry(k.clone()).or_default() += v;
            }
        }
        add(&mut self.objects, &o.objects);
        add(&mut self.skipped, &o.skipped);
        add(&mut self.skipped_by_content, &o.skipped_by_content);
        add(&mut self.errors, &o.errors);
        add(&mut self.bad_records, &o.bad_records);
        add(&mut self.odd_values, &o.odd_values);
        add(&mut self.findings, &o.findings);
        add(&mut self.published, &o.published);
        self.apply_failures += o.apply_failures;
        self.duplicates += o.duplicates;
        self.suppressed += o.suppressed;
        self.suppression_expired += o.suppression_expired;
        self.unrecognized += o.unrecognized;
        self.records += o.records;
        self.bytes_in += o.bytes_in;
        self.bytes_inflated += o.bytes_inflated;
        self.newest_event = match (self.newest_event, o.newest_event) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}
