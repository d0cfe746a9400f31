//! The observed series behind rate findings, recorded during a replay with `--report`.
//!
//! For every `rate-baseline` detector the recorder sums the detector's own measure (calls,
//! tokens, bytes out) of the activities its `[match]` filter accepts (suppressed ones left
//! out, as the engine does) per (detector, principal key, group) in fixed time buckets. The
//! report then draws the sliding-window sums the detector compared with its threshold. It
//! only reads activities: the pipeline does the same with or without it. Memory is bounded:
//! at most [`MAX_SERIES`] series and [`MAX_BUCKETS`] buckets in all; beyond that, buckets are
//! dropped and counted, and the report says so.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use trailhound_core::activity::Activity;
use trailhound_core::detect::Engine;
use trailhound_core::detect::spec::{CompiledSuppression, Spec};

/// Series kept in all (detector × principal × group).
pub const MAX_SERIES: usize = 20_000;
/// Time buckets kept in all series together (about 50 MB at most).
pub const MAX_BUCKETS: usize = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    None,
    Model,
    EventName,
    Bucket,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    Count,
    Tokens,
    InputTokens,
    OutputTokens,
    BytesOut,
}

/// One rate detector as the recorder needs it.
struct Rate {
    spec: Spec,
    suppress: Vec<CompiledSuppression>,
    group: Group,
    measure: Measure,
    /// The detector's sliding window and the bucket width, seconds.
    window: i64,
    bucket: i64,
}

/// How a detector's series is laid out: what the report needs to draw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Evidence key holding the group value (`model_id`, `bucket`, `event_name`), if grouped.
    pub group_key: Option<&'static str>,
    pub window: i64,
    pub bucket: i64,
}

type Key = (usize, Arc<str>, Arc<str>);

/// Records the series while a replay runs; see the module documentation.
pub struct Recorder {
    rates: Vec<Rate>,
    series: HashMap<Key, BTreeMap<i64, u64>>,
    buckets: usize,
    max_series: usize,
    max_buckets: usize,
    /// Buckets not recorded because a cap was reached.
    pub dropped: u64,
    /// Event times of every activity seen (any detector), for the summary.
    pub first_event: Option<i64>,
    pub last_event: Option<i64>,
}

impl Recorder {
    /// A recorder for the `rate-baseline` detectors of `engine` (others are ignored).
    pub fn new(engine: &Engine) -> Self {
        let rates = engine
            .specs()
            .filter(|s| s.kind == "rate-baseline")
            .filter_map(Rate::new)
            .collect();
        Recorder {
            rates,
            series: HashMap::new(),
            buckets: 0,
            max_series: MAX_SERIES,
            max_buckets: MAX_BUCKETS,
            dropped: 0,
            first_event: None,
            last_event: None,
        }
    }

    /// The same recorder with other caps (tests reach them quickly).
    pub fn with_caps(mut self, series: usize, buckets: usize) -> Self {
        self.max_series = series;
        self.max_buckets = buckets;
        self
    }

    /// Adds one object's activities.
    pub fn observe(&mut self, acts: &[Activity]) {
        for a in acts {
            self.first_event = Some(self.first_event.map_or(a.time, |t| t.min(a.time)));
            self.last_event = Some(self.last_event.map_or(a.time, |t| t.max(a.time)));
            for (i, r) in self.rates.iter().enumerate() {
                if !r.spec.filter.matches(a) || r.suppress.iter().any(|s| s.matches(a)) {
                    continue;
                }
                let v = r.value(a);
                let start = a.time.div_euclid(r.bucket) * r.bucket;
                let key = (i, a.principal_key.clone(), r.group_value(a));
                let known = self.series.contains_key(&key);
                if !known && self.series.len() >= self.max_series {
                    self.dropped += 1;
                    continue;
                }
                let series = self.series.entry(key).or_default();
                match series.get_mut(&start) {
                    Some(n) => *n += v,
                    None if self.buckets < self.max_buckets => {
                        series.insert(start, v);
                        self.buckets += 1;
                    }
                    None => self.dropped += 1,
                }
            }
        }
    }

