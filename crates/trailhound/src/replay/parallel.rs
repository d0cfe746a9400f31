//! `replay --jobs N`: local objects are read, inflated, decoded and normalized on N - 1
//! threads while the calling thread applies them, in the order of the list (key time), so
//! state and detectors see exactly what a one-thread replay sees. The applying thread is one
//! of the N: with N decoders beside it, N + 1 busy threads shared N cores and the applier,
//! the one part that cannot be parallelized, got only N/(N + 1) of a core (`--jobs 2` on 2
//! cores was 1.40x `--jobs 1`). When the object it needs next is not decoded yet, the
//! applying thread decodes the next unclaimed one itself instead of waiting, so a
//! decode-bound replay (`--decode-only`) still uses all N. At most `2 * N` decoded objects
//! wait to be applied, each holding at most `--segment-records` activities, so memory stays
//! bounded however far the decoders could run ahead.
//!
//! With one job nothing is spawned: each object is decoded when it is asked for.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use trailhound_core::activity::{Activity, Decoded, Sink};
use trailhound_core::detect::Engine;
use trailhound_core::geo::Geo;
use trailhound_core::ingest::ObjectError;
use trailhound_core::ingest::local::LocalObject;
use trailhound_core::pipeline::Pipeline;
use trailhound_core::record::Limits;

/// One object's decode result.
pub type DecodeResult = Result<(Decoded, Held), ObjectError>;

/// An object's activities after its first decode.
#[derive(Debug)]
pub enum Held {
    /// All of them, sorted by event time.
    All(Vec<Activity>),
    /// More than [`Setup::segment`]: not held. The object was decoded whole (so its counts
    /// are known and a bad object fails before any of it is applied); it is read again and
    /// applied segment by segment (`super::segments`).
    Segmented,
}

/// Hands applied activities back to the decoding threads, which drop them between objects:
/// the applier, the one serial part, does not spend its time freeing what another thread
/// allocated (cross-thread frees were a good part of why `--jobs 2` fell short of 2x).
#[derive(Clone, Default)]
pub struct Recycler(Option<mpsc::Sender<Vec<Activity>>>);

impl Recycler {
    pub fn give(&self, acts: Vec<Activity>) {
        if let Some(tx) = &self.0 {
            // A stopped decoder (the end of the list) leaves the drop here.
            let _ = tx.send(acts);
        }
    }
}

type Spent = Arc<Mutex<mpsc::Receiver<Vec<Activity>>>>;

/// A sink that holds at most `cap` activities and then none.
struct Bounded {
    acts: Vec<Activity>,
    cap: usize,
    over: bool,
}

impl Sink for Bounded {
    fn push(&mut self, a: Activity) {
        if self.over {
            return;
        }
        if self.acts.len() >= self.cap {
            self.over = true;
            self.acts = Vec::new();
            return;
        }
        self.acts.push(a);
    }
}

/// What a decoding thread needs to build its own [`Pipeline`].
#[derive(Clone)]
pub struct Setup {
    pub engine: Arc<Engine>,
    pub geo: Arc<Geo>,
    pub limits: Limits,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub newest_allowed: Option<i64>,
    /// Objects of more activities than this are applied in segments of this many
    /// (`--segment-records`; 0: every object whole).
    pub segment: usize,
    /// Objects of at least [`AHEAD_MIN`] compressed bytes are inflated on a thread of their
    /// own while they are parsed: set when more jobs were asked for than there are objects
    /// (a replay of one large file with `--jobs 2`), where a core would sit idle otherwise.
    /// Not with one job, nor when every job has objects of its own.
    pub ahead: bool,
}

/// The smallest object inflated on a thread of its own when [`Setup::ahead`] is set: below
/// it, starting the thread costs more than the overlap saves.
pub const AHEAD_MIN: u64 = 1 << 20;

impl Setup {
    /// Reads and decodes `obj` into `sink`, inflating on a thread of its own when
    /// [`Setup::ahead`] is set and the object is at least [`AHEAD_MIN`].
    pub fn decode_into(
        &self,
        obj: &LocalObject,
        sink: &mut dyn Sink,
    ) -> Result<Decoded, ObjectError> {
        let pipeline = self.pipeline();
        if self.ahead && obj.size >= AHEAD_MIN {
            pipeline.decode_ahead_into(&obj.object, open(obj)?, sink)
        } else {
            pipeline.decode_into(&obj.object, open(obj)?, sink)
        }
    }

    pub fn pipeline(&self) -> Pipeline<'_> {
        Pipeline {
            engine: &self.engine,
            geo: &self.geo,
            limits: self.limits,
            since: self.since,
            until: self.until,
            newest_allowed: self.newest_allowed,
        }
    }
}

