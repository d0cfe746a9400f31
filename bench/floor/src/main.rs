//! `floor PATH...`: the least work any reader of these logs must do, as the benchmark's
//! floor. For every `.gz` file under the paths: inflate it with the same flate2 backend
//! as trailhound-core (zlib-rs, read through the same 128 KiB buffer), then skip-parse each record with `serde::de::IgnoredAny`
//! (the elements of a CloudTrail `{"Records":[...]}` document, or each JSON line).
//! Prints `objects records inflated_bytes` on stdout.
//!
//! `floor --inflate-only PATH...` only inflates (into a reused 256 KiB buffer, records
//! printed as 0): the least any reader of gzip objects must spend, and the bound on how far
//! a pipeline that parses on another core can go.
//!
//! The whole inflated object is held in memory (the fastest way to parse with serde_json),
//! so its peak RSS grows with the object: this is a throughput floor, not a memory one.
#![forbid(unsafe_code)]

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Counts the elements of the `Records` array, skipping every other key.
struct Records(u64);

impl<'de> Visitor<'de> for Records {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CloudTrail document")
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<u64, A::Error> {
        while let Some(key) = map.next_key::<&str>()? {
            if key == "Records" {
                self.0 += map.next_value_seed(Count)?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(self.0)
    }
}

struct Count;

impl<'de> de::DeserializeSeed<'de> for Count {
    type Value = u64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Count {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let mut n = 0;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            n += 1;
        }
        Ok(n)
    }
}

fn files(p: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if p.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(p)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.path());
        for e in entries {
            files(&e.path(), out)?;
        }
    } else if p.extension().is_some_and(|e| e == "gz") {
        out.push(p.to_path_buf());
    }
    Ok(())
}

fn main() {
    let mut args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let inflate_only = args
        .first()
        .is_some_and(|a| a.as_os_str() == "--inflate-only");
    if inflate_only {
        args.remove(0);
    }
    if args.is_empty() {
        eprintln!("usage: floor [--inflate-only] PATH...   (files or folders of .gz log objects)");
        std::process::exit(2);
    }
    let mut list = Vec::new();
    for a in &args {
        if let Err(e) = files(a, &mut list) {
            eprintln!("floor: cannot read {}: {e}", a.display());
            std::process::exit(1);
        }
    }
    let (mut records, mut inflated) = (0u64, 0u64);
    if inflate_only {
        let mut chunk = vec![0u8; 256 * 1024];
        for path in &list {
            let read = std::fs::File::open(path).and_then(|f| {
                let mut d = flate2::read::MultiGzDecoder::new(std::io::BufReader::with_capacity(
                    128 * 1024,
                    f,
                ));
                loop {
                    match d.read(&mut chunk)? {
                        0 => return Ok(()),
                        n => inflated += n as u64,
                    }
                }
            });
            if let Err(e) = read {
                eprintln!("floor: cannot inflate {}: {e}", path.display());
                std::process::exit(1);
            }
        }
        println!("{} 0 {inflated}", list.len());
        return;
    }
    let mut buf = Vec::new();
    for path in &list {
        buf.clear();
        let read = std::fs::File::open(path).and_then(|f| {
            flate2::read::MultiGzDecoder::new(std::io::BufReader::with_capacity(128 * 1024, f))
                .read_to_end(&mut buf)
        });
        if let Err(e) = read {
            eprintln!("floor: cannot inflate {}: {e}", path.display());
            std::process::exit(1);
        }
        inflated += buf.len() as u64;
        let first = buf.iter().find(|b| !b.is_ascii_whitespace());
        let parsed =
            if first == Some(&b'{') && buf.windows(10).take(64).any(|w| w == b"\"Records\":") {
                let mut de = serde_json::Deserializer::from_slice(&buf);
                de.deserialize_map(Records(0)).map(|n| records += n)
            } else {
                buf.split(|b| *b == b'\n')
                    .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
                    .try_for_each(|l| serde_json::from_slice::<IgnoredAny>(l).map(|_| records += 1))
            };
        if let Err(e) = parsed {
            eprintln!("floor: {} is not valid JSON: {e}", path.display());
            std::process::exit(1);
        }
    }
    println!("{} {records} {inflated}", list.len());
}