    /// How the series of `detector` is laid out (None: not a recorded rate detector).
    pub fn layout(&self, detector: &str) -> Option<Layout> {
        let r = self.rates.iter().find(|r| r.spec.id == detector)?;
        Some(Layout {
            group_key: match r.group {
                Group::None => None,
                Group::Model => Some("model_id"),
                Group::EventName => Some("event_name"),
                Group::Bucket => Some("bucket"),
            },
            window: r.window,
            bucket: r.bucket,
        })
    }

    /// The sliding-window sums of one series at every bucket end in `[from, to]` (bucket
    /// aligned): `(bucket end, sum over the window ending there)`. None when the detector
    /// is not recorded; all zeros when the principal had no matching activity.
    pub fn window_sums(
        &self,
        detector: &str,
        principal_key: &str,
        group: &str,
        from: i64,
        to: i64,
    ) -> Option<Vec<(i64, u64)>> {
        let (i, r) = self
            .rates
            .iter()
            .enumerate()
            .find(|(_, r)| r.spec.id == detector)?;
        let key: Key = (i, principal_key.into(), group.into());
        let empty = BTreeMap::new();
        let series = self.series.get(&key).unwrap_or(&empty);
        let b = r.bucket;
        let first = from.div_euclid(b) * b;
        let mut out = Vec::new();
        let mut start = first;
        while start <= to {
            let end = start + b;
            let sum = series.range(end - r.window..end).map(|(_, v)| v).sum();
            out.push((end, sum));
            start += b;
        }
        Some(out)
    }
}

impl Rate {
    fn new(spec: &Spec) -> Option<Rate> {
        let p = &spec.params;
        let text = |k: &str, d: &'static str| p.get(k).and_then(|v| v.as_str()).unwrap_or(d);
        let group = match text("group_by", "none") {
            "none" => Group::None,
            "model" => Group::Model,
            "event-name" => Group::EventName,
            "bucket" => Group::Bucket,
            _ => return None,
        };
        let measure = match text("measure", "count") {
            "count" => Measure::Count,
            "tokens" => Measure::Tokens,
            "input-tokens" => Measure::InputTokens,
            "output-tokens" => Measure::OutputTokens,
            "bytes-out" => Measure::BytesOut,
            _ => return None,
        };
        let window =
            trailhound_core::time::parse_duration(text("window", "")).filter(|w| *w > 0)?;
        // 15-minute buckets when the window is made of them, else finer ones.
        let bucket = [900, 300, 60]
            .into_iter()
            .find(|b| window % b == 0)
            .unwrap_or(60)
            .min(window);
        let suppress = spec
            .suppress
            .iter()
            .filter_map(|s| CompiledSuppression::compile(s).ok())
            .collect();
        Some(Rate {
            spec: spec.clone(),
            suppress,
            group,
            measure,
            window,
            bucket,
        })
    }

    /// The group value as the detector computes it.
    fn group_value(&self, a: &Activity) -> Arc<str> {
        let or = |v: &Option<Arc<str>>, d: &str| v.clone().unwrap_or_else(|| d.into());
        match self.group {
            Group::None => "".into(),
            Group::Model => or(&a.model_id, "unknown-model"),
            Group::EventName => a.event_name.clone(),
            Group::Bucket => or(&a.bucket, "unknown-bucket"),
        }
    }

    fn value(&self, a: &Activity) -> u64 {
        match self.measure {
            Measure::Count => 1,
            Measure::Tokens => a.input_tokens + a.output_tokens,
            Measure::InputTokens => a.input_tokens,
            Measure::OutputTokens => a.output_tokens,
            Measure::BytesOut => a.bytes_out,
        }
    }
}