/// Opens a local object.
pub fn open(obj: &LocalObject) -> Result<std::fs::File, ObjectError> {
    std::fs::File::open(&obj.path).map_err(|source| ObjectError::Read {
        object: obj.object.clone(),
        source,
    })
}

/// Reads and decodes one local object, holding at most `setup.segment` activities (0: all).
pub fn decode(setup: &Setup, obj: &LocalObject) -> DecodeResult {
    let mut sink = Bounded {
        acts: Vec::new(),
        cap: if setup.segment == 0 {
            usize::MAX
        } else {
            setup.segment
        },
        over: false,
    };
    let decoded = setup.decode_into(obj, &mut sink)?;
    if sink.over {
        return Ok((decoded, Held::Segmented));
    }
    let mut acts = sink.acts;
    acts.sort_by_key(|a| a.time);
    Ok((decoded, Held::All(acts)))
}

/// The number of jobs when `--jobs` is not given: the cores this process may use.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Decode results of a list of objects, in list order.
pub struct Ordered {
    objects: Arc<Vec<LocalObject>>,
    setup: Setup,
    next: usize,
    threads: Option<Threads>,
}

struct Threads {
    rx: mpsc::Receiver<(usize, DecodeResult)>,
    pending: BTreeMap<usize, DecodeResult>,
    /// How many results the consumer has taken (`usize::MAX / 2` once it stops).
    gate: Arc<(Mutex<usize>, Condvar)>,
    /// The next object no thread has claimed.
    claim: Arc<AtomicUsize>,
    window: Arc<Window>,
    workers: Vec<JoinHandle<()>>,
    recycle: mpsc::Sender<Vec<Activity>>,
}

const STOP: usize = usize::MAX / 2;

/// How far decoding may run ahead of applying: at least `2 * jobs` objects, and up to
/// `32 * jobs` while the objects in between hold at most [`AHEAD_BYTES`] of compressed data.
/// Delivered objects are mostly 5-50 KB: a window of four let a decoder wait for the
/// applier every few tenths of a millisecond, and `--jobs 2` fell short of 2x (1.64x on
/// the many-small-objects archive); a byte budget keeps a run of 100 MB objects to a few
/// held at a time.
pub struct Window {
    /// Compressed bytes of the objects before each index (`len + 1` entries).
    before: Vec<u64>,
    min: usize,
    max: usize,
}

/// Compressed bytes decoding may run ahead by, past the minimum window (about twice as
/// much held in activities).
const AHEAD_BYTES: u64 = 4 << 20;

impl Window {
    fn new(objects: &[LocalObject], jobs: usize) -> Window {
        let mut before = Vec::with_capacity(objects.len() + 1);
        let mut sum = 0u64;
        before.push(0);
        for o in objects {
            sum += o.size;
            before.push(sum);
        }
        Window {
            before,
            min: 2 * jobs,
            max: 32 * jobs,
        }
    }

    /// The first object index that may not be decoded while `taken` objects are applied.
    fn limit(&self, taken: usize) -> usize {
        let len = self.before.len() - 1;
        let taken = taken.min(len);
        let mut end = (taken + self.min).min(len);
        let cap = (taken + self.max).min(len);
        while end < cap && self.before[end + 1] - self.before[taken] <= AHEAD_BYTES {
            end += 1;
        }
        end
    }
}

impl Ordered {
    /// Starts `jobs - 1` decoding threads (none for one job or one object): the caller,
    /// applying what they decode, is the last job.
    pub fn start(setup: Setup, objects: Vec<LocalObject>, jobs: usize) -> Ordered {
        let objects = Arc::new(objects);
        let jobs = jobs.max(1).min(objects.len());
        let threads = (jobs > 1).then(|| {
            let window = Arc::new(Window::new(&objects, jobs));
            let decoders = jobs - 1;
            let (tx, rx) = mpsc::channel();
            let gate = Arc::new((Mutex::new(0usize), Condvar::new()));
            let claim = Arc::new(AtomicUsize::new(0));
            let (recycle, spent) = mpsc::channel();
            let spent: Spent = Arc::new(Mutex::new(spent));
            let workers = (0..decoders)
                .map(|n| {
                    let (tx, gate, claim) = (tx.clone(), gate.clone(), claim.clone());
                    let window = window.clone();
                    let spent = spent.clone();
                    let (setup, objects) = (setup.clone(), objects.clone());
                    std::thread::Builder::new()
                        .name(format!("decode-{n}"))
                        .spawn(move || {
                            worker(&setup, &objects, &claim, &gate, &window, &tx, &spent)
                        })
                        .expect("spawning a decode thread")
                })
                .collect();
            Threads {
                rx,
                pending: BTreeMap::new(),
                gate,
                claim,
                window,
                workers,
                recycle,
            }
        });
        Ordered {
            objects,
            setup,
            next: 0,
            threads,
        }
    }
}

