//! `cargo run -p trailhound-samples -- [--benign] [OUT]`: writes the sample archive (S3
//! layout) into OUT (default `samples`). A developer tool: it is not part of the shipped
//! `trailhound` binary.

fn main() {
    let mut benign = false;
    let mut out = None;
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--benign" => benign = true,
            "-h" | "--help" => {
                println!(
                    "usage: trailhound-samples [--benign] [OUT]   (OUT defaults to `samples`)"
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
