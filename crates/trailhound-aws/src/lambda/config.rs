//! The function's configuration, from environment variables (documented in the README). A
//! missing or invalid setting is a [`ConfigError`] naming the variable: the cold start logs
//! it in one line and fails.

use std::path::PathBuf;

use trailhound_core::record::Limits;

/// Where the detector files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detectors {
    /// The files embedded in the binary.
    Embedded,
    /// A folder of `*.toml` in the deployment bundle.
    Dir(PathBuf),
    /// `s3://bucket/prefix/`: every `*.toml` under it, read at cold start.
    S3(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `TRAILHOUND_TOPIC_ARN` (required): the SNS topic findings go to.
    pub topic_arn: String,
    /// `TRAILHOUND_TABLE` (required): the DynamoDB state table.
    pub table: String,
    /// `TRAILHOUND_DETECTORS`: empty for the embedded defaults, a folder, or an `s3://` URL.
    pub detectors: Detectors,
    /// `TRAILHOUND_GEOIP`: an MMDB file; default `$LAMBDA_TASK_ROOT/geo/country.mmdb` if present.
    pub geoip: Option<PathBuf>,
    /// `TRAILHOUND_MIN_SEVERITY` (1–10, default 4): findings below are recorded, not published.
    pub min_severity: f64,
    /// `TRAILHOUND_LEARNING_DAYS` (default 7): days before baseline detectors may fire.
    pub learning_days: u32,
    /// `AWS_LAMBDA_FUNCTION_NAME`: the metrics dimension.
    pub function_name: String,
    /// `TRAILHOUND_SECURITYHUB`, `TRAILHOUND_EVENT_BUS`, `TRAILHOUND_SNS_FORMAT`: see
    /// [`SinkConfig`].
    pub sinks: SinkConfig,
    /// `TRAILHOUND_MAX_RECORDS_PER_OBJECT`: records one object may hold; default from the
    /// function's memory (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, see [`Limits::for_memory_mb`]).
    pub max_records: u64,
    /// `TRAILHOUND_MAX_OBJECT_BYTES`: inflated bytes one object may reach; default from the
    /// function's memory.
    pub max_object_bytes: u64,
}

/// Where findings go besides the SNS topic, and the shape of SNS messages.
///
/// `TRAILHOUND_TOPIC_ARN` stays required: SNS is the alert channel people subscribe to
/// (email, chat, queues), and the other sinks are for aggregation and routing on top of it.
/// Each sink has the same exactly-once semantics as SNS: a finding leaves the outbox only
/// when every configured sink accepted it, and a retry does not resend it to a sink that
/// already did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkConfig {
    /// `TRAILHOUND_SECURITYHUB` (`true` / `false`, default `false`): import findings into
    /// AWS Security Hub (`BatchImportFindings`, ASFF) under the account's default product,
    /// `arn:aws:securityhub:REGION:ACCOUNT:product/ACCOUNT/default`, in the topic's account
    /// and region. Security Hub must be enabled there; the role needs
    /// `securityhub:BatchImportFindings` on that product ARN.
    pub securityhub: bool,
    /// `TRAILHOUND_EVENT_BUS` (a bus name or ARN, optional): put each finding on this
    /// EventBridge bus (`PutEvents`, source `trailhound`, detail-type `Trailhound Finding`,
    /// detail = the finding JSON), to route findings with EventBridge rules. The role needs
    /// `events:PutEvents` on the bus.
    pub event_bus: Option<String>,
    /// `TRAILHOUND_SNS_FORMAT` (`default` | `chatbot`, default `default`): `chatbot` makes
    /// the SNS `default` message the custom notification of Amazon Q Developer in chat
    /// applications (AWS Chatbot), for a topic mapped to a Slack or Teams channel; SQS and
    /// Lambda subscribers still receive the finding JSON, email subscribers the text.
    pub sns_format: crate::sink::SnsFormat,
}

