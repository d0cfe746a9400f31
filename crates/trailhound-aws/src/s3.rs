//! The S3 source: streaming `GetObject` into the decoder (never the whole object in memory)
//! and `ListObjectsV2` listings for `replay s3://bucket/prefix`.
//!
//! The body is read as it arrives: `ByteStream` → `AsyncRead` → `SyncIoBridge` on a blocking
//! thread that runs the (synchronous, streaming) decoder.

use std::io::{self, Read};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};

use crate::envelope::Target;
use trailhound_core::activity::Activity;
use trailhound_core::activity::Decoded;
use trailhound_core::detect::Engine;
use trailhound_core::geo::Geo;
use trailhound_core::ingest::{ObjectError, ObjectRef, key_time};
use trailhound_core::pipeline::Pipeline;
use trailhound_core::record::Limits;

/// Environment variable that turns on path-style S3 addressing (needed by local S3
/// emulators such as moto or MinIO): `TRAILHOUND_S3_PATH_STYLE=1`.
pub const PATH_STYLE_ENV: &str = "TRAILHOUND_S3_PATH_STYLE";

/// The shared AWS configuration from the standard environment (`AWS_REGION`,
/// `AWS_ENDPOINT_URL`, credentials chain), with retries tuned for throttling: adaptive mode
/// (client-side rate limiting once throttled), more attempts, capped backoff.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .build(),
        )
        .load()
        .await
}

/// Retries for S3 and DynamoDB: throttling (`SlowDown`, `ProvisionedThroughputExceeded`,
/// `ThrottlingException`) backs off exponentially up to 20 s over 10 attempts, and adaptive
/// mode slows the client down rather than hammering a throttled partition.
pub fn retry_config() -> RetryConfig {
    RetryConfig::adaptive()
        .with_max_attempts(10)
        .with_initial_backoff(Duration::from_millis(100))
        .with_max_backoff(Duration::from_secs(20))
}

/// An S3 client from `conf`, path-style when [`PATH_STYLE_ENV`] is set to 1/true.
pub fn client(conf: &aws_config::SdkConfig) -> Client {
    let path_style = std::env::var(PATH_STYLE_ENV)
        .map(|v| matches!(v.as_str(), "1" | "true" | "yes"))
        .unwrap_or(false);
    let s3 = aws_sdk_s3::config::Builder::from(conf)
        .force_path_style(path_style)
        .build();
    Client::from_conf(s3)
}

/// Decoding settings owned (not borrowed), so a blocking thread can hold them.
#[derive(Clone)]
pub struct Decoder {
    pub engine: Arc<Engine>,
    pub geo: Arc<Geo>,
    pub limits: Limits,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// See [`Pipeline::newest_allowed`].
    pub newest_allowed: Option<i64>,
}

impl Decoder {
    /// The pipeline over these settings, bounded by the invocation's deadline when called
    /// under [`crate::deadline::scope`].
    pub fn pipeline(&self) -> Pipeline<'_> {
        Pipeline {
            engine: &self.engine,
            geo: &self.geo,
            limits: self.bounded_limits(),
            since: self.since,
            until: self.until,
            newest_allowed: self.newest_allowed,
        }
    }
}

impl Decoder {
    /// [`Decoder::limits`] with the invocation's deadline (the earlier one when both are set).
    pub fn bounded_limits(&self) -> Limits {
        let mut limits = self.limits;
        if let Some(stop) = crate::deadline::current() {
            limits.deadline = Some(limits.deadline.map_or(stop, |d| d.min(stop)));
        }
        limits
    }
}

/// An object read and decoded.
#[derive(Debug, Default)]
pub struct Fetched {
    pub decoded: Decoded,
    pub activities: Vec<Activity>,
    /// Bytes read from S3 (compressed size).
    pub bytes_in: u64,
}

/// Counts bytes and remembers a transport error, so a connection cut mid-body is reported
/// as a fetch failure (retry) rather than a corrupt object.
struct Counting<R> {
    inner: R,
    stats: Arc<Mutex<(u64, Option<String>)>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.stats.lock().expect("stats").0 += n as u64;
                Ok(n)
            }
            Err(e) => {
                self.stats.lock().expect("stats").1 = Some(e.to_string());
                Err(e)
            }
        }
    }
}

fn hint(code: Option<&str>) -> &'static str {
    match code {
        Some("NoSuchKey") => {
            "; the object is gone (deleted or expired before it was read): check lifecycle rules"
        }
        Some("NoSuchBucket") => "; check the bucket name in the event",
        Some("AccessDenied") => {
            "; allow s3:GetObject on this prefix in the function's role (and kms:Decrypt if the bucket uses SSE-KMS)"
        }
        Some("SlowDown") | Some("ServiceUnavailable") => {
            "; S3 throttled the read after retries: the event will be retried"
        }
        Some("PreconditionFailed") => {
            "; the object was overwritten after the event named it (its ETag changed): the version the event announced is gone, so it is not applied under that identity; a new event for the new content follows"
        }
        _ => "",
    }
}

