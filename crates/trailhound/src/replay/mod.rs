//! The replay driver: local folders (or an S3 prefix) of archived logs, processed in the order
//! of the time in their keys, with in-memory state (optionally loaded from and saved to a
//! file); findings go to stdout, progress and a summary to stderr.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use trailhound_core::alert::Finding;
use trailhound_core::detect::Engine;
use trailhound_core::events::{Event, Stats};
use trailhound_core::geo::Geo;
use trailhound_core::ingest::local::{self, LocalObject};
use trailhound_core::pipeline::Pipeline;
use trailhound_core::record::Limits;
use trailhound_core::state::MemoryStore;

pub mod parallel;
#[cfg(feature = "s3")]
mod remote;
pub mod report;
mod segments;
pub use segments::DEFAULT_SEGMENT;
#[cfg(not(feature = "s3"))]
mod remote {
    //! This build has no S3 support (the `s3` feature is off).
    pub struct Remote;
    impl Remote {
        pub fn len(&self) -> usize {
            0
        }
        pub fn key_times(&self) -> impl Iterator<Item = i64> {
            std::iter::empty()
        }
    }
    pub async fn list(urls: &[&String]) -> anyhow::Result<Option<Remote>> {
        if urls.is_empty() {
            return Ok(None);
        }
        Err(super::UsageError(
            "this trailhound was built without S3 support: build it with the default features to replay s3:// prefixes".into(),
        )
        .into())
    }
}

/// A usage or configuration error: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Everything a replay needs, as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub paths: Vec<String>,
    pub detectors: Option<PathBuf>,
    pub geoip: Option<PathBuf>,
    pub state: Option<PathBuf>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub learning: i64,
    pub limits: Limits,
    pub progress: bool,
    /// Threads that read and decode local objects (0: the cores available); objects are
    /// still applied one by one in key-time order.
    pub jobs: usize,
    /// Decode and normalize only: no state, no detectors (for benchmarks).
    pub decode_only: bool,
    /// Write the HTML investigation report there (and record the observed series for it).
    pub report: Option<PathBuf>,
    /// Local objects of more activities than this are applied in segments of this many,
    /// so memory does not grow with object size (0: every object whole; see `segments`).
    pub segment_records: usize,
}

pub struct Output {
    /// The latest version of every finding raised, ordered by first seen then id.
    pub findings: Vec<Finding>,
    pub stats: Stats,
    pub elapsed: Duration,
}

/// Loads the detectors: the embedded defaults, with a folder of `*.toml` merged over them by id.
pub fn load_engine(dir: Option<&Path>, learning: i64) -> anyhow::Result<Engine> {
    let engine = match dir {
        Some(d) => {
            let files = trailhound_core::detect::spec::read_dir(d)
                .map_err(|e| UsageError(e.to_string()))?;
            Engine::merged(&files, learning)
        }
        None => Engine::defaults(learning),
    };
    engine.map_err(|e| UsageError(format!("invalid detector files:\n{e}")).into())
}

/// Opens the geo database: `--geoip`, else `$TRAILHOUND_GEOIP`, else `geo/country.mmdb` if present.
pub fn load_geo(path: Option<&Path>) -> anyhow::Result<Geo> {
    let from_env = std::env::var_os("TRAILHOUND_GEOIP")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let explicit = path.map(Path::to_path_buf).or(from_env);
    match explicit {
        Some(p) => Geo::open(&p).map_err(|e| UsageError(format!("{e:#}")).into()),
        None => {
            let default = Path::new("geo/country.mmdb");
            if default.exists() {
                Geo::open(default)
            } else {
                tracing::warn!(
                    "no geo database (geo/country.mmdb): unusual-geo will not fire; run scripts/setup.sh or pass --geoip FILE"
                );
                Ok(Geo::none())
            }
        }
    }
}

