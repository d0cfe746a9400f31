//! Objects too large to hold: applied segment by segment, so a replay's memory does not grow
//! with object size.
//!
//! An object's activities are about 0.5 KiB each in memory; a 1 GB CloudTrail file holds
//! 600,000 of them. Past [`super::parallel::Setup::segment`] activities the first decode
//! keeps none (`Held::Segmented`) but still reads the object to its end, so its counts are
//! known and a truncated, oversized or otherwise bad object fails before any of it is
//! applied, exactly as a small one does. The object is then read again on its own thread,
//! which hands over segments of at most [`APPLY_SEGMENT`] activities, each sorted by event time,
//! through a channel of one; each segment is applied as a part of the object
//! (`ObjectRef::part` 1, 2, ...), so a replay continued from a state file skips the parts it
//! already applied. The segments overlap in time no more than the records of the file do,
//! and state already takes activity from objects that overlap in time.
//!
//! The cost is a second decode of such objects (decoding overlaps applying on the reading
//! thread); objects under the segment size, which is nearly all of a real archive, are
//! read once.

use tokio::sync::mpsc;
use trailhound_core::activity::{Activity, Sink};
use trailhound_core::events::{Event, Stats};
use trailhound_core::ingest::local::LocalObject;
use trailhound_core::ingest::{ObjectError, ObjectRef};
use trailhound_core::state::MemoryStore;

use super::Collected;
use super::parallel::Setup;

/// Default `--segment-records`: 65,536 activities, about 32 MiB held (a CloudTrail object
/// of about 100 MB of JSON; the files CloudTrail delivers are rarely a tenth of that).
pub const DEFAULT_SEGMENT: usize = 65_536;

/// The activities of one applied segment (at most): three are alive at a time (one being
/// decoded into, one in the channel, one being applied), about 8 MiB each.
pub const APPLY_SEGMENT: usize = 16_384;

/// Hands over full segments, sorted by event time.
struct Segments {
    acts: Vec<Activity>,
    size: usize,
    tx: mpsc::Sender<Vec<Activity>>,
    /// The applying side stopped (an error): nothing more is decoded into segments.
    closed: bool,
}

impl Segments {
    fn flush(&mut self) {
        if self.acts.is_empty() || self.closed {
            return;
        }
        let mut seg = std::mem::take(&mut self.acts);
        seg.sort_by_key(|a| a.time);
        self.closed = self.tx.blocking_send(seg).is_err();
    }
}

impl Sink for Segments {
    fn push(&mut self, a: Activity) {
        if self.closed {
            return;
        }
        if self.acts.is_empty() {
            self.acts.reserve(self.size);
        }
        self.acts.push(a);
        if self.acts.len() >= self.size {
            self.flush();
        }
    }
}

/// Reads `obj` again and applies it segment by segment (see the module docs).
pub async fn apply(
    setup: &Setup,
    store: &MemoryStore,
    obj: &LocalObject,
    stats: &mut Stats,
    collected: &mut Collected,
) -> anyhow::Result<()> {
    let size = setup.segment.clamp(1, APPLY_SEGMENT);
    let (tx, mut rx) = mpsc::channel(1);
    let reader = {
        let (setup, obj) = (setup.clone(), obj.clone());
        std::thread::Builder::new().name("segments".into()).spawn(
            move || -> Result<(), ObjectError> {
                let mut sink = Segments {
                    acts: Vec::new(),
                    size,
                    tx,
                    closed: false,
                };
                setup.decode_into(&obj, &mut sink)?;
                sink.flush();
                Ok(())
            },
        )?
    };
    let pipeline = setup.pipeline();
    let mut part = 0u32;
    let mut applied = Ok(());
    while let Some(seg) = rx.recv().await {
        part += 1;
        let object = ObjectRef {
            part,
            ..obj.object.clone()
        };
        applied = super::apply(&pipeline, store, &object, &seg, stats, collected).await;
        if applied.is_err() {
            break;
        }
    }
    drop(rx);
    let read = reader
        .join()
        .map_err(|_| anyhow::anyhow!("{}: the thread reading it panicked", obj.object))?;
    applied?;
    if let Err(error) = read {
        // The first read decoded it whole: the file changed (or became unreadable) since.
        tracing::error!(object = %obj.object, parts = part, %error, "the object failed when read again to apply it in segments; the parts before the error stay applied");
        stats.emit(Event::ObjectFailed {
            object: &obj.object,
            error: &error,
        });
    }
    Ok(())
}