/// Streams one object from S3 into the decoder. Zero-byte objects come back as skipped
/// (`empty`) from the decoder without special casing here.
///
/// The read is conditioned on the ETag the event named (`If-Match`): the object is applied
/// under the identity bucket/key/ETag, so content written later under the same key must
/// not be applied under the old identity (S3 answers 412, and the object fails naming
/// `s3://bucket/key`). A version id, when the event has one, already pins the content.
/// Under a deadline the request and the body are cut off at [`crate::deadline::current`].
pub async fn fetch_decode(
    client: &Client,
    decoder: &Decoder,
    target: &Target,
) -> Result<Fetched, ObjectError> {
    let object = target.object.clone();
    let mut req = client.get_object().bucket(&object.bucket).key(&object.key);
    if let Some(v) = &target.version_id {
        req = req.version_id(v);
    }
    let version_is_etag = target.version_id.as_deref() != Some(object.version.as_str());
    if !object.version.is_empty() && version_is_etag {
        req = req.if_match(format!("\"{}\"", object.version));
    }
    let stop = crate::deadline::current();
    let out = crate::deadline::bounded("S3 GetObject", req.send())
        .await
        .map_err(|_| ObjectError::OutOfTime {
            object: object.clone(),
            during: "fetching it (S3 GetObject)",
        })?
        .map_err(|e| ObjectError::Fetch {
            object: object.clone(),
            reason: format!("{}{}", DisplayErrorContext(&e), hint(e.code())),
        })?;
    let reader = crate::deadline::Until::new(Box::pin(out.body.into_async_read()), stop);
    let bridge = tokio_util::io::SyncIoBridge::new(reader);
    let stats = Arc::new(Mutex::new((0u64, None::<String>)));
    let counting = Counting {
        inner: bridge,
        stats: stats.clone(),
    };
    let mut dec = decoder.clone();
    // The blocking thread has no task-local deadline: carry it in the limits.
    dec.limits = decoder.bounded_limits();
    let obj = object.clone();
    let joined = tokio::task::spawn_blocking(move || dec.pipeline().decode(&obj, counting)).await;
    let (bytes_in, transport) = stats.lock().expect("stats").clone();
    match joined {
        Ok(Ok((decoded, activities))) => Ok(Fetched {
            decoded,
            activities,
            bytes_in,
        }),
        Ok(Err(e)) => Err(match transport {
            Some(cause) => ObjectError::Fetch {
                object,
                reason: format!(
                    "the connection failed after {bytes_in} bytes ({cause}); the event will be retried"
                ),
            },
            None => e,
        }),
        Err(join) => Err(ObjectError::Fetch {
            object,
            reason: format!("the decoder stopped unexpectedly: {join}"),
        }),
    }
}

/// An object found by a listing.
#[derive(Debug, Clone)]
pub struct Listed {
    pub target: Target,
    pub time: Option<i64>,
    pub size: u64,
}

/// `s3://bucket/prefix` → (bucket, prefix).
pub fn parse_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket.to_string(), prefix.to_string()))
}

/// Lists every log-like object under `s3://bucket/prefix` (all pages), ordered like a local
/// replay: by the time in the key, then by key; keys without a time last.
pub async fn list(client: &Client, url: &str) -> anyhow::Result<Vec<Listed>> {
    let mut out = list_matching(client, url, trailhound_core::ingest::log_like).await?;
    sort(&mut out);
    Ok(out)
}

/// Lists the objects under `s3://bucket/prefix` (all pages) whose key passes `keep`.
pub async fn list_matching(
    client: &Client,
    url: &str,
    keep: impl Fn(&str) -> bool,
) -> anyhow::Result<Vec<Listed>> {
    let (bucket, prefix) = parse_url(url)
        .ok_or_else(|| anyhow::anyhow!("{url}: not an S3 URL; write it as s3://bucket/prefix/"))?;
    let mut out = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(&bucket)
        .prefix(&prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            anyhow::anyhow!(
                "could not list {url}: {}{}",
                DisplayErrorContext(&e),
                match e.code() {
                    Some("AccessDenied") => "; allow s3:ListBucket on the bucket for this prefix",
                    Some("NoSuchBucket") => "; check the bucket name",
                    _ => "",
                }
            )
        })?;
        for o in page.contents() {
            let Some(key) = o.key() else { continue };
            if key.ends_with('/') || !keep(key) {
                continue;
            }
            let etag = o.e_tag().unwrap_or_default().trim_matches('"').to_string();
            out.push(Listed {
                time: key_time(key),
                size: o.size().unwrap_or(0).max(0) as u64,
                target: Target {
                    object: ObjectRef::s3(&bucket, key, etag),
                    version_id: None,
                    size: o.size(),
                },
            });
        }
    }
    Ok(out)
}

/// Objects with a time in their key first, by that time; then the rest by key.
pub fn sort(objects: &mut [Listed]) {
    objects.sort_by(|a, b| {
        trailhound_core::ingest::replay_order(a.time, &a.target.object.key).cmp(
            &trailhound_core::ingest::replay_order(b.time, &b.target.object.key),
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_order() {
        assert_eq!(
            parse_url("s3://logs/AWSLogs/1/"),
            Some(("logs".into(), "AWSLogs/1/".into()))
        );
        assert_eq!(parse_url("s3://logs"), Some(("logs".into(), "".into())));
        assert_eq!(parse_url("s3:///x"), None);
        assert_eq!(parse_url("/tmp/x"), None);
        let l = |k: &str| Listed {
            time: key_time(k),
            size: 1,
            target: Target {
                object: ObjectRef::s3("b", k, ""),
                version_id: None,
                size: Some(1),
            },
        };
        let mut v = vec![
            l("z/nodate.json"),
            l("a/2026/10/02/x.json"),
            l("a/1_CloudTrail_us-east-1_20261001T0105Z_a.json.gz"),
        ];
        sort(&mut v);
        let keys: Vec<&str> = v.iter().map(|x| x.target.object.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "a/1_CloudTrail_us-east-1_20261001T0105Z_a.json.gz",
                "a/2026/10/02/x.json",
                "z/nodate.json"
            ]
        );
        assert!(
            !trailhound_core::ingest::log_like("README.md")
                && trailhound_core::ingest::log_like("x.JSON.GZ")
        );
    }
}