impl Ordered {
    /// Where the caller gives back activities it is done with.
    pub fn recycler(&self) -> Recycler {
        Recycler(self.threads.as_ref().map(|t| t.recycle.clone()))
    }
}

impl Iterator for Ordered {
    type Item = (LocalObject, DecodeResult);

    /// The next object in list order and its decode result (blocks until it is decoded).
    fn next(&mut self) -> Option<(LocalObject, DecodeResult)> {
        let i = self.next;
        let obj = self.objects.get(i)?.clone();
        self.next += 1;
        let result = match &mut self.threads {
            None => decode(&self.setup, &obj),
            Some(t) => {
                let result = loop {
                    if let Some(r) = t.pending.remove(&i) {
                        break r;
                    }
                    if let Ok((j, r)) = t.rx.try_recv() {
                        t.pending.insert(j, r);
                        continue;
                    }
                    // Not decoded yet: decode the next unclaimed object here (within the
                    // window) rather than wait; else wait for a decoder.
                    let limit = t.window.limit(i);
                    let c = t.claim.load(Ordering::Relaxed);
                    if c < limit
                        && t.claim
                            .compare_exchange(c, c + 1, Ordering::Relaxed, Ordering::Relaxed)
                            .is_ok()
                    {
                        let r = decode(&self.setup, &self.objects[c]);
                        t.pending.insert(c, r);
                        continue;
                    }
                    if c < limit {
                        continue; // a decoder claimed it first: look again
                    }
                    let (j, r) =
                        t.rx.recv()
                            .expect("a decode thread stopped before its object was decoded");
                    t.pending.insert(j, r);
                };
                let (lock, cv) = &*t.gate;
                *lock.lock().unwrap_or_else(|e| e.into_inner()) = self.next;
                cv.notify_all();
                result
            }
        };
        Some((obj, result))
    }
}

impl Drop for Ordered {
    fn drop(&mut self) {
        if let Some(t) = self.threads.take() {
            let (lock, cv) = &*t.gate;
            *lock.lock().unwrap_or_else(|e| e.into_inner()) = STOP;
            cv.notify_all();
            drop(t.rx);
            for w in t.workers {
                let _ = w.join();
            }
        }
    }
}

fn worker(
    setup: &Setup,
    objects: &[LocalObject],
    claim: &AtomicUsize,
    gate: &(Mutex<usize>, Condvar),
    window: &Window,
    tx: &mpsc::Sender<(usize, DecodeResult)>,
    spent: &Spent,
) {
    loop {
        drain(spent);
        let i = claim.fetch_add(1, Ordering::Relaxed);
        if i >= objects.len() {
            return;
        }
        // Wait until the consumer is close enough to this one (see `Window`).
        {
            let (lock, cv) = gate;
            let mut taken = lock.lock().unwrap_or_else(|e| e.into_inner());
            while *taken != STOP && i >= window.limit(*taken) {
                taken = cv.wait(taken).unwrap_or_else(|e| e.into_inner());
            }
            if *taken == STOP {
                return;
            }
        }
        if tx.send((i, decode(setup, &objects[i]))).is_err() {
            return;
        }
    }
}

/// Drops the activities the applier gave back.
fn drain(spent: &Spent) {
    let batch: Vec<Vec<Activity>> = {
        let rx = spent.lock().unwrap_or_else(|e| e.into_inner());
        rx.try_iter().collect()
    };
    drop(batch);
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailhound_core::ingest::ObjectRef;

    fn objects(sizes: &[u64]) -> Vec<LocalObject> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| LocalObject {
                path: format!("o{i}.json.gz").into(),
                object: ObjectRef {
                    bucket: String::new(),
                    key: format!("o{i}.json.gz"),
                    version: String::new(),
                    part: 0,
                },
                time: None,
                size,
            })
            .collect()
    }

    /// Small objects: up to `32 * jobs` ahead within the byte budget; large ones: the
    /// minimum window of `2 * jobs` whatever their size; never past the list's end.
    #[test]
    fn decoding_runs_ahead_by_bytes_within_object_bounds() {
        let small = Window::new(&objects(&[10_000; 200]), 2);
        assert_eq!(small.limit(0), 64);
        assert_eq!(small.limit(150), 200);
        assert_eq!(small.limit(STOP), 200);
        let big = Window::new(&objects(&[100 << 20; 10]), 2);
        assert_eq!(big.limit(0), 4);
        assert_eq!(big.limit(8), 10);
        // 1 MiB objects: the minimum four, then as many more as fit in 4 MiB from `taken`.
        let mid = Window::new(&objects(&[1 << 20; 20]), 2);
        assert_eq!(mid.limit(0), 4);
        let mixed = Window::new(
            &objects(&[1_000, 1_000, 1_000, 1_000, 1_000, 5 << 20, 1_000]),
            1,
        );
        assert_eq!(mixed.limit(0), 5);
    }
}