/// A loading thread's result; its panic resumed as itself.
fn joined<T>(t: std::thread::JoinHandle<T>) -> T {
    t.join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// The S3 prefixes and the local objects of `opts.paths` (one kind only).
fn split_paths(opts: &Options) -> anyhow::Result<(Vec<&String>, Vec<LocalObject>)> {
    let (remote, locals): (Vec<&String>, Vec<&String>) =
        opts.paths.iter().partition(|p| p.starts_with("s3://"));
    if !remote.is_empty() && !locals.is_empty() {
        return Err(UsageError(
            "replay either S3 prefixes or local paths, not both in one run".into(),
        )
        .into());
    }
    let locals: Vec<PathBuf> = locals.into_iter().map(PathBuf::from).collect();
    let objects = local::list(&locals).map_err(|e| UsageError(format!("{e:#}")))?;
    Ok((remote, objects))
}

/// Runs a replay and returns its findings and counters.
pub async fn run(opts: &Options) -> anyhow::Result<Output> {
    let started = Instant::now();
    // The detectors and the geo database load on threads of their own while the objects are
    // listed: each takes milliseconds (the geo database, 7.8 MB read into memory, the
    // longest), and serial time is what keeps `--jobs N` under N times one job on an archive
    // of small objects (an empty replay: 11.1 -> 9.6 ms with the two apart). Errors are
    // reported in the order of the steps: detectors, geo database, listing.
    let engine = std::thread::spawn({
        let (detectors, learning) = (opts.detectors.clone(), opts.learning);
        move || load_engine(detectors.as_deref(), learning)
    });
    let geo = std::thread::spawn({
        let geoip = opts.geoip.clone();
        move || load_geo(geoip.as_deref())
    });
    let listed = split_paths(opts);
    let engine = joined(engine)?;
    let geo = joined(geo)?;
    let (engine, geo) = (std::sync::Arc::new(engine), std::sync::Arc::new(geo));
    let (remote, objects) = listed?;
    // Objects are applied one after another (`--jobs` parallelizes decoding only): the
    // store moves states instead of copying them.
    let store = match &opts.state {
        Some(p) if p.exists() => {
            MemoryStore::load_file(p).map_err(|e| UsageError(format!("{e:#}")))?
        }
        _ => MemoryStore::new(),
    }
    .exclusive();
    let remote = remote::list(&remote).await?;
    // Records may be dated at most a little after the newest key time of the run (with no
    // key times: after now).
    let newest_key = objects
        .iter()
        .filter_map(|o| o.time)
        .chain(remote.iter().flat_map(|r| r.key_times()))
        .max();
    let newest_allowed = newest_key.map(|t| t + trailhound_core::pipeline::FUTURE_SLACK);
    let bar = progress(
        opts.progress,
        (objects.len() + remote.as_ref().map_or(0, |r| r.len())) as u64,
    );
    let mut stats = Stats::default();
    let mut findings = Collected {
        findings: BTreeMap::new(),
        series: opts.report.as_ref().map(|_| report::Recorder::new(&engine)),
    };
    let jobs = match opts.jobs {
        0 => parallel::default_jobs(),
        n => n,
    };
    let setup = parallel::Setup {
        engine: engine.clone(),
        geo: geo.clone(),
        limits: opts.limits,
        since: opts.since,
        until: opts.until,
        newest_allowed,
        segment: opts.segment_records,
        ahead: jobs > objects.len(),
    };
    let decoded = parallel::Ordered::start(setup.clone(), objects.clone(), jobs);
    let recycler = decoded.recycler();
    for (obj, result) in decoded {
        bar.set_message(obj.object.key.rsplit('/').next().unwrap_or("").to_string());
        process_local(
            &setup,
            &store,
            &obj,
            result,
            &recycler,
            opts.decode_only,
            &mut stats,
            &mut findings,
        )
        .await?;
        bar.inc(1);
    }
    #[cfg(feature = "s3")]
    if let Some(remote) = &remote {
        remote
            .process(
                &engine,
                &geo,
                newest_allowed,
                opts,
                &store,
                &bar,
                &mut stats,
                &mut findings,
            )
            .await?;
    }
    bar.finish_and_clear();
    if let Some(p) = &opts.state {
        store.save_file(p)?;
    }
    let series = findings.series;
    let mut findings: Vec<Finding> = findings.findings.into_values().collect();
    findings.sort_by(|a, b| (&a.first_seen, &a.id).cmp(&(&b.first_seen, &b.id)));
    if let (Some(path), Some(series)) = (&opts.report, &series) {
        let html = report::render(&report::Report {
            findings: &findings,
            stats: &stats,
            engine: &engine,
            geo: &geo,
            series,
        });
        std::fs::write(path, html).map_err(|e| {
            UsageError(format!(
                "cannot write the report to {}: {e} (pass --report with a writable file path)",
                path.display()
            ))
        })?;
    }
    // Freeing every entity's state (tens of thousands of maps) and the detectors (with their
    // test cases) took 1.8% and 2% of a replay of the realistic CloudTrail file (perf,
    // callgrind): a thread frees them while the findings are written, and the process may
    // exit before it is done.
    drop(setup);
    std::thread::spawn(move || drop((store, engine)));
    Ok(Output {
        findings,
        stats,
        elapsed: started.elapsed(),
    })
}

#[allow(clippy::too_many_arguments)]
async fn process_local(
    setup: &parallel::Setup,
    store: &MemoryStore,
    obj: &LocalObject,
    decoded: parallel::DecodeResult,
    recycler: &parallel::Recycler,
    decode_only: bool,
    stats: &mut Stats,
    findings: &mut Collected,
) -> anyhow::Result<()> {
    let object = &obj.object;
    stats.emit(Event::BytesRead { bytes: obj.size });
    let (decoded, acts) = match decoded {
        Ok(v) => v,
        Err(error) => {
            stats.emit(Event::ObjectFailed {
                object,
                error: &error,
            });
            return Ok(());
        }
    };
    stats.emit(Event::Decoded {
        object,
        decoded: &decoded,
    });
    match acts {
        parallel::Held::All(acts) => {
            let applied = if decode_only {
                Ok(())
            } else {
                apply(&setup.pipeline(), store, object, &acts, stats, findings).await
            };
            recycler.give(acts);
            applied
        }
        parallel::Held::Segmented if decode_only => Ok(()),
        parallel::Held::Segmented => segments::apply(setup, store, obj, stats, findings).await,
    }
}

/// What a replay collects: the latest version of each finding, and the observed series
/// when a report was asked for.
pub struct Collected {
    pub findings: BTreeMap<String, Finding>,
    pub series: Option<report::Recorder>,
}

/// Applies one object's activities and keeps the latest version of each finding; replay
/// "publishes" to its output, so the findings are marked published at once.
async fn apply(
    pipeline: &Pipeline<'_>,
    store: &MemoryStore,
    object: &trailhound_core::ingest::ObjectRef,
    acts: &[trailhound_core::activity::Activity],
    stats: &mut Stats,
    collected: &mut Collected,
) -> anyhow::Result<()> {
    use trailhound_core::state::Store;
    if let Some(series) = &mut collected.series {
        series.observe(acts);
    }
    let findings = &mut collected.findings;
    let applied = pipeline.apply(store, object, acts, |_| true).await?;
    if applied.duplicate {
        stats.emit(Event::Duplicate { object });
    }
    if applied.suppressions != Default::default() {
        stats.emit(Event::Suppressed {
            object,
            counts: applied.suppressions,
        });
    }
    for finding in &applied.findings {
        stats.emit(Event::Finding { finding });
    }
    let ids: Vec<String> = applied.findings.iter().map(|f| f.id.clone()).collect();
    for f in applied.findings {
        findings.insert(f.id.clone(), f);
    }
    if !ids.is_empty() {
        store.mark_published(object, &ids).await?;
    }
    Ok(())
}

fn progress(enabled: bool, total: u64) -> indicatif::ProgressBar {
    if !enabled {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} objects {binary_bytes_per_sec} {msg}")
            .expect("valid template"),
    );
    bar
}

