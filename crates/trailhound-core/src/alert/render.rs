//! Rendering findings: JSON Lines, an aligned terminal table, email text and SNS subjects.

use std::fmt::Write as _;

use crate::finding::Finding;

/// One JSON object per line.
pub fn jsonl(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(&serde_json::to_string(f).expect("a finding always serializes"));
        out.push('\n');
    }
    out
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// An aligned table: severity, detector, first seen, account, count, title.
pub fn table(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "No findings.\n".to_string();
    }
    let headers = [
        "SEVERITY",
        "DETECTOR",
        "FIRST SEEN",
        "ACCOUNT",
        "COUNT",
        "TITLE",
    ];
    let rows: Vec<[String; 6]> = findings
        .iter()
        .map(|f| {
            [
                format!("{} {:.1}", f.severity_label, f.severity),
                f.detector.clone(),
                f.first_seen.clone(),
                f.account.clone(),
                f.count.to_string(),
                truncate(&f.title, 140),
            ]
        })
        .collect();
    let mut widths = headers.map(|h| h.len());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[&str]| {
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                let pad = widths[i] - c.chars().count();
                let _ = write!(out, "{c}{}  ", " ".repeat(pad));
            }
        }
        out.push('\n');
    };
    line(&mut out, &headers);
    for r in &rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        line(&mut out, &cells);
    }
    out
}

/// SNS subject: under 100 characters, ASCII, no line breaks: `[<severity_label>] <detector>:
/// <subject>`, the subject rendered from the detector file's `subject` template (the title
/// for findings without one), e.g. `[High] invoke-spike: support-bot-role 41x usual Bedrock calls`.
pub fn subject(f: &Finding) -> String {
    let what = if f.subject.is_empty() {
        &f.title
    } else {
        &f.subject
    };
    let s = format!("[{}] {}: {}", f.severity_label, f.detector, what);
    let ascii: String = s
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect();
    truncate_ascii(&ascii, 99)
}

fn truncate_ascii(s: &str, max: usize) -> String {
    if s.len() <= max {
        s.to_string()
    } else {
        format!("{}...", &s[..max - 3])
    }
}

/// Readable text for email subscriptions.
pub fn email(f: &Finding) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", f.title);
    let _ = writeln!(out, "Severity:   {} ({:.1})", f.severity_label, f.severity);
    let _ = writeln!(out, "Detector:   {} ({})", f.detector, f.finding_type);
    let _ = writeln!(out, "Account:    {}  Region: {}", f.account, f.region);
    let _ = writeln!(out, "Principal:  {}", f.principal);
    let _ = writeln!(
        out,
        "Seen:       {} to {} ({} events)",
        f.first_seen, f.last_seen, f.count
    );
    let _ = writeln!(out, "Finding id: {}\n", f.id);
    let _ = writeln!(out, "{}\n", f.description);
    let _ = writeln!(out, "Evidence:");
    let _ = writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(&f.evidence).unwrap_or_default()
    );
    if !f.sources.is_empty() {
        let _ = writeln!(out, "\nFrom:");
        for s in &f.sources {
            if s.bucket.is_empty() {
                let _ = writeln!(out, "  {}", s.key);
            } else {
                let _ = writeln!(out, "  s3://{}/{}", s.bucket, s.key);
            }
        }
    }
    out
}
