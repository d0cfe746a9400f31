//! Scans prompt and completion bodies where they are decoded. Nothing of the content leaves
//! this module except a secret's kind, the side it was on and a masked form of it.
//!
//! What is recognised (first match wins, in this order):
//! - `private-key`: a PEM `-----BEGIN … PRIVATE KEY-----` header followed by key material
//!   (32+ base64 characters); certificates and public keys are not secrets;
//! - `aws-secret-access-key`: 40 base64 characters after an `aws_secret_access_key`
//!   (`secret_access_key`, `SecretAccessKey`) label, or within 160 bytes after an access
//!   key id;
//! - `aws-access-key-id`: `AKIA`/`ASIA` + 16 upper-case alphanumerics on a word boundary;
//! - `github-token` (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`), `gitlab-token`
//!   (`glpat-`), `slack-token` (`xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`, `xoxs-`, `xapp-`),
//!   `bedrock-api-key` (`ABSK…` long-term, `bedrock-api-key-…` short-term), `openai-key`
//!   (`sk-`): the prefix on a boundary followed by a minimum number of token characters;
//! - `password`, `api-key`, `secret`: a generic `password=`/`api_key:`/`secret=` pair whose
//!   value looks random (see [`random_enough`]).
//!
//! AWS's documentation example keys (`AKIAIOSFODNN7EXAMPLE`,
//! `wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY`: any AWS key holding `EXAMPLE`) and generic
//! values holding `EXAMPLE`/`example` are skipped.
//!
//! Every scan is linear in the body: a run of token characters is measured once and the
//! search goes on after it, and look-arounds are bounded (see the regression tests on runs of
//! each prefix).

mod pairs;
mod runs;

use memchr::memmem;

/// Which body a secret was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Prompt,
    Completion,
    Both,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Prompt => "prompt",
            Side::Completion => "completion",
            Side::Both => "prompt and completion",
        }
    }
}

/// What a scan found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ContentFlags {
    /// Set from the structured outcome of an invocation record (see
    /// [`super::invocation::InvRecord::guardrail_intervened`]), never from the text.
    pub guardrail_intervened: bool,
    /// Secret kind and its masked form (see [`mask`]).
    pub secret: Option<(&'static str, String)>,
    /// Where the secret was found, when the scan was told ([`scan_side`]).
    pub side: Option<Side>,
}

/// Secret kinds, as named in findings.
pub const KINDS: &[&str] = &[
    "private-key",
    "aws-secret-access-key",
    "aws-access-key-id",
    "github-token",
    "gitlab-token",
    "slack-token",
    "bedrock-api-key",
    "openai-key",
    "password",
    "api-key",
    "secret",
];

/// The kind and side of a secret as one static string, `<kind>@<side>`, for
/// `Activity::secret` (split again with [`split_kind`]).
macro_rules! sided {
    ($kind:expr, $side:expr; $($k:literal),*) => {
        match ($kind, $side) {
            $(
                ($k, Some(Side::Prompt)) => concat!($k, "@prompt"),
                ($k, Some(Side::Completion)) => concat!($k, "@completion"),
                ($k, Some(Side::Both)) => concat!($k, "@prompt and completion"),
            )*
            (k, _) => k,
        }
    };
}

impl ContentFlags {
    /// The secret as `Activity::secret` holds it: `(<kind>@<side>, masked)`.
    pub fn activity_secret(&self) -> Option<(&'static str, std::sync::Arc<str>)> {
        let (kind, masked) = self.secret.as_ref()?;
        let k = sided!(*kind, self.side;
            "private-key", "aws-secret-access-key", "aws-access-key-id", "github-token",
            "gitlab-token", "slack-token", "bedrock-api-key", "openai-key", "password",
            "api-key", "secret");
        Some((k, std::sync::Arc::from(masked.as_str())))
    }
}

/// Splits `Activity::secret`'s kind into the kind and the side (`-` when unknown).
pub fn split_kind(k: &str) -> (&str, &str) {
    k.split_once('@').unwrap_or((k, "-"))
}

/// Masks a secret: keeps up to four characters at each end (a fifth of its length at most,
/// so a short password keeps little), stars the rest (at most 32 stars):
/// `AKIAIOSFODNN7EXAMPLE` → `AKIA************MPLE`.
pub fn mask(secret: &[u8]) -> String {
    let n = secret.len();
    let keep = (n / 5).min(4);
    let mut s: String = secret[..keep].iter().map(|&b| b as char).collect();
    s.extend(std::iter::repeat_n('*', (n - 2 * keep).min(32)));
    s.extend(secret[n - keep..].iter().map(|&b| b as char));
    s
}

