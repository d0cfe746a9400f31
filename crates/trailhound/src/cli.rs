//! Command-line interface. `main` only parses arguments and picks a driver.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::replay::{self, UsageError};

#[derive(Parser, Debug)]
#[command(
    name = "trailhound",
    version,
    about = "Threat detection for AI workloads on AWS: CloudTrail and Bedrock invocation logs"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Replay archived logs (local files or folders) and print the findings the Lambda would raise.
    Replay(ReplayArgs),
    /// Inspect detector files.
    #[command(subcommand)]
    Detectors(DetectorsCmd),
    /// Run as the AWS Lambda function (also chosen when AWS_LAMBDA_RUNTIME_API is set).
    Lambda,
}

#[derive(Subcommand, Debug)]
pub enum DetectorsCmd {
    /// Validate the detector files in a folder (merged over the embedded ones by id); reports
    /// file, field and reason of each error, and detectors without `[[test]]` cases.
    Check { dir: PathBuf },
    /// Run the `[[test]]` cases of every detector: the embedded ones, with DIR merged over them
    /// by id. Prints `ok` or `FAIL` per case; exits 1 when any case fails or a detector has none.
    Test {
        dir: Option<PathBuf>,
        /// MMDB geo database for cases that do not fix their countries (default: as replay).
        #[arg(long)]
        geoip: Option<PathBuf>,
    },
    /// List detectors: id, kind, severity, title.
    List {
        /// Folder of detector files, merged over the embedded detectors by id (same id replaces,
        /// new id adds, `enabled = false` turns one off).
        #[arg(long)]
        detectors: Option<PathBuf>,
    },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Jsonl,
    /// OCSF 1.8.0 Detection Finding (class 2004), one JSON object per line.
    Ocsf,
    /// AWS Security Finding Format (Security Hub `BatchImportFindings`), one per line.
    Asff,
}