impl SinkConfig {
    /// Reads the sink settings through `get` (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<SinkConfig, ConfigError> {
        let val = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        const HUB: &str = "TRAILHOUND_SECURITYHUB";
        let securityhub = match val(HUB).map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                return Err(err(
                    HUB,
                    format!(
                        "`{}` is not `true` or `false`",
                        val(HUB).unwrap_or_default()
                    ),
                ));
            }
        };
        const BUS: &str = "TRAILHOUND_EVENT_BUS";
        let event_bus = match val(BUS) {
            None => None,
            Some(v) => {
                let name = v.rsplit('/').next().unwrap_or("");
                let arn_ok = !v.starts_with("arn:")
                    || (v.split(':').nth(2) == Some("events") && v.contains(":event-bus/"));
                let name_ok = (1..=256).contains(&name.len())
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b));
                if !arn_ok || !name_ok {
                    return Err(err(
                        BUS,
                        format!(
                            "`{v}` is not an EventBridge bus name (A-Z a-z 0-9 . _ -) or ARN (arn:aws:events:REGION:ACCOUNT:event-bus/NAME)"
                        ),
                    ));
                }
                Some(v)
            }
        };
        const FORMAT: &str = "TRAILHOUND_SNS_FORMAT";
        let sns_format = match val(FORMAT).map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("default") => crate::sink::SnsFormat::Default,
            Some("chatbot") => crate::sink::SnsFormat::Chatbot,
            Some(_) => {
                return Err(err(
                    FORMAT,
                    format!(
                        "`{}` is not `default` or `chatbot`",
                        val(FORMAT).unwrap_or_default()
                    ),
                ));
            }
        };
        Ok(SinkConfig {
            securityhub,
            event_bus,
            sns_format,
        })
    }
}

/// An invalid setting: the variable and what is wrong, with what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

fn err(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        reason: reason.into(),
    }
}

