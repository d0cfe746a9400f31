//! No prompt or completion text and no planted secret leaves trailhound: the full `samples/`
//! replay at `RUST_LOG=trace` prints none of it on stdout (the findings) or stderr (logs,
//! progress, summary). The texts are read from the sample invocation logs themselves.

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use crate::support::common;

/// Length of the text windows compared (bytes): long enough that a match is the text, not a
/// common phrase or an id.
const WINDOW: usize = 24;

/// What must not appear: windows of prompt and completion text, and whole secrets.
#[derive(Default)]
struct Needles {
    /// Every `WINDOW`-byte window of every text (starting at each character boundary).
    windows: HashSet<Vec<u8>>,
    /// Secrets found in the texts (any length).
    secrets: HashSet<String>,
    texts: usize,
}

/// The keys whose string values are prompt or completion text, in the body shapes Bedrock
/// logs (Converse, Anthropic messages, Titan, Llama, Cohere, Mistral).
const TEXT_KEYS: &[&str] = &[
    "text",
    "prompt",
    "inputText",
    "outputText",
    "completion",
    "generation",
    "system",
    "content",
];

impl Needles {
    fn add_text(&mut self, s: &str) {
        if s.len() < WINDOW {
            return;
        }
        self.texts += 1;
        let b = s.as_bytes();
        for (i, _) in s.char_indices() {
            if i + WINDOW <= b.len() {
                self.windows.insert(b[i..i + WINDOW].to_vec());
            }
        }
        // Secrets: words the scanner flags (a planted AWS key id is 20 characters).
        for word in s.split(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '=')) {
            let mut f = trailhound_core::record::content::ContentFlags::default();
            trailhound_core::record::content::scan(word.as_bytes(), &mut f);
            if f.secret.is_some() && word.len() >= 16 {
                self.secrets.insert(word.to_string());
            }
        }
    }

    fn walk(&mut self, v: &serde_json::Value, key: Option<&str>) {
        match v {
            serde_json::Value::String(s) if key.is_some_and(|k| TEXT_KEYS.contains(&k)) => {
                self.add_text(s)
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| self.walk(x, key)),
            serde_json::Value::Object(o) => o.iter().for_each(|(k, x)| self.walk(x, Some(k))),
            _ => {}
        }
    }

    /// The first text window or secret found in `hay`, if any.
    fn leak(&self, hay: &[u8]) -> Option<String> {
        if hay.len() >= WINDOW {
            for i in 0..=hay.len() - WINDOW {
                if self.windows.contains(&hay[i..i + WINDOW]) {
                    return Some(String::from_utf8_lossy(&hay[i..i + WINDOW]).into_owned());
                }
            }
        }
        let text = String::from_utf8_lossy(hay);
        self.secrets
            .iter()
            .find(|s| text.contains(s.as_str()))
            .cloned()
    }
}

fn invocation_logs(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            invocation_logs(&p, out);
        } else if p.to_string_lossy().contains("BedrockModelInvocationLogs")
            && p.extension().is_some_and(|e| e == "gz")
        {
            out.push(p);
        }
    }
}

fn sample_needles() -> Needles {
    let mut files = Vec::new();
    invocation_logs(&common::repo().join("samples/AWSLogs"), &mut files);
    assert!(!files.is_empty(), "no sample invocation logs");
    let mut n = Needles::default();
    for f in files {
        let raw = std::fs::read(&f).unwrap();
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_string(&mut text)
            .unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            for side in ["input", "output"] {
                if let Some(body) = v.get(side) {
                    n.walk(body, None);
                }
            }
        }
    }
    n
}

#[test]
fn the_samples_replay_at_trace_leaks_no_prompt_completion_or_secret() {
    let needles = sample_needles();
    assert!(needles.texts > 100, "only {} texts read", needles.texts);
    let geo = common::geoip();
    let out = Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args([
            "replay",
            "--format",
            "jsonl",
            "--geoip",
            geo.to_str().unwrap(),
            "samples/",
        ])
        .current_dir(common::repo())
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "trace")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.stdout.is_empty(), "no findings printed");
    // Trace logging is on: the check sees what a debugging operator would.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("TRACE")
            || String::from_utf8_lossy(&out.stderr).contains("DEBUG"),
        "RUST_LOG=trace printed no trace or debug lines"
    );
    assert_eq!(
        needles.leak(&out.stdout),
        None,
        "prompt text or a secret in the findings"
    );
    assert_eq!(
        needles.leak(&out.stderr),
        None,
        "prompt text or a secret in the logs"
    );
}

#[test]
fn the_check_catches_a_planted_leak() {
    let mut n = Needles::default();
    let prompt = "Summarize the ticket: the customer cannot reset her password since Monday.";
    n.add_text(prompt);
    n.add_text("config: aws_access_key_id = AKIAR7K2M4QQJV5SXE3D and nothing else here");
    assert_eq!(n.texts, 2);
    assert_eq!(n.leak(b"{\"title\":\"alice used 1,000 tokens\"}"), None);
    // A piece of the prompt in a log line, from any position.
    let log = format!("DEBUG decode: body={}", &prompt[30..60]);
    assert_eq!(n.leak(log.as_bytes()).as_deref(), Some(&prompt[30..54]));
    // A secret alone (shorter than a window), as a finding would show it.
    assert_eq!(
        n.leak(b"{\"evidence\":{\"key\":\"AKIAR7K2M4QQJV5SXE3D\"}}")
            .as_deref(),
        Some("AKIAR7K2M4QQJV5SXE3D")
    );
    // Its masked form is not a leak.
    assert_eq!(n.leak(b"AKIA************XE3D"), None);
    // The real sample texts are read, and one of them planted in output is caught.
    let samples = sample_needles();
    let some = samples.windows.iter().next().unwrap().clone();
    let mut hay = b"INFO replay: ".to_vec();
    hay.extend_from_slice(&some);
    assert!(samples.leak(&hay).is_some());
}
