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

/// Finds an AWS access key id (`AKIA`/`ASIA` + 16 upper-case alphanumerics) on a word boundary.
fn aws_key(body: &[u8]) -> Option<&[u8]> {
    for prefix in [&b"AKIA"[..], b"ASIA"] {
        for at in memmem::find_iter(body, prefix) {
            let end = at + 20;
            if end <= body.len()
                && body[at + 4..end].iter().all(|&b| is_upper_alnum(b))
                && (at == 0 || !is_upper_alnum(body[at - 1]))
                && body.get(end).is_none_or(|&b| !is_upper_alnum(b))
            {
                return Some(&body[at..end]);
            }
        }
    }
    None
}

/// Finds a token that starts with `prefix` and has at least `min` token characters after it.
fn prefixed(body: &[u8], prefix: &[u8], min: usize) -> Option<usize> {
    memmem::find_iter(body, prefix).find(|&at| {
        let n = body[at + prefix.len()..]
            .iter()
            .take_while(|&&b| is_token(b))
            .count();
        n >= min && (at == 0 || !is_token(body[at - 1]))
    })
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
            if let Some(at) = prefixed(body, prefix, min) {
                let n = body[at..].iter().take_while(|&&b| is_token(b)).count();
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
}