impl Config {
    pub fn learning_secs(&self) -> i64 {
        i64::from(self.learning_days) * 86_400
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `get` (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let val = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let task_root = val("LAMBDA_TASK_ROOT").map(PathBuf::from);
        let in_bundle = |p: &str| {
            let p = PathBuf::from(p);
            match &task_root {
                Some(root) if p.is_relative() => root.join(p),
                _ => p,
            }
        };

        const TOPIC: &str = "TRAILHOUND_TOPIC_ARN";
        let topic_arn = val(TOPIC).ok_or_else(|| {
            err(
                TOPIC,
                "is not set: set it to the ARN of the SNS topic findings are published to",
            )
        })?;
        let parts: Vec<&str> = topic_arn.split(':').collect();
        if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[5].is_empty() {
            return Err(err(
                TOPIC,
                format!("`{topic_arn}` is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"),
            ));
        }

        const TABLE: &str = "TRAILHOUND_TABLE";
        let table = val(TABLE).ok_or_else(|| {
            err(
                TABLE,
                "is not set: set it to the name of the DynamoDB state table",
            )
        })?;
        let name_ok = (3..=255).contains(&table.len())
            && table
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
        if !name_ok && !table.starts_with("arn:aws") {
            return Err(err(
                TABLE,
                format!(
                    "`{table}` is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ - .) or table ARN"
                ),
            ));
        }

        const DETECTORS: &str = "TRAILHOUND_DETECTORS";
        let detectors = match val(DETECTORS) {
            None => Detectors::Embedded,
            Some(v) if v.starts_with("s3://") => {
                if crate::s3::parse_url(&v).is_none() {
                    return Err(err(
                        DETECTORS,
                        format!("`{v}` is not an S3 URL such as s3://bucket/detectors/"),
                    ));
                }
                Detectors::S3(v)
            }
            Some(v) => {
                let p = in_bundle(&v);
                if !p.is_dir() {
                    return Err(err(
                        DETECTORS,
                        format!(
                            "{} is not a folder in the bundle; give a folder of *.toml, an s3:// URL, or leave it empty for the built-in detectors",
                            p.display()
                        ),
                    ));
                }
                Detectors::Dir(p)
            }
        };

        const GEOIP: &str = "TRAILHOUND_GEOIP";
        let geoip = match val(GEOIP) {
            Some(v) => {
                let p = in_bundle(&v);
                if !p.is_file() {
                    return Err(err(
                        GEOIP,
                        format!(
                            "{} does not exist; package the MMDB file in the bundle or unset the variable",
                            p.display()
                        ),
                    ));
                }
                Some(p)
            }
            None => task_root
                .map(|r| r.join("geo/country.mmdb"))
                .filter(|p| p.is_file()),
        };

        const MIN: &str = "TRAILHOUND_MIN_SEVERITY";
        let min_severity = match val(MIN) {
            None => 4.0,
            Some(v) => match v.parse::<f64>() {
                Ok(x) if (1.0..=10.0).contains(&x) => x,
                _ => {
                    return Err(err(
                        MIN,
                        format!(
                            "`{v}` is not a severity from 1 to 10 (e.g. 4 for Medium and above, 7 for High)"
                        ),
                    ));
                }
            },
        };

        const LEARNING: &str = "TRAILHOUND_LEARNING_DAYS";
        let learning_days = match val(LEARNING) {
            None => 7,
            Some(v) => match v.parse::<u32>() {
                Ok(d) if d <= 365 => d,
                _ => {
                    return Err(err(
                        LEARNING,
                        format!("`{v}` is not a whole number of days from 0 to 365"),
                    ));
                }
            },
        };

        // Limits follow the function's memory unless set.
        const MEMORY: &str = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE";
        let by_memory = match val(MEMORY) {
            None => Limits::default(),
            Some(v) => match v.parse::<u64>() {
                Ok(mb) if mb > 0 => Limits::for_memory_mb(mb),
                _ => return Err(err(MEMORY, format!("`{v}` is not a size in MB"))),
            },
        };
        let positive = |var: &'static str, default: u64, what: &str| match val(var) {
            None => Ok(default),
            Some(v) => match v.replace('_', "").parse::<u64>() {
                Ok(x) if x > 0 => Ok(x),
                _ => Err(err(
                    var,
                    format!("`{v}` is not a positive whole number of {what}"),
                )),
            },
        };
        let max_records = positive(
            "TRAILHOUND_MAX_RECORDS_PER_OBJECT",
            by_memory.max_records,
            "records (e.g. 1000000)",
        )?;
        let max_object_bytes = positive(
            "TRAILHOUND_MAX_OBJECT_BYTES",
            by_memory.max_object_bytes,
            "bytes (e.g. 2147483648)",
        )?;

        let sinks = SinkConfig::from_lookup(&get)?;

        Ok(Config {
            sinks,
            topic_arn,
            table,
            detectors,
            geoip,
            min_severity,
            learning_days,
            function_name: val("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "trailhound".into()),
            max_records,
            max_object_bytes,
        })
    }

    /// The decoding limits these settings give.
    pub fn limits(&self) -> Limits {
        Limits {
            max_records: self.max_records,
            max_object_bytes: self.max_object_bytes,
            ..Limits::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| m.get(k).cloned())
    }

    const BASE: [(&str, &str); 2] = [
        (
            "TRAILHOUND_TOPIC_ARN",
            "arn:aws:sns:us-east-1:111122223333:trailhound",
        ),
        ("TRAILHOUND_TABLE", "trailhound-state"),
    ];

    #[test]
    fn defaults_apply() {
        let c = cfg(&BASE).unwrap();
        assert_eq!(c.detectors, Detectors::Embedded);
        assert_eq!(c.min_severity, 4.0);
        assert_eq!(c.learning_days, 7);
        assert_eq!(c.learning_secs(), 7 * 86_400);
        assert_eq!(c.geoip, None);
        assert_eq!(c.function_name, "trailhound");
        let c = cfg(&[
            BASE[0],
            BASE[1],
            ("TRAILHOUND_MIN_SEVERITY", "7.5"),
            ("TRAILHOUND_DETECTORS", "s3://cfg/detectors/"),
            ("TRAILHOUND_LEARNING_DAYS", "0"),
        ])
        .unwrap();
        assert_eq!(c.min_severity, 7.5);
        assert_eq!(c.learning_days, 0);
        assert_eq!(c.detectors, Detectors::S3("s3://cfg/detectors/".into()));
    }

    #[test]
    fn limits_follow_the_function_memory_unless_set() {
        let c = cfg(&BASE).unwrap();
        assert_eq!(
            (c.max_records, c.max_object_bytes),
            (1_000_000, 2 << 30),
            "outside Lambda: the replay defaults"
        );
        let c = cfg(&[
            BASE[0],
            BASE[1],
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"),
        ])
        .unwrap();
        // Half of 1024 MB at 1 KB a record; 8 KB inflated per record.
        assert_eq!(c.max_records, 524_288);
        assert_eq!(c.max_object_bytes, 524_288 * 8192);
        let c = cfg(&[
            BASE[0],
            BASE[1],
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "10240"),
        ])
        .unwrap();
        assert_eq!(c.max_records, 5_242_880);
        let c = cfg(&[
            BASE[0],
            BASE[1],
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("TRAILHOUND_MAX_RECORDS_PER_OBJECT", "5_000"),
            ("TRAILHOUND_MAX_OBJECT_BYTES", "1048576"),
        ])
        .unwrap();
        let l = c.limits();
        assert_eq!((l.max_records, l.max_object_bytes), (5_000, 1 << 20));
    }