fn is_upper_alnum(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='
}

#[cfg(test)]
/// Finds the first run of `class` bytes that starts with `prefix` on a boundary (the byte
/// before is not in `class`) and that `accept`s. Every byte is looked at a bounded
/// number of times: a run is measured once, from the first occurrence of `prefix` in it, and
/// the search goes on after its end (only a run's first byte can be on a boundary), so runs
/// of the prefix itself (`sk-sk-sk-…`, `AKIAAKIA…`) cost no more than any other text.
fn find_run(
    body: &[u8],
    prefix: &[u8],
    class: fn(u8) -> bool,
    accept: impl Fn(&[u8]) -> bool,
) -> Option<(usize, usize)> {
    let finder = memmem::Finder::new(prefix);
    let mut from = 0;
    while let Some(off) = finder.find(&body[from..]) {
        let at = from + off;
        let len = body[at..].iter().take_while(|&&b| class(b)).count();
        let boundary = at == 0 || !class(body[at - 1]);
        if boundary && accept(&body[at..at + len]) {
            return Some((at, len));
        }
        // A prefix that is not all `class` bytes leaves `len` short of it: step past it anyway.
        from = at + len.max(1);
    }
    None
}

fn example(s: &[u8]) -> bool {
    memmem::find(s, b"EXAMPLE").is_some()
}

#[cfg(test)]
/// Finds an AWS access key id (`AKIA`/`ASIA` + 16 upper-case alphanumerics) on a word
/// boundary, skipping documentation examples; returns its start and length.
fn aws_key_at(body: &[u8]) -> Option<(usize, usize)> {
    [&b"AKIA"[..], b"ASIA"]
        .into_iter()
        .filter_map(|prefix| {
            find_run(body, prefix, is_upper_alnum, |r| {
                r.len() == 20 && !example(r)
            })
        })
        .min()
}

/// A 40-character AWS secret access key: base64 characters, mixed case, not an example.
fn secret_key_shape(r: &[u8]) -> bool {
    r.len() == 40
        && r.iter().any(u8::is_ascii_lowercase)
        && r.iter().any(u8::is_ascii_uppercase)
        && !example(r)
}

/// Finds an AWS secret access key within 160 bytes after `from` (the end of a key id).
fn secret_key_near(body: &[u8], from: usize) -> Option<&[u8]> {
    let end = (from + 160).min(body.len());
    let window = &body[from..end];
    let mut i = 0;
    while i < window.len() {
        if !is_base64(window[i]) {
            i += 1;
            continue;
        }
        let len = window[i..].iter().take_while(|&&b| is_base64(b)).count();
        // A run cut by the window's end is not judged (it may be longer).
        let whole = i + len < window.len() || end == body.len();
        let r = &window[i..i + len];
        if whole && secret_key_shape(r) {
            return Some(r);
        }
        i += len;
    }
    None
}

#[cfg(test)]
/// Finds a token that starts with `prefix` and has at least `min` token characters after it;
/// returns its start and length.
fn prefixed(body: &[u8], prefix: &[u8], min: usize) -> Option<(usize, usize)> {
    find_run(body, prefix, is_token, |r| r.len() >= prefix.len() + min)
}

#[cfg(test)]
/// Token prefixes: kind, prefix, minimum token characters after it.
const PREFIXES: &[(&str, &[u8], usize)] = &[
    ("github-token", b"github_pat_", 40),
    ("github-token", b"ghp_", 30),
    ("github-token", b"gho_", 30),
    ("github-token", b"ghu_", 30),
    ("github-token", b"ghs_", 30),
    ("github-token", b"ghr_", 30),
    ("gitlab-token", b"glpat-", 20),
    ("slack-token", b"xoxb-", 20),
    ("slack-token", b"xoxp-", 20),
    ("slack-token", b"xoxa-", 20),
    ("slack-token", b"xoxr-", 20),
    ("slack-token", b"xoxs-", 20),
    ("slack-token", b"xapp-", 20),
    ("bedrock-api-key", b"bedrock-api-key-", 32),
    ("openai-key", b"sk-", 32),
];

/// A PEM private-key block: the header and at least 32 characters of key material after it
/// (the reference for the one-pass search, tests only).
#[cfg(test)]
fn private_key(body: &[u8]) -> Option<String> {
    memmem::find_iter(body, runs::PEM).find_map(|at| private_key_at(body, at))
}

