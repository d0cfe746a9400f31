//! The HTML investigation report (`replay --report`) in a real browser: Debian's headless
//! Chromium (installed by scripts/setup.sh) loads the report of `samples/`, and the test
//! checks the DOM it parsed (one section per expected finding, a series chart in each rate
//! finding's section, no prompt text), that the page logged nothing to the console (script
//! errors and Content-Security-Policy violations, i.e. any attempt to load something, are
//! console messages), and saves a screenshot as target/report.png.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::common;

/// A Chromium that hangs fails the test after this long instead of hanging it.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

/// `$TRAILHOUND_CHROMIUM`, else `chromium` on the PATH.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("TRAILHOUND_CHROMIUM").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("chromium"))
            .find(|p| p.is_file())
    });
    found.expect("chromium is not installed: run scripts/setup.sh (it installs Debian's chromium)")
}

/// What one headless Chromium run printed.
struct Browsed {
    stdout: String,
    /// Console messages of the page (`CONSOLE` log lines) and uncaught errors.
    console: Vec<String>,
}

/// Loads `page` in a fresh headless Chromium profile with `extra` arguments (`--dump-dom`,
/// `--screenshot=…`), killing it after [`BROWSER_TIMEOUT`].
fn browse(page: &Path, extra: &[&str]) -> Browsed {
    let tmp = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (tmp.path().join("stdout"), tmp.path().join("stderr"));
    let profile = tmp.path().join("profile");
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("chromium starts (run scripts/setup.sh)");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {BROWSER_TIMEOUT:?} loading {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    assert!(status.success(), "chromium failed ({status}):\n{stderr}");
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(str::to_string)
        .collect();
    Browsed {
        stdout: std::fs::read_to_string(&out_path).unwrap(),
        console,
    }
}

/// A start tag's attributes as Chromium serializes them (`name="value"`, entities escaped).
fn attrs(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = tag;
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq].rsplit(' ').next().unwrap_or("").to_string();
        let after = &rest[eq + 2..];
        let end = after.find('"').expect("closed attribute");
        out.push((name, after[..end].to_string()));
        rest = &after[end + 1..];
    }
    out
}

/// Every `<section>` element of a serialized DOM: its attributes and its inner HTML.
fn sections(dom: &str) -> Vec<(Vec<(String, String)>, String)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = dom[at..].find("<section") {
        let start = at + i;
        let tag_end = start + dom[start..].find('>').unwrap();
        // The matching close tag, counting nested sections.
        let (mut depth, mut pos) = (1, tag_end);
        while depth > 0 {
            let open = dom[pos..].find("<section").map(|o| pos + o);
            let close = pos + dom[pos..].find("</section>").expect("closed section");
            match open {
                Some(o) if o < close => {
                    depth += 1;
                    pos = o + 1;
                }
                _ => {
                    depth -= 1;
                    pos = close + 1;
                }
            }
        }
        out.push((
            attrs(&dom[start..tag_end]),
            dom[tag_end + 1..pos - 1].to_string(),
        ));
        at = tag_end;
    }
    out
}

fn attr<'a>(a: &'a [(String, String)], name: &str) -> Option<&'a str> {
    a.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// Every text (20 characters or more, with a space: not a model id or a version) inside
/// the request and response bodies of the sample invocation logs: prompts, system prompts
/// and completions.
fn sample_prompts() -> BTreeSet<String> {
    fn strings(v: &serde_json::Value, out: &mut BTreeSet<String>) {
        match v {
            serde_json::Value::String(s) if s.chars().count() >= 20 && s.contains(' ') => {
                out.insert(s.clone());
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            serde_json::Value::Object(m) => m.values().for_each(|x| strings(x, out)),
            _ => {}
        }
    }
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.to_string_lossy().ends_with(".json.gz") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&common::repo().join("samples/AWSLogs"), &mut files);
    let mut prompts = BTreeSet::new();
    for f in files
        .iter()
        .filter(|p| p.to_string_lossy().contains("BedrockModelInvocationLogs"))
    {
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(f).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(rec) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            for body in [
                &rec["input"]["inputBodyJson"],
                &rec["output"]["outputBodyJson"],
            ] {
                strings(body, &mut prompts);
            }
        }
    }
    prompts
}

