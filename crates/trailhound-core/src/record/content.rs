//! Scans prompt and completion bodies where they are decoded. Nothing of the content leaves
//! this module except a flag, a secret kind and a masked form of the secret.

use memchr::memmem;

/// What a scan found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ContentFlags {
    pub guardrail_intervened: bool,
    /// Secret kind and its masked form (first four characters, the rest starred).
    pub secret: Option<(&'static str, String)>,
}

/// Masks a secret: keeps a short prefix that identifies the kind, hides the rest.
pub fn mask(secret: &[u8]) -> String {
    let keep = secret.len().min(4);
    let mut s: String = secret[..keep].iter().map(|&b| b as char).collect();
    s.extend(std::iter::repeat_n(
        '*',
        secret.len().saturating_sub(keep).min(16),
    ));
    s
}

fn is_upper_alnum(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Finds the first run of `class` bytes that starts with `prefix` on a boundary (the byte
/// before is not in `class`) and that `accept`s its length. Every byte is looked at a bounded
/// number of times: a run is measured once, from the first occurrence of `prefix` in it, and
/// the search goes on after its end (only a run's first byte can be on a boundary), so runs
/// of the prefix itself (`sk-sk-sk-…`, `AKIAAKIA…`) cost no more than any other text.
fn find_run(
    body: &[u8],
    prefix: &[u8],
    class: fn(u8) -> bool,
    accept: impl Fn(usize) -> bool,
) -> Option<(usize, usize)> {
    let finder = memmem::Finder::new(prefix);
    let mut from = 0;
    while let Some(off) = finder.find(&body[from..]) {
        let at = from + off;
        let len = body[at..].iter().take_while(|&&b| class(b)).count();
        let boundary = at == 0 || !class(body[at - 1]);
        if boundary && accept(len) {
            return Some((at, len));
        }
        // A prefix that is not all `class` bytes leaves `len` short of it: step past it anyway.
        from = at + len.max(1);
    }
    None
}

/// Finds an AWS access key id (`AKIA`/`ASIA` + 16 upper-case alphanumerics) on a word boundary.
fn aws_key(body: &[u8]) -> Option<&[u8]> {
    for prefix in [&b"AKIA"[..], b"ASIA"] {
        if let Some((at, len)) = find_run(body, prefix, is_upper_alnum, |len| len == 20) {
            return Some(&body[at..at + len]);
        }
    }
    None
}

/// Finds a token that starts with `prefix` and has at least `min` token characters after it;
/// returns its start and length.
fn prefixed(body: &[u8], prefix: &[u8], min: usize) -> Option<(usize, usize)> {
    find_run(body, prefix, is_token, |len| len >= prefix.len() + min)
}

/// Scans one body (raw JSON text of a prompt or completion).
pub fn scan(body: &[u8], flags: &mut ContentFlags) {
    if body.is_empty() {
        return;
    }
    if !flags.guardrail_intervened
        && (memmem::find(body, b"guardrail_intervened").is_some()
            || memmem::find(body, b"\"INTERVENED\"").is_some())
    {
        flags.guardrail_intervened = true;
    }
    if flags.secret.is_some() {
        return;
    }
    if let Some(k) = aws_key(body) {
        flags.secret = Some(("aws-access-key-id", mask(k)));
    } else if memmem::find(body, b"-----BEGIN").is_some()
        && memmem::find(body, b"PRIVATE KEY-----").is_some()
    {
        flags.secret = Some(("private-key", "-----BEGIN ****".to_string()));
    } else {
        for (kind, prefix, min) in [
            ("github-token", &b"ghp_"[..], 30),
            ("slack-token", b"xoxb-", 20),
            ("openai-key", b"sk-", 32),
        ] {
            if let Some((at, n)) = prefixed(body, prefix, min) {
                flags.secret = Some((kind, mask(&body[at..at + n])));
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_masks_secrets() {
        let mut f = ContentFlags::default();
        scan(br#"{"text":"my key is AKIAIOSFODNN7EXAMPLE ok"}"#, &mut f);
        assert_eq!(
            f.secret,
            Some(("aws-access-key-id", "AKIA****************".to_string()))
        );
        let mut f = ContentFlags::default();
        scan(br#"{"text":"XAKIAIOSFODNN7EXAMPLE1"}"#, &mut f);
        assert_eq!(f.secret, None);
        let mut f = ContentFlags::default();
        scan(br#"{"stopReason":"guardrail_intervened"}"#, &mut f);
        assert!(f.guardrail_intervened);
    }

    #[test]
    fn runs_of_a_prefix_are_measured_once() {
        // Inside a run only its first byte is on a boundary.
        let body = b"xsk-sk-sk-sk-sk-sk-sk-sk-sk-sk-sk-sk-sk-sk-sk-sk-sk-sk- sk-sk-sk-sk-sk-sk-sk-sk-sk-sk-sk-sk-";
        assert_eq!(prefixed(body, b"sk-", 32), Some((56, 36)));
        assert_eq!(prefixed(&body[..90], b"sk-", 32), None);
        assert_eq!(
            aws_key(b"AKIAAKIAIOSFODNN7EXA"),
            Some(&b"AKIAAKIAIOSFODNN7EXA"[..])
        );
        assert_eq!(aws_key(b"AKIAAKIAIOSFODNN7EXAM"), None);
        assert_eq!(
            aws_key(b"AKIA AKIAIOSFODNN7EXAMPLE."),
            Some(&b"AKIAIOSFODNN7EXAMPLE"[..])
        );
        let run = "sk-".repeat(1 << 20);
        let led = format!("x{run}");
        let t = std::time::Instant::now();
        assert_eq!(prefixed(run.as_bytes(), b"sk-", 32), Some((0, run.len())));
        assert_eq!(prefixed(led.as_bytes(), b"sk-", 32), None);
        assert_eq!(
            prefixed("sk- ".repeat(1 << 20).as_bytes(), b"sk-", 32),
            None
        );
        assert_eq!(aws_key("AKIA".repeat(1 << 20).as_bytes()), None);
        // Linear: well under a second in a release build, a few in debug on a loaded
        // machine; the quadratic scan took minutes.
        assert!(
            t.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            t.elapsed()
        );
    }
}