/// A PEM private-key header whose `PRIVATE KEY-----` is at `at`: `-----BEGIN ` and an
/// upper-case label (`RSA `, `OPENSSH `, none) just before, and at least 32 characters of
/// key material after it. Returns the masked header.
fn private_key_at(body: &[u8], at: usize) -> Option<String> {
    let from = at + runs::PEM.len();
    let back = &body[at.saturating_sub(32)..at];
    let b = memmem::rfind(back, b"-----BEGIN ")?;
    let label = &back[b + 11..];
    if !label.iter().all(|&c| c.is_ascii_uppercase() || c == b' ') {
        return None;
    }
    // Skip line breaks (raw, or `\n` escaped in the JSON text) and spaces.
    let mut i = from;
    let stop = (from + 16).min(body.len());
    while i < stop {
        match body[i] {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'\\' if matches!(body.get(i + 1), Some(b'n' | b'r')) => i += 2,
            _ => break,
        }
    }
    let material = body[i..]
        .iter()
        .take(32)
        .take_while(|&&c| is_base64(c))
        .count();
    (material >= 32).then(|| {
        let label = String::from_utf8_lossy(label);
        format!("-----BEGIN {label}PRIVATE KEY-----****")
    })
}

#[cfg(test)]
/// Bedrock long-term API keys: `ABSK` + base64 (of `BedrockAPIKey-…`), 32+ characters
/// (the `=` padding is not part of the run, so `KEY=ABSK…` is on a boundary).
fn bedrock_key(body: &[u8]) -> Option<(usize, usize)> {
    let class = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
    find_run(body, b"ABSK", class, |r| r.len() >= 36)
}

/// Scans one body (raw JSON text of a prompt or completion). Sets only `secret`.
pub fn scan(body: &[u8], flags: &mut ContentFlags) {
    if body.is_empty() || flags.secret.is_some() {
        return;
    }
    flags.secret = find(body);
}

/// Scans the body of one side; a secret on both sides is reported as on both.
pub fn scan_side(body: &[u8], side: Side, flags: &mut ContentFlags) {
    if body.is_empty() {
        return;
    }
    if flags.secret.is_some() {
        if flags.side.is_some_and(|s| s != side) && find(body).is_some() {
            flags.side = Some(Side::Both);
        }
        return;
    }
    flags.secret = find(body);
    if flags.secret.is_some() {
        flags.side = Some(side);
    }
}

fn find(body: &[u8]) -> Option<(&'static str, String)> {
    let found = runs::scan(body);
    if let Some(m) = found.private_key {
        return Some(("private-key", m));
    }
    if let Some((kind, value)) = pairs::pair(body, true) {
        return Some((kind, mask(value)));
    }
    let hits = || {
        runs::ANCHORS
            .iter()
            .zip(found.runs)
            .filter_map(|(a, r)| Some((a, r?)))
    };
    let key_id = |a: &runs::Anchor| matches!(a.accept, runs::Accept::AwsKeyId);
    // The access key id prefixes (`AKIA`, `ASIA`): the earlier run wins.
    if let Some((_, (at, n))) = hits().filter(|(a, _)| key_id(a)).min_by_key(|&(_, r)| r) {
        if let Some(s) = secret_key_near(body, at + n) {
            return Some(("aws-secret-access-key", mask(s)));
        }
        return Some(("aws-access-key-id", mask(&body[at..at + n])));
    }
    if let Some((a, (at, n))) = hits().find(|(a, _)| !key_id(a)) {
        return Some((a.kind, mask(&body[at..at + n])));
    }
    pairs::pair(body, false).map(|(kind, value)| (kind, mask(value)))
}