/// The detectors of `detectors/` whose kind is `rate-baseline`.
fn rate_detectors() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(common::repo().join("detectors")).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        let spec: toml_like::Spec = toml_like::parse(&text);
        if spec.kind == "rate-baseline" {
            out.insert(spec.id);
        }
    }
    out
}

/// The two top-level keys the test needs from a detector file, without a TOML parser.
mod toml_like {
    pub struct Spec {
        pub id: String,
        pub kind: String,
    }

    pub fn parse(text: &str) -> Spec {
        let top = text.split("\n[").next().unwrap_or("");
        let get = |key: &str| {
            top.lines()
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().trim_matches('"').to_string())
                .unwrap_or_default()
        };
        Spec {
            id: get("id"),
            kind: get("kind"),
        }
    }
}

#[test]
fn the_report_of_the_samples_renders_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(["replay", "--no-progress", "--format", "jsonl", "--geoip"])
        .arg(common::geoip())
        .arg("--report")
        .arg(&page)
        .arg("samples/")
        .current_dir(common::repo())
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let parse = |text: &str| -> Vec<serde_json::Value> {
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let expected = parse(&String::from_utf8_lossy(&out.stdout));
    let html = std::fs::read_to_string(&page).unwrap();

    let browsed = browse(&page, &["--dump-dom"]);
    assert!(
        browsed.console.is_empty(),
        "the report logged to the console:\n{}",
        browsed.console.join("\n")
    );
    let dom = browsed.stdout;
    assert!(
        dom.contains("<h1>trailhound investigation report</h1>"),
        "{dom}"
    );

    // One finding section per expected finding, in the replay's order.
    let findings: Vec<_> = sections(&dom)
        .into_iter()
        .filter(|(a, _)| attr(a, "class") == Some("finding"))
        .collect();
    let ids: Vec<&str> = findings
        .iter()
        .map(|(a, _)| attr(a, "data-id").unwrap())
        .collect();
    let want: Vec<&str> = expected.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(ids, want);

    // A series chart in the section of each rate finding, and in no other.
    let rate = rate_detectors();
    assert!(
        rate.contains("invoke-spike")
            && rate.contains("token-spike")
            && rate.contains("s3-exfil-volume"),
        "{rate:?}"
    );
    let (mut charts, mut chains) = (0, 0);
    for ((a, inner), f) in findings.iter().zip(&expected) {
        let detector = f["detector"].as_str().unwrap();
        assert_eq!(attr(a, "data-detector"), Some(detector));
        let n = inner.matches("<svg class=\"series-chart\"").count();
        if rate.contains(detector) {
            assert_eq!(n, 1, "{detector}: {inner}");
            // The chart has the observed series, the threshold and the peak.
            let svg = &inner[inner.find("<svg class=\"series-chart\"").unwrap()..];
            let svg = &svg[..svg.find("</svg>").unwrap()];
            let path = svg.split("class=\"observed\" d=\"").nth(1).unwrap();
            let points = path[..path.find('"').unwrap()].matches('L').count() + 1;
            assert!(points >= 100, "{detector}: {points} points");
            let threshold = f["evidence"]["threshold"].as_u64().unwrap();
            assert!(svg.contains("class=\"threshold\""), "{svg}");
            assert!(svg.contains("class=\"band\""), "{svg}");
            let observed = f["evidence"]["observed"].as_u64().unwrap();
            assert!(
                svg.contains(&format!("<title>peak {}</title>", thousands(observed))),
                "{svg}"
            );
            assert!(threshold < observed);
            charts += 1;
        } else {
            assert_eq!(n, 0, "{detector}");
        }
        // An attack sequence lists its chain in order, linked to the members' sections.
        if let Some(chain) = f["evidence"]["chain"].as_array() {
            let list = &inner[inner.find("<ol class=\"chain\">").expect("a chain list")..];
            let list = &list[..list.find("</ol>").unwrap()];
            let links: Vec<&str> = list
                .split("<a href=\"#f-")
                .skip(1)
                .map(|l| &l[..l.find('"').unwrap()])
                .collect();
            let members: Vec<&str> = chain
                .iter()
                .map(|c| c["finding_id"].as_str().unwrap())
                .collect();
            assert_eq!(links, members, "{detector}");
            assert!(members.iter().all(|m| ids.contains(m)), "{members:?}");
            chains += 1;
        }
        // The timeline links to the section.
        assert!(dom.contains(&format!("<a href=\"#f-{}\">", f["id"].as_str().unwrap())));
    }
    // invoke-spike, token-spike and s3-exfil-volume (bytes out).
    assert_eq!(charts, 3);
    let sequences = expected
        .iter()
        .filter(|f| f["evidence"]["chain"].is_array())
        .count();
    assert_eq!(chains, sequences);

    // Evidence tables: addresses with their countries, request ids.
    let spike = findings
        .iter()
        .find(|(a, _)| attr(a, "data-detector") == Some("invoke-spike"))
        .unwrap();
    assert!(
        spike
            .1
            .contains("<th scope=\"row\">sample_request_ids</th>")
    );
    assert!(dom.contains("<code>95.165.131.44</code> <span class=\"country\">RU</span>"));

    // No prompt, system prompt or completion of the samples appears.
    let prompts = sample_prompts();
    assert!(prompts.len() >= 20, "{} prompts", prompts.len());
    for p in &prompts {
        assert!(
            !dom.contains(p.as_str()) && !html.contains(p.as_str()),
            "{p}"
        );
    }

    // The screenshot, at a fixed window size.
    let png = common::repo().join("target/report.png");
    let _ = std::fs::remove_file(&png);
    let shot = browse(
        &page,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,2000",
        ],
    );
    assert!(shot.console.is_empty(), "{}", shot.console.join("\n"));
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    // 1280 x 2000 in the IHDR chunk.
    assert_eq!(&bytes[16..24], &[0, 0, 5, 0, 0, 0, 7, 208]);
    assert!(bytes.len() > 50_000, "{} bytes: a blank page?", bytes.len());

    // The findings replay printed with the series recorded (those the report shows) are the
    // samples' expected findings.
    let ids = |v: &[serde_json::Value]| -> BTreeSet<String> {
        v.iter()
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect()
    };
    let file = common::repo().join("samples/expected-findings.jsonl");
    assert_eq!(
        ids(&expected),
        ids(&parse(&std::fs::read_to_string(file).unwrap())),
        "replay --report printed other findings than samples/expected-findings.jsonl"
    );
}

