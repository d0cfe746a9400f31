//! CloudWatch Embedded Metric Format: one JSON line per invocation on stdout (namespace
//! `Trailhound`, dimension `FunctionName`), plus one line per detector and severity label
//! with findings. CloudWatch Logs turns them into metrics; no API call is made.

use serde_json::{Value, json};

use trailhound_core::events::Stats;

pub const NAMESPACE: &str = "Trailhound";

/// One metric: name, unit, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub unit: &'static str,
    pub value: f64,
}

/// What one invocation did: the counters its events fed ([`Stats::emit`]), plus timing.
#[derive(Debug, Default, Clone)]
pub struct Invocation {
    pub stats: Stats,
    pub duration_ms: f64,
    /// Now minus the newest event time seen, in seconds.
    pub lag_seconds: Option<f64>,
}

impl Invocation {
    /// Findings SNS accepted (every configured sink gets the same findings; the per-sink
    /// counts are in the stats).
    pub fn published(&self) -> u64 {
        self.stats.published.get("sns").copied().unwrap_or(0)
    }

    pub fn metrics(&self) -> Vec<Metric> {
        let s = &self.stats;
        let m = |name, unit, value: u64| Metric {
            name,
            unit,
            value: value as f64,
        };
        let mut out = vec![
            m("Objects", "Count", s.objects_read()),
            m("Records", "Count", s.records),
            m("BadRecords", "Count", s.bad_total()),
            m("SkippedObjects", "Count", s.skipped_total()),
            m(
                "SkippedByContent",
                "Count",
                s.skipped_by_content.values().sum(),
            ),
            m("FailedObjects", "Count", s.failed_total()),
            m("DuplicateObjects", "Count", s.duplicates),
            m("SuppressedActivities", "Count", s.suppressed),
            m("ExpiredSuppressionMatches", "Count", s.suppression_expired),
            m("UnrecognizedMessages", "Count", s.unrecognized),
            m("Findings", "Count", s.findings_total()),
            m("PublishedFindings", "Count", self.published()),
            m("RejectedFindings", "Count", s.rejected.values().sum()),
            m("SupersededFindings", "Count", s.superseded),
            m("BytesRead", "Bytes", s.bytes_in),
            Metric {
                name: "DurationMs",
                unit: "Milliseconds",
                value: self.duration_ms,
            },
        ];
        if let Some(lag) = self.lag_seconds {
            out.push(Metric {
                name: "ProcessingLagSeconds",
                unit: "Seconds",
                value: lag,
            });
        }
        out
    }

    /// The EMF documents: the invocation line, then one per (detector, severity label).
    pub fn documents(&self, function_name: &str, timestamp_ms: i64) -> Vec<Value> {
        let doc = |dims: &[&str], metrics: &[Metric], extra: &[(&str, &str)]| {
            let mut o = serde_json::Map::new();
            o.insert(
                "_aws".into(),
                json!({
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": NAMESPACE,
                        "Dimensions": [dims],
                        "Metrics": metrics.iter().map(|m| json!({"Name": m.name, "Unit": m.unit})).collect::<Vec<_>>(),
                    }],
                }),
            );
            o.insert("FunctionName".into(), json!(function_name));
            for (k, v) in extra {
                o.insert((*k).into(), json!(v));
            }
            for m in metrics {
                o.insert(m.name.into(), json!(m.value));
            }
            Value::Object(o)
        };
        let mut out = vec![doc(&["FunctionName"], &self.metrics(), &[])];
        for ((detector, label), n) in &self.stats.findings {
            out.push(doc(
                &["FunctionName", "Detector", "Severity"],
                &[Metric {
                    name: "Findings",
                    unit: "Count",
                    value: *n as f64,
                }],
                &[("Detector", detector), ("Severity", label)],
            ));
        }
        out
    }

    /// Prints the EMF lines to stdout.
    pub fn emit(&self, function_name: &str) {
        let now = chrono::Utc::now().timestamp_millis();
        for d in self.documents(function_name, now) {
            println!("{d}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_documents_name_their_metrics_and_dimensions() {
        let mut inv = Invocation::default();
        inv.stats.objects.insert("cloudtrail", 2);
        inv.stats.records = 40;
        inv.stats.bad_records.insert("not-json", 1);
        inv.stats.skipped.insert("cloudtrail-digest", 1);
        inv.stats.apply_failures = 1;
        inv.stats
            .findings
            .insert(("invoke-spike".into(), "High".into()), 3);
        inv.duration_ms = 12.5;
        inv.lag_seconds = Some(300.0);
        let docs = inv.documents("fn", 1_700_000_000_000);
        assert_eq!(docs.len(), 2);
        let main = &docs[0];
        let meta = &main["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(meta["Namespace"], "Trailhound");
        assert_eq!(meta["Dimensions"], json!([["FunctionName"]]));
        assert_eq!(main["_aws"]["Timestamp"], 1_700_000_000_000i64);
        for (k, v) in [
            ("Objects", 2.0),
            ("Records", 40.0),
            ("BadRecords", 1.0),
            ("SkippedObjects", 1.0),
            ("FailedObjects", 1.0),
            ("Findings", 3.0),
            ("DurationMs", 12.5),
            ("ProcessingLagSeconds", 300.0),
        ] {
            assert_eq!(main[k], json!(v), "{k}");
            let declared = meta["Metrics"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["Name"] == k);
            assert!(declared, "{k} declared");
        }
        let lag = meta["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["Name"] == "ProcessingLagSeconds")
            .unwrap();
        assert_eq!(lag["Unit"], "Seconds");
        assert_eq!(main["FunctionName"], "fn");
        let det = &docs[1];
        assert_eq!(det["Detector"], "invoke-spike");
        assert_eq!(det["Severity"], "High");
        assert_eq!(det["Findings"], json!(3.0));
        assert_eq!(
            det["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["FunctionName", "Detector", "Severity"]])
        );
    }
}
