//! Replay of `s3://bucket/prefix` URLs: one listing, ordered like a local replay, each
//! object streamed from S3 into the same decoder.

use std::sync::Arc;

use trailhound_aws::s3;
use trailhound_core::detect::Engine;
use trailhound_core::events::{Event, Stats};
use trailhound_core::geo::Geo;
use trailhound_core::state::MemoryStore;

use super::{Options, apply};

/// The objects under the replayed prefixes and the client that lists and reads them.
pub struct Remote {
    client: aws_sdk_s3::Client,
    listed: Vec<s3::Listed>,
}

impl Remote {
    pub fn len(&self) -> usize {
        self.listed.len()
    }

    /// The times in the listed keys.
    pub fn key_times(&self) -> impl Iterator<Item = i64> + '_ {
        self.listed.iter().filter_map(|o| o.time)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn process(
        &self,
        engine: &Arc<Engine>,
        geo: &Arc<Geo>,
        newest_allowed: Option<i64>,
        opts: &Options,
        store: &MemoryStore,
        bar: &indicatif::ProgressBar,
        stats: &mut Stats,
        findings: &mut super::Collected,
    ) -> anyhow::Result<()> {
        let decoder = s3::Decoder {
            engine: engine.clone(),
            geo: geo.clone(),
            limits: opts.limits,
            since: opts.since,
            until: opts.until,
            newest_allowed,
        };
        for obj in &self.listed {
            let key = &obj.target.object.key;
            bar.set_message(key.rsplit('/').next().unwrap_or("").to_string());
            process_s3(&self.client, &decoder, store, obj, stats, findings).await?;
            bar.inc(1);
        }
        Ok(())
    }
}

/// Lists every URL (none: no remote part of the replay).
pub async fn list(urls: &[&String]) -> anyhow::Result<Option<Remote>> {
    if urls.is_empty() {
        return Ok(None);
    }
    let client = s3::client(&s3::aws_config().await);
    let mut listed = Vec::new();
    for url in urls {
        listed.extend(s3::list(&client, url).await?);
    }
    s3::sort(&mut listed);
    Ok(Some(Remote { client, listed }))
}

/// One object of an `s3://` replay: streamed from S3, otherwise as a local file.
async fn process_s3(
    client: &aws_sdk_s3::Client,
    decoder: &s3::Decoder,
    store: &MemoryStore,
    obj: &s3::Listed,
    stats: &mut Stats,
    findings: &mut super::Collected,
) -> anyhow::Result<()> {
    let object = &obj.target.object;
    let fetched = match s3::fetch_decode(client, decoder, &obj.target).await {
        Ok(f) => f,
        Err(error) => {
            stats.emit(Event::ObjectFailed {
                object,
                error: &error,
            });
            return Ok(());
        }
    };
    stats.emit(Event::BytesRead {
        bytes: fetched.bytes_in,
    });
    stats.emit(Event::Decoded {
        object,
        decoded: &fetched.decoded,
    });
    apply(
        &decoder.pipeline(),
        store,
        &obj.target.object,
        &fetched.activities,
        stats,
        findings,
    )
    .await
}