fn thousands(n: u64) -> String {
    let d = n.to_string();
    let mut out = String::new();
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The console check above can fail: a script error and a blocked load are both caught.
#[test]
fn console_errors_and_blocked_loads_are_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("script.html");
    std::fs::write(
        &script,
        "<!DOCTYPE html><html><body><p>x</p><script>noSuchFunction();</script></body></html>",
    )
    .unwrap();
    let got = browse(&script, &["--dump-dom"]);
    assert_eq!(got.console.len(), 1, "{:?}", got.console);
    assert!(got.console[0].contains("Uncaught ReferenceError: noSuchFunction is not defined"));

    let load = tmp.path().join("load.html");
    std::fs::write(
        &load,
        "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"></head><body><img src=\"http://198.51.100.7/x.png\"></body></html>",
    )
    .unwrap();
    let got = browse(&load, &["--dump-dom"]);
    assert_eq!(got.console.len(), 1, "{:?}", got.console);
    assert!(got.console[0].contains("violates the following Content Security Policy directive"));
}

#[test]
fn the_dom_helpers_find_nested_sections_and_attributes() {
    let dom = "<main><section class=\"a\" data-id=\"1\"><section class=\"b\">x</section>y</section><section data-id=\"2\">z</section></main>";
    let s = sections(dom);
    assert_eq!(s.len(), 3);
    assert_eq!(attr(&s[0].0, "data-id"), Some("1"));
    assert_eq!(s[0].1, "<section class=\"b\">x</section>y");
    assert_eq!(attr(&s[1].0, "class"), Some("b"));
    assert_eq!(s[2].1, "z");
}