    #[test]
    fn sinks_are_off_unless_configured() {
        let c = cfg(&BASE).unwrap();
        assert_eq!(c.sinks, SinkConfig::default());
        assert_eq!(c.sinks.sns_format, crate::sink::SnsFormat::Default);
        let c = cfg(&[
            BASE[0],
            BASE[1],
            ("TRAILHOUND_SECURITYHUB", "TRUE"),
            (
                "TRAILHOUND_EVENT_BUS",
                "arn:aws:events:us-east-1:111122223333:event-bus/sec",
            ),
            ("TRAILHOUND_SNS_FORMAT", "chatbot"),
        ])
        .unwrap();
        assert!(c.sinks.securityhub);
        assert_eq!(
            c.sinks.event_bus.as_deref(),
            Some("arn:aws:events:us-east-1:111122223333:event-bus/sec")
        );
        assert_eq!(c.sinks.sns_format, crate::sink::SnsFormat::Chatbot);
        for (k, v) in [
            ("TRAILHOUND_SECURITYHUB", "yes"),
            ("TRAILHOUND_EVENT_BUS", "bad bus"),
            (
                "TRAILHOUND_EVENT_BUS",
                "arn:aws:sns:us-east-1:111122223333:topic",
            ),
            ("TRAILHOUND_SNS_FORMAT", "slack"),
        ] {
            let e = cfg(&[BASE[0], BASE[1], (k, v)]).unwrap_err();
            assert_eq!(e.var, k, "{v}");
        }
    }

    #[test]
    fn each_bad_setting_names_its_variable() {
        let var = |pairs: &[(&str, &str)]| cfg(pairs).unwrap_err().var;
        assert_eq!(var(&[BASE[1]]), "TRAILHOUND_TOPIC_ARN");
        assert_eq!(
            var(&[("TRAILHOUND_TOPIC_ARN", "trailhound"), BASE[1]]),
            "TRAILHOUND_TOPIC_ARN"
        );
        assert_eq!(var(&[BASE[0]]), "TRAILHOUND_TABLE");
        assert_eq!(
            var(&[BASE[0], ("TRAILHOUND_TABLE", "a b")]),
            "TRAILHOUND_TABLE"
        );
        for (k, v) in [
            ("TRAILHOUND_MIN_SEVERITY", "11"),
            ("TRAILHOUND_MIN_SEVERITY", "high"),
            ("TRAILHOUND_LEARNING_DAYS", "-1"),
            ("TRAILHOUND_LEARNING_DAYS", "7d"),
            ("TRAILHOUND_DETECTORS", "/nonexistent/detectors"),
            ("TRAILHOUND_DETECTORS", "s3://"),
            ("TRAILHOUND_GEOIP", "/nonexistent/country.mmdb"),
            ("TRAILHOUND_MAX_RECORDS_PER_OBJECT", "0"),
            ("TRAILHOUND_MAX_RECORDS_PER_OBJECT", "many"),
            ("TRAILHOUND_MAX_OBJECT_BYTES", "-1"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1GB"),
        ] {
            let e = cfg(&[BASE[0], BASE[1], (k, v)]).unwrap_err();
            assert_eq!(e.var, k, "{v}");
            assert!(e.to_string().starts_with(k), "{e}");
        }
    }
}
