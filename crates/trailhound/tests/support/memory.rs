//! In-memory parts for the Lambda handler: objects in a map ([`MemoryObjects`], the
//! [`Fetch`] side), findings recorded instead of sent ([`MemorySink`], the [`Publish`]
//! side), and [`deps`] wiring them with a [`MemoryStore`] and the embedded detectors, as
//! [`super::Env::deps`] does with the real clients. No AWS API, no moto: the handler's logic
//! runs in milliseconds.

use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::Mutex;

use trailhound_aws::envelope::Target;
use trailhound_aws::lambda::{Deps, Fetch, Publish};
use trailhound_aws::s3::{Decoder, Fetched};
use trailhound_aws::sink::sns::{BatchOutcome, Message};
use trailhound_core::detect::Engine;
use trailhound_core::geo::Geo;
use trailhound_core::ingest::{ObjectError, ObjectRef};
use trailhound_core::record::Limits;
use trailhound_core::state::MemoryStore;

use super::fixtures::Obj;

/// The bucket [`MemoryObjects::upload`] puts objects in.
pub const BUCKET: &str = "org-cloudtrail-archive";

/// The handler's dependencies over in-memory parts.
pub type MemoryDeps = Deps<MemoryObjects, MemoryStore, MemorySink>;

/// Objects by (bucket, key), decoded on fetch like S3's `GetObject` into the decoder.
#[derive(Default)]
pub struct MemoryObjects {
    objects: Mutex<HashMap<(String, String), Vec<u8>>>,
    fetched: Mutex<Vec<ObjectRef>>,
}

impl MemoryObjects {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores one object; returns its reference (a content hash as the ETag) and size.
    pub fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> (ObjectRef, i64) {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        body.hash(&mut h);
        let etag = format!("{:016x}{:016x}", h.finish(), body.len());
        let size = body.len() as i64;
        self.objects
            .lock()
            .expect("objects lock")
            .insert((bucket.to_string(), key.to_string()), body);
        (ObjectRef::s3(bucket, key, etag), size)
    }

    /// Stores objects in [`BUCKET`], like [`super::Env::upload`].
    pub fn upload(&self, objs: &[Obj]) -> Vec<(ObjectRef, i64)> {
        objs.iter()
            .map(|o| self.put(BUCKET, &o.key, o.body.clone()))
            .collect()
    }

    /// Fetches so far (missing objects included).
    pub fn fetches(&self) -> usize {
        self.fetched.lock().expect("fetched lock").len()
    }

    /// The objects fetched so far, in order.
    pub fn fetched(&self) -> Vec<ObjectRef> {
        self.fetched.lock().expect("fetched lock").clone()
    }
}

impl Fetch for MemoryObjects {
    async fn fetch_decode(
        &self,
        decoder: &Decoder,
        target: &Target,
    ) -> Result<Fetched, ObjectError> {
        let object = &target.object;
        self.fetched
            .lock()
            .expect("fetched lock")
            .push(object.clone());
        let body = self
            .objects
            .lock()
            .expect("objects lock")
            .get(&(object.bucket.clone(), object.key.clone()))
            .cloned()
            .ok_or_else(|| ObjectError::Fetch {
                object: object.clone(),
                reason: "NoSuchKey: The specified key does not exist. (in memory)".into(),
            })?;
        let (decoded, activities) = decoder.pipeline().decode(object, &body[..])?;
        Ok(Fetched {
            decoded,
            activities,
            bytes_in: body.len() as u64,
        })
    }
}

/// One message the sink accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The finding id (the batch entry id).
    pub id: String,
    /// The `MessageStructure=json` body: `default` holds the finding JSON.
    pub body: String,
}

impl Sent {
    /// The finding the message carries.
    pub fn finding(&self) -> trailhound_core::alert::Finding {
        let body: serde_json::Value = serde_json::from_str(&self.body).expect("a JSON body");
        serde_json::from_str(body["default"].as_str().expect("a default message"))
            .expect("a finding")
    }
}