/// The search before [`runs`] (a pass per prefix, in `find`'s order), which the one-pass
/// search must agree with (tests only).
#[cfg(test)]
fn find_per_prefix(body: &[u8]) -> Option<(&'static str, String)> {
    if let Some(m) = private_key(body) {
        return Some(("private-key", m));
    }
    if let Some((kind, value)) = pairs::pair(body, true) {
        return Some((kind, mask(value)));
    }
    let key = aws_key_at(body);
    if let Some((at, n)) = key {
        if let Some(s) = secret_key_near(body, at + n) {
            return Some(("aws-secret-access-key", mask(s)));
        }
        return Some(("aws-access-key-id", mask(&body[at..at + n])));
    }
    for (kind, prefix, min) in PREFIXES {
        if let Some((at, n)) = prefixed(body, prefix, *min) {
            return Some((kind, mask(&body[at..at + n])));
        }
    }
    if let Some((at, n)) = bedrock_key(body) {
        return Some(("bedrock-api-key", mask(&body[at..at + n])));
    }
    pairs::pair(body, false).map(|(kind, value)| (kind, mask(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(body: &str) -> Option<(&'static str, String)> {
        let mut f = ContentFlags::default();
        scan(body.as_bytes(), &mut f);
        f.secret
    }

    fn kind(body: &str) -> Option<&'static str> {
        found(body).map(|(k, _)| k)
    }

    #[test]
    fn finds_and_masks_secrets() {
        assert_eq!(
            found(r#"{"text":"my key is AKIAR7K2M4QQJV5SXE3D ok"}"#),
            Some(("aws-access-key-id", "AKIA************XE3D".to_string()))
        );
        assert_eq!(mask(b"AKIAIOSFODNN7EXAMPLE"), "AKIA************MPLE");
        assert_eq!(mask(b"hunter2hunter"), "hu*********er");
        assert_eq!(kind(r#"{"text":"XAKIAR7K2M4QQJV5SXE3D1"}"#), None);
        // The scan never looks at outcomes.
        let mut f = ContentFlags::default();
        scan(br#"{"stopReason":"guardrail_intervened"}"#, &mut f);
        assert!(!f.guardrail_intervened);
    }

    #[test]
    fn aws_documentation_examples_do_not_fire() {
        let doc = r#"aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"#;
        assert_eq!(kind(doc), None);
        assert_eq!(kind("ASIAIOSFODNN7EXAMPLE"), None);
    }

    #[test]
    fn aws_secret_keys_by_label_or_next_to_an_id() {
        let secret = "q8Vd3kR2mT7yWz1XbN4cLp6HsJ0aGfE9uK5oYiB3";
        let ini = format!(
            r#"[default]\naws_access_key_id = AKIAR7K2M4QQJV5SXE3D\naws_secret_access_key = {secret}"#
        );
        assert_eq!(
            found(&ini),
            Some((
                "aws-secret-access-key",
                format!("q8Vd{}YiB3", "*".repeat(32))
            ))
        );
        // Beside an id without a label (a CSV export of credentials).
        let csv = format!("User,AKIAR7K2M4QQJV5SXE3D,{secret}");
        assert_eq!(kind(&csv), Some("aws-secret-access-key"));
        // Labelled, without an id, in JSON text.
        let json = format!(r#"{{\"SecretAccessKey\": \"{secret}\"}}"#);
        assert_eq!(kind(&json), Some("aws-secret-access-key"));
        // A 40-character lower-case hash beside an id is not a secret key.
        let sha = "AKIAR7K2M4QQJV5SXE3D sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709";
        assert_eq!(kind(sha), Some("aws-access-key-id"));
    }

    #[test]
    fn tokens_by_prefix() {
        for (body, want) in [
            (
                "GITHUB_TOKEN=ghp_R4nd0mT0k3nV4lu3AbCdEfGhIjKlMnOpQrSt",
                "github-token",
            ),
            ("t gho_R4nd0mT0k3nV4lu3AbCdEfGhIjKlMnOpQrSt", "github-token"),
            ("t ghs_R4nd0mT0k3nV4lu3AbCdEfGhIjKlMnOpQrSt", "github-token"),
            (
                "github_pat_11ABCDEFG0a1b2c3d4e5f6_g7h8i9j0k1l2m3n4o5p6q7r8s9t0u1v2w3x4y5z6A7B8C9D0E1F2G3H4",
                "github-token",
            ),
            ("glpat-x9Yz8Wv7Ut6Sr5Qp4On3", "gitlab-token"),
            ("xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", "slack-token"),
            ("xoxp-1234567890-0987654321-AbCdEfGhIjKlMnOp", "slack-token"),
            (
                "xapp-1-A0123456789-1234567890-abcdef0123456789",
                "slack-token",
            ),
            (
                "ABSKQmVkcm9ja0FQSUtleS1hYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODk=",
                "bedrock-api-key",
            ),
            (
                "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29tLz9BY3Rpb249Q2FsbFdpdGhCZWFyZXJUb2tlbg==",
                "bedrock-api-key",
            ),
            ("sk-proj-abcdefghijklmnopqrstuvwxyz0123456789", "openai-key"),
        ] {
            assert_eq!(kind(body), Some(want), "{body}");
        }
        // Prefixes alone, or too short to be a token, are text.
        for body in [
            "what do ghp_ and xoxb- tokens look like",
            "glpat-short",
            "ABSK is the prefix of Bedrock keys",
            "the xoxp-1 token",
        ] {
            assert_eq!(kind(body), None, "{body}");
        }
    }

    #[test]
    fn private_keys_but_not_certificates() {
        let key = r#"-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi0A1bc\n-----END RSA PRIVATE KEY-----"#;
        assert_eq!(
            found(key),
            Some((
                "private-key",
                "-----BEGIN RSA PRIVATE KEY-----****".to_string()
            ))
        );
        let cert = r#"-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBa\n-----END CERTIFICATE-----\nWhere do I keep the PRIVATE KEY-----?"#;
        assert_eq!(kind(cert), None);
        assert_eq!(kind("What is a -----BEGIN PRIVATE KEY----- header?"), None);
    }

    #[test]
    fn sides() {
        let mut f = ContentFlags::default();
        scan_side(b"plain", Side::Prompt, &mut f);
        scan_side(b"glpat-x9Yz8Wv7Ut6Sr5Qp4On3", Side::Completion, &mut f);
        assert_eq!(f.side, Some(Side::Completion));
        let (k, m) = f.activity_secret().unwrap();
        assert_eq!(
            (k, &*m),
            ("gitlab-token@completion", "glpa******************4On3")
        );
        assert_eq!(split_kind(k), ("gitlab-token", "completion"));
        let mut f = ContentFlags::default();
        scan_side(b"AKIAR7K2M4QQJV5SXE3D", Side::Prompt, &mut f);
        scan_side(b"AKIAR7K2M4QQJV5SXE3D", Side::Completion, &mut f);
        assert_eq!(
            f.activity_secret()
                .map(|(k, _)| split_kind(k).1.to_string()),
            Some("prompt and completion".into())
        );
        assert_eq!(split_kind("x"), ("x", "-"));
    }

    /// The first accepted run of `prefix`, as the one-pass scan finds it.
    fn run_of(body: &[u8], prefix: &[u8]) -> Option<(usize, usize)> {
        let i = runs::ANCHORS
            .iter()
            .position(|a| a.prefix == prefix)
            .unwrap();
        runs::scan(body).runs[i]
    }

    #[test]
    fn runs_of_a_prefix_are_measured_once() {
        // Inside a run only its first byte is on a boundary.
        let body = b"xsk-sk-sk-sk-sk-sk-sk-sk-sk-sk-sk-sk-sk-sk-sk-sk-sk-sk- sk-sk-sk-sk-sk-sk-sk-sk-sk-sk-sk-sk-";
        assert_eq!(run_of(body, b"sk-"), Some((56, 36)));
        assert_eq!(run_of(&body[..90], b"sk-"), None);
        assert_eq!(run_of(b"AKIAAKIAIOSFODNN7EXA", b"AKIA"), Some((0, 20)));
        assert_eq!(run_of(b"AKIAAKIAIOSFODNN7EXAM", b"AKIA"), None);
        assert_eq!(
            run_of(b"AKIA AKIAR7K2M4QQJV5SXE3D.", b"AKIA"),
            Some((5, 20))
        );
        let run = "sk-".repeat(1 << 20);
        let led = format!("x{run}");
        let t = std::time::Instant::now();
        assert_eq!(run_of(run.as_bytes(), b"sk-"), Some((0, run.len())));
        assert_eq!(run_of(led.as_bytes(), b"sk-"), None);
        assert_eq!(run_of("sk- ".repeat(1 << 20).as_bytes(), b"sk-"), None);
        assert_eq!(run_of("AKIA".repeat(1 << 20).as_bytes(), b"AKIA"), None);
        // Linear: about a second in a test build (the searchers are optimized there, see
        // the workspace's Cargo.toml), more on a loaded machine; the quadratic scan took
        // hours on these 3 MB, so the bound is generous.
        assert!(
            t.elapsed() < std::time::Duration::from_secs(30),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn runs_of_every_new_prefix_scan_in_linear_time() {
        let units = [
            "github_pat_",
            "gho_",
            "ghs_",
            "glpat-",
            "xoxp-",
            "xapp-",
            "ABSK",
            "bedrock-api-key-",
            "-----BEGIN PRIVATE KEY-----",
            "PRIVATE KEY-----",
            "password=",
            "api_key: ",
            "secret=",
            "aws_secret_access_key=",
            "AKIAR7K2M4QQJV5SXE3D ",
        ];
        for unit in units {
            for lead in ["x", " "] {
                let body = format!("{lead}{}", unit.repeat((2 << 20) / unit.len()));
                let t = std::time::Instant::now();
                let mut f = ContentFlags::default();
                scan(body.as_bytes(), &mut f);
                assert!(
                    t.elapsed() < std::time::Duration::from_secs(30),
                    "{unit:?}: {:?}",
                    t.elapsed()
                );
            }
        }
    }
}