#[derive(Parser, Debug)]
pub struct ReplayArgs {
    /// Files or folders (walked recursively) of .json.gz, .json, .jsonl(.gz) objects laid out as in S3.
    #[arg(required = true)]
    pub paths: Vec<String>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Folder of detector files, merged over the embedded detectors by id (same id replaces,
    /// new id adds, `enabled = false` turns one off).
    #[arg(long)]
    pub detectors: Option<PathBuf>,
    /// MMDB geo database (default: $TRAILHOUND_GEOIP, else geo/country.mmdb).
    #[arg(long)]
    pub geoip: Option<PathBuf>,
    /// Load state from FILE before, save it after (continue where the last replay stopped).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Only events at or after this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    pub since: Option<i64>,
    /// Only events before this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    pub until: Option<i64>,
    /// Learning period before baseline detectors may fire.
    #[arg(long, default_value = "7d", value_parser = parse_duration)]
    pub learning: i64,
    /// Cap on inflated bytes per object (decompression bombs stop here), e.g. 512MB, 2GiB.
    #[arg(long, default_value = "2GiB", value_parser = parse_size)]
    pub max_object_bytes: u64,
    /// Cap on the records one object may hold (its activities are held in memory until
    /// applied); an object past it fails, counted as too-many-records.
    #[arg(long, default_value_t = trailhound_core::record::DEFAULT_MAX_RECORDS)]
    pub max_records: u64,
    /// Objects of more records than this are applied in segments of this many, so memory
    /// does not grow with object size; such objects are decoded twice (once whole, so a bad
    /// object fails before any of it is applied). 0 holds every object whole.
    #[arg(long, value_name = "N", default_value_t = replay::DEFAULT_SEGMENT)]
    pub segment_records: usize,
    /// Do not draw the progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Threads (default: the cores available): N - 1 read and decode objects, one applies
    /// them in key-time order and decodes when it would wait. The findings are the same
    /// for any N.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Only read, decode and normalize the records (no state, no detectors, no findings):
    /// the input side alone, for benchmarks.
    #[arg(long)]
    pub decode_only: bool,
    /// Also write an HTML investigation report to FILE: a self-contained page (no network)
    /// with the run summary, a timeline, charts of rate findings and the evidence.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

fn parse_time(s: &str) -> Result<i64, String> {
    trailhound_core::time::parse(s)
        .ok_or_else(|| format!("`{s}` is not a time such as 2026-10-09T00:00:00Z"))
}

fn parse_duration(s: &str) -> Result<i64, String> {
    trailhound_core::time::parse_duration(s)
        .ok_or_else(|| format!("`{s}` is not a duration such as 7d, 12h"))
}

/// `1048576`, `10MB`, `512MiB`, `2GiB`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{s}` is not a size such as 512MB or 2GiB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" => 1 << 10,
        "mb" => 1_000_000,
        "mib" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => {
            return Err(format!(
                "`{s}`: unknown unit (B, KB, KiB, MB, MiB, GB, GiB)"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))
}

fn init_logs() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

#[cfg(feature = "lambda")]
fn lambda_main() -> i32 {
    trailhound_aws::lambda::main()
}

#[cfg(not(feature = "lambda"))]
fn lambda_main() -> i32 {
    eprintln!(
        "error: this trailhound was built without the Lambda driver: build it with the default features"
    );
    2
}

/// Runs the CLI and returns the process exit code: 0 ran fine (findings or not), 2 usage or
/// configuration error, 1 anything else.
pub fn main() -> i32 {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return lambda_main();
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    if matches!(cli.command, Command::Lambda) {
        return lambda_main();
    }
    init_logs();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<UsageError>().is_some() {
                2
            } else {
                1
            }
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Replay(args) => {
            let opts = replay::Options {
                paths: args.paths,
                detectors: args.detectors,
                geoip: args.geoip,
                state: args.state,
                since: args.since,
                until: args.until,
                learning: args.learning,
                limits: trailhound_core::record::Limits {
                    max_object_bytes: args.max_object_bytes,
                    max_records: args.max_records,
                    ..Default::default()
                },
                progress: !args.no_progress,
                jobs: args.jobs.map_or(0, usize::from),
                decode_only: args.decode_only,
                report: args.report,
                segment_records: args.segment_records,
            };
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let out = rt.block_on(replay::run(&opts))?;
            let text = match args.format {
                Format::Jsonl => trailhound_core::alert::render::jsonl(&out.findings),
                Format::Table => trailhound_core::alert::render::table(&out.findings),
                // Each finding as new, written at its last activity: reruns print the same.
                Format::Ocsf => {
                    trailhound_core::alert::ocsf::jsonl(&out.findings, &Default::default())
                }
                Format::Asff => {
                    trailhound_core::alert::asff::jsonl(&out.findings, &Default::default())
                }
            };
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(text.as_bytes())?;
            stdout.flush()?;
            eprintln!("{}", replay::summary(&out));
            Ok(0)
        }
        Command::Detectors(DetectorsCmd::Check { dir }) => {
            let files = trailhound_core::detect::spec::read_dir(&dir)
                .map_err(|e| UsageError(e.to_string()))?;
            let mut errors = match trailhound_core::detect::Engine::merged(&files, 7 * 86_400) {
                Ok(_) => Vec::new(),
                Err(e) => e.0,
            };
            // Every detector carries its tests, and they must parse (the engine does not read
            // them): report the files (valid otherwise) without, or with a bad case.
            let (merged, _) = trailhound_core::detect::engine::merge_by_id(
                trailhound_core::detect::DEFAULTS,
                &files,
            );
            for (file, text) in &merged {
                if errors.iter().any(|e| e.file == *file) {
                    continue;
                }
                match trailhound_core::detect::Spec::parse(file, text) {
                    Ok(spec) if spec.tests.is_empty() => {
                        errors.push(trailhound_core::detect::testcase::run::no_tests(file))
                    }
                    Ok(_) => {}
                    Err(e) => errors.push(e),
                }
            }
            if errors.is_empty() {
                println!("{} detector files OK in {}", merged.len(), dir.display());
                return Ok(0);
            }
            for err in &errors {
                eprintln!("error: {err}");
            }
            Err(UsageError(format!("{} invalid detector file(s)", errors.len())).into())
        }
        Command::Detectors(DetectorsCmd::Test { dir, geoip }) => {
            use trailhound_core::detect::testcase::run::{self as cases, FileResult};
            let files = match &dir {
                Some(d) => trailhound_core::detect::spec::read_dir(d)
                    .map_err(|e| UsageError(e.to_string()))?,
                None => Vec::new(),
            };
            let geo = replay::load_geo(geoip.as_deref())?;
            let (mut passed, mut failed) = (0, 0);
            let mut stdout = std::io::stdout().lock();
            for result in cases::run_merged(&files, &geo) {
                match result {
                    FileResult::Invalid(e) => {
                        failed += 1;
                        writeln!(stdout, "FAIL {e}")?;
                    }
                    FileResult::Cases(results) => {
                        for r in results {
                            match r.outcome {
                                Ok(()) => {
                                    passed += 1;
                                    writeln!(stdout, "ok   {}/{}", r.detector, r.name)?;
                                }
                                Err(why) => {
                                    failed += 1;
                                    writeln!(stdout, "FAIL {}/{}: {why}", r.detector, r.name)?;
                                }
                            }
                        }
                    }
                }
            }
            writeln!(stdout, "{passed} passed, {failed} failed")?;
            stdout.flush()?;
            Ok(if failed == 0 { 0 } else { 1 })
        }
        Command::Detectors(DetectorsCmd::List { detectors }) => {
            let engine = replay::load_engine(detectors.as_deref(), 7 * 86_400)?;
            let rows: Vec<[String; 4]> = engine
                .specs()
                .map(|s| {
                    [
                        s.id.clone(),
                        s.kind.clone(),
                        format!(
                            "{:.1} {}",
                            s.severity,
                            trailhound_core::alert::severity_label(s.severity)
                        ),
                        s.title.clone(),
                    ]
                })
                .collect();
            let w: Vec<usize> = (0..3)
                .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0).max(8))
                .collect();
            println!(
                "{:w0$}  {:w1$}  {:w2$}  TITLE",
                "ID",
                "KIND",
                "SEVERITY",
                w0 = w[0],
                w1 = w[1],
                w2 = w[2]
            );
            for r in rows {
                println!(
                    "{:w0$}  {:w1$}  {:w2$}  {}",
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    w0 = w[0],
                    w1 = w[1],
                    w2 = w[2]
                );
            }
            Ok(0)
        }
        Command::Lambda => unreachable!("handled before logging is set up"),
    }
}