#[derive(Default)]
struct Plan {
    /// Calls to let through before failing.
    pass: usize,
    /// Calls to fail whole after those.
    fail: usize,
}

/// Records accepted messages instead of sending them. Can fail whole calls (as when SNS is
/// down) or refuse given finding ids within a call (as SNS's per-entry `Failed`).
#[derive(Default)]
pub struct MemorySink {
    sent: Mutex<Vec<Sent>>,
    plan: Mutex<Plan>,
    refused: Mutex<BTreeSet<String>>,
    calls: Mutex<usize>,
}

impl MemorySink {
    pub fn new() -> Self {
        Self::default()
    }

    /// Fails the next `n` calls whole (nothing accepted).
    pub fn fail_next(&self, n: usize) {
        self.fail_after(0, n);
    }

    /// Lets the next `pass` calls through, then fails `n` calls whole.
    pub fn fail_after(&self, pass: usize, n: usize) {
        *self.plan.lock().expect("plan lock") = Plan { pass, fail: n };
    }

    /// Refuses these finding ids (reported failed in the outcome) until [`Self::accept_all`].
    pub fn refuse<I: IntoIterator<Item = S>, S: Into<String>>(&self, ids: I) {
        self.refused
            .lock()
            .expect("refused lock")
            .extend(ids.into_iter().map(Into::into));
    }

    /// Stops refusing ids and failing calls.
    pub fn accept_all(&self) {
        self.refused.lock().expect("refused lock").clear();
        *self.plan.lock().expect("plan lock") = Plan::default();
    }

    /// Every accepted message, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().expect("sent lock").clone()
    }

    /// The finding ids of every accepted message, in order.
    pub fn ids(&self) -> Vec<String> {
        self.sent().into_iter().map(|s| s.id).collect()
    }

    /// `publish_batch` calls so far, failed ones included.
    pub fn calls(&self) -> usize {
        *self.calls.lock().expect("calls lock")
    }
}

impl Publish for MemorySink {
    async fn publish_batch(&self, batch: Vec<Message>) -> anyhow::Result<BatchOutcome> {
        *self.calls.lock().expect("calls lock") += 1;
        {
            let mut plan = self.plan.lock().expect("plan lock");
            if plan.pass > 0 {
                plan.pass -= 1;
            } else if plan.fail > 0 {
                plan.fail -= 1;
                anyhow::bail!(
                    "SNS PublishBatch failed for {} findings: the service is unavailable (test)",
                    batch.len()
                );
            }
        }
        let refused = self.refused.lock().expect("refused lock").clone();
        let mut outcome = BatchOutcome::default();
        let mut sent = self.sent.lock().expect("sent lock");
        for m in batch {
            if refused.contains(&m.id) {
                outcome
                    .failed
                    .push((m.id, "InternalError: refused (test)".into()));
            } else {
                sent.push(Sent {
                    id: m.id.clone(),
                    body: m.entry.message().to_string(),
                });
                outcome.accepted.push(m.id);
            }
        }
        Ok(outcome)
    }
}

/// The decoder [`deps`] uses: the embedded detectors with a learning period, the geo DB.
pub fn decoder(learning_days: u32) -> Decoder {
    let engine = Engine::defaults(i64::from(learning_days) * 86_400).expect("detectors load");
    let geo = Geo::open(&super::geoip()).expect("geo database opens");
    Decoder {
        engine: Arc::new(engine),
        geo: Arc::new(geo),
        limits: Limits::default(),
        since: None,
        until: None,
        newest_allowed: None,
    }
}

/// Handler dependencies over empty in-memory parts (put objects in with `deps.fetch`).
pub fn deps(learning_days: u32, min_severity: f64) -> MemoryDeps {
    Deps {
        fetch: MemoryObjects::new(),
        store: MemoryStore::new(),
        sink: MemorySink::new(),
        decoder: decoder(learning_days),
        min_severity,
        function_name: "trailhound-test".into(),
        emit_metrics: false,
    }
}
