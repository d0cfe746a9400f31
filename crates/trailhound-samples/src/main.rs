//! `cargo run -p trailhound-samples -- [--benign] [OUT]`: writes the sample archive (S3
//! layout) into OUT (default `samples`). A developer tool: it is not part of the shipped
//! `trailhound` binary.
#![forbid(unsafe_code)]

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("bench") {
        return bench_main(&args[1..]);
    }
    let mut benign = false;
    let mut out = None;
    for a in &args {
        match a.as_str() {
            "--benign" => benign = true,
            "-h" | "--help" => {
                println!(
                    "usage: trailhound-samples [--benign] [OUT]   (OUT defaults to `samples`)\n       trailhound-samples bench [--large] [--force] DIR   (benchmark data)"
                );
                return;
            }
            s if s.starts_with('-') => {
                eprintln!("trailhound-samples: unknown option `{s}` (try --help)");
                std::process::exit(2);
            }
            s => out = Some(std::path::PathBuf::from(s)),
        }
    }
    let out = out.unwrap_or_else(|| "samples".into());
    let result = if benign {
        trailhound_samples::generate_benign(&out)
    } else {
        trailhound_samples::generate(&out)
    };
    match result {
        Ok(s) => eprintln!(
            "wrote {} objects ({} records, {} bytes) to {}",
            s.objects,
            s.records,
            s.bytes,
            out.display()
        ),
        Err(e) => {
            eprintln!("trailhound-samples: {e:#}");
            std::process::exit(1);
        }
    }
}

/// `trailhound-samples bench [--large] [--force] DIR`: the benchmark data (see `bench.rs`),
/// reused when DIR already holds this version's data.
fn bench_main(args: &[String]) {
    let large = args.iter().any(|a| a == "--large");
    let force = args.iter().any(|a| a == "--force");
    let Some(dir) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: trailhound-samples bench [--large] [--force] DIR");
        std::process::exit(2);
    };
    let dir = std::path::Path::new(dir);
    let started = std::time::Instant::now();
    let result = if force {
        trailhound_samples::bench::generate(dir, large)
    } else {
        trailhound_samples::bench::ensure(dir, large)
    };
    match result {
        Ok(cases) => {
            for c in cases {
                eprintln!(
                    "{:<14} {:>5} objects {:>7} records {:>6.1} MB gzip {:>7.1} MB inflated  {}",
                    c.name,
                    c.objects,
                    c.records,
                    c.gz_bytes as f64 / 1e6,
                    c.inflated_bytes as f64 / 1e6,
                    c.path.display()
                );
            }
            eprintln!(
                "bench data ready in {:.1}s",
                started.elapsed().as_secs_f64()
            );
        }
        Err(e) => {
            eprintln!("trailhound-samples bench: {e:#}");
            std::process::exit(1);
        }
    }
}
