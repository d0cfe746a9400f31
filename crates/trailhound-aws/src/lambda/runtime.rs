//! Cold start and the runtime loop: JSON logs, configuration from the environment, clients,
//! detectors and geo database, then `lambda_runtime` calling [`super::handle_until`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

use super::config::{Config, ConfigError, Detectors};
use super::{AwsDeps, Deps, handle_until};
use crate::dynamo::DynamoStore;
use crate::s3;
use crate::sink::{EventBridgeSink, SecurityHubSink, Sinks, SnsSink};
use trailhound_core::detect::Engine;
use trailhound_core::geo::Geo;

/// JSON logs on stdout (CloudWatch), level from `RUST_LOG` (default info).
fn init_logs() -> Result<(), ConfigError> {
    let (filter, bad) = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => match tracing_subscriber::EnvFilter::try_new(&v) {
            Ok(f) => (f, None),
            Err(e) => (
                "info".into(),
                Some(format!(
                    "`{v}` is not a log filter ({e}); use e.g. info, debug or trailhound=debug"
                )),
            ),
        },
        _ => ("info".into(), None),
    };
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
    match bad {
        Some(reason) => Err(ConfigError {
            var: "RUST_LOG",
            reason,
        }),
        None => Ok(()),
    }
}

/// Reads `*.toml` detector files under an `s3://bucket/prefix/`.
async fn detectors_from_s3(
    client: &aws_sdk_s3::Client,
    url: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let (bucket, _) = s3::parse_url(url).unwrap_or_default();
    let mut files = Vec::new();
    for listed in s3::list_matching(client, url, |k| k.ends_with(".toml")).await? {
        let key = &listed.target.object.key;
        let out = client
            .get_object()
            .bucket(&bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "could not read s3://{bucket}/{key}: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )
            })?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("could not read s3://{bucket}/{key}: {e}"))?;
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| anyhow::anyhow!("s3://{bucket}/{key} is not UTF-8 text"))?;
        files.push((format!("s3://{bucket}/{key}"), text));
    }
    anyhow::ensure!(!files.is_empty(), "no *.toml detector files under {url}");
    files.sort();
    Ok(files)
}

/// The sinks of the configuration: SNS, and Security Hub and EventBridge when enabled.
/// Security Hub imports into the account and region of the topic (the function's own).
pub fn sinks(config: &Config, aws: &aws_config::SdkConfig) -> Sinks {
    let retry = || aws_config::retry::RetryConfig::standard().with_max_attempts(5);
    let sns = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(aws)
            .retry_config(retry())
            .build(),
    );
    let arn: Vec<&str> = config.topic_arn.split(':').collect();
    let securityhub = config.sinks.securityhub.then(|| {
        SecurityHubSink::new(
            aws_sdk_securityhub::Client::from_conf(
                aws_sdk_securityhub::config::Builder::from(aws)
                    .retry_config(retry())
                    .build(),
            ),
            arn.get(4).map(|s| s.to_string()),
            arn.get(3).map(|s| s.to_string()),
        )
    });
    let eventbridge = config.sinks.event_bus.as_ref().map(|bus| {
        EventBridgeSink::new(
            aws_sdk_eventbridge::Client::from_conf(
                aws_sdk_eventbridge::config::Builder::from(aws)
                    .retry_config(retry())
                    .build(),
            ),
            bus,
        )
    });
    Sinks {
        sns: SnsSink::new(sns, &config.topic_arn),
        format: config.sinks.sns_format,
        securityhub,
        eventbridge,
    }
}

/// Builds the handler's dependencies from the configuration; an error names the variable.
pub async fn deps_from_config(
    config: &Config,
    aws: &aws_config::SdkConfig,
) -> Result<AwsDeps, ConfigError> {
    let s3_client = s3::client(aws);
    let learning = config.learning_secs();
    let engine = match &config.detectors {
        Detectors::Embedded => Engine::defaults(learning).map_err(|e| e.to_string()),
        Detectors::Dir(dir) => trailhound_core::detect::spec::read_dir(dir)
            .map_err(|e| e.to_string())
            .and_then(|files| Engine::merged(&files, learning).map_err(|e| e.to_string())),
        Detectors::S3(url) => match detectors_from_s3(&s3_client, url).await {
            Ok(files) => Engine::merged(&files, learning).map_err(|e| e.to_string()),
            Err(e) => Err(format!("{e:#}")),
        },
    }
    .map_err(|e| ConfigError {
        var: "TRAILHOUND_DETECTORS",
        reason: format!("the detectors do not load: {}", e.replace('\n', "; ")),
    })?;
    let geo = match &config.geoip {
        Some(p) => Geo::open(p).map_err(|e| ConfigError {
            var: "TRAILHOUND_GEOIP",
            reason: format!("{e:#}"),
        })?,
        None => {
            tracing::warn!(
                "no geo database (TRAILHOUND_GEOIP unset and no geo/country.mmdb in the bundle): unusual-geo will not fire"
            );
            Geo::none()
        }
    };
    let dynamo = aws_sdk_dynamodb::Client::new(aws);
    Ok(Deps {
        fetch: s3_client,
        store: DynamoStore::new(dynamo, &config.table),
        sink: sinks(config, aws),
        decoder: s3::Decoder {
            engine: Arc::new(engine),
            geo: Arc::new(geo),
            limits: config.limits(),
            since: None,
            until: None,
            newest_allowed: None,
        },
        min_severity: config.min_severity,
        function_name: config.function_name.clone(),
        emit_metrics: true,
    })
}

async fn cold_start() -> Result<AwsDeps, ConfigError> {
    init_logs()?;
    let config = Config::from_env()?;
    let aws = s3::aws_config().await;
    let deps = deps_from_config(&config, &aws).await?;
    tracing::info!(
        table = %config.table,
        topic = %config.topic_arn,
        securityhub = config.sinks.securityhub,
        event_bus = config.sinks.event_bus.as_deref().unwrap_or("-"),
        sns_format = ?config.sinks.sns_format,
        detectors = deps.decoder.engine.specs().count(),
        geo = deps.decoder.geo.is_loaded(),
        min_severity = config.min_severity,
        learning_days = config.learning_days,
        max_records_per_object = config.max_records,
        max_object_bytes = config.max_object_bytes,
        "cold start done"
    );
    Ok(deps)
}

/// Runs the Lambda function; returns the process exit code (1 when the cold start fails).
pub fn main() -> i32 {
    // 16 MiB worker stacks: the Security Hub SDK's request and response types (ASFF) are
    // large, and serializing them nests deep stack frames (a debug build needs more than 4
    // MiB; see the `lambda_sinks` tests).
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(16 << 20)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("could not start the async runtime: {e}");
            return 1;
        }
    };
    rt.block_on(async {
        let deps = match cold_start().await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(variable = e.var, "cold start failed: {e}");
                return 1;
            }
        };
        let deps = &deps;
        let handler = service_fn(move |ev: LambdaEvent<Value>| async move {
            let deadline = Duration::from_millis(ev.context.deadline)
                .checked_sub(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default(),
                )
                // A deadline already passed is "now", never "no deadline".
                .map_or_else(Instant::now, |left| Instant::now() + left);
            handle_until(deps, ev.payload, Some(deadline))
                .await
                .map_err(|e| -> lambda_runtime::Error { format!("{e:#}").into() })
        });
        match lambda_runtime::run(handler).await {
            Ok(()) => 0,
            Err(e) => {
                tracing::error!(error = %e, "the Lambda runtime loop stopped");
                1
            }
        }
    })
}