/// The closing summary, for stderr.
pub fn summary(out: &Output) -> String {
    let s = &out.stats;
    let list = |m: &BTreeMap<&'static str, u64>| {
        if m.is_empty() {
            "none".to_string()
        } else {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let mut by_detector: BTreeMap<&str, u64> = BTreeMap::new();
    for f in &out.findings {
        *by_detector.entry(f.detector.as_str()).or_default() += 1;
    }
    let findings = if by_detector.is_empty() {
        "none".to_string()
    } else {
        by_detector
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let by_content = if s.skipped_by_content.is_empty() {
        String::new()
    } else {
        format!(
            "; under log keys, skipped by content: {}",
            s.skipped_by_content
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let secs = out.elapsed.as_secs_f64().max(1e-6);
    let mb = s.bytes_in as f64 / 1e6;
    let mbi = s.bytes_inflated as f64 / 1e6;
    format!(
        "objects read {} ({}); skipped {} ({}){}; failed {} ({}); records {}; bad records {} ({}); odd values tolerated: {}; findings {} ({}); suppressed {} (matched only by an expired suppression: {})\n{:.1} MB read ({:.1} MB inflated) in {:.2}s: {:.1} MB/s ({:.1} MB/s inflated)",
        s.objects_read(),
        list(&s.objects),
        s.skipped_total(),
        list(&s.skipped),
        by_content,
        s.errors.values().sum::<u64>(),
        list(&s.errors),
        s.records,
        s.bad_total(),
        list(&s.bad_records),
        list(&s.odd_values),
        out.findings.len(),
        findings,
        s.suppressed,
        s.suppression_expired,
        mb,
        mbi,
        secs,
        mb / secs,
        mbi / secs,
    )
}
