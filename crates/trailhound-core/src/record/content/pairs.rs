//! Labelled secrets: `password=…`, `api_key: "…"`, `secret=…`, `aws_secret_access_key = …`,
//! in any case (`DB_PASSWORD`, `apiKey`, `ClientSecret`) and inside JSON text (`\"password\":
//! \"…\"`).
//!
//! A generic value counts only when it looks random ([`random_enough`]): at least
//! [`MIN_LEN`] characters, a letter and a digit, and a Shannon entropy of at least
//! [`MIN_ENTROPY`] bits per character. Why these numbers: a random alphanumeric string of 12
//! characters almost always has 10 or more distinct characters (≈ 3.3-3.6 bits per
//! character, the maximum for 12 being log2 12 = 3.58); 3.0 bits needs about 9 distinct
//! characters spread evenly, which words, repeated placeholders (`xxxxxxxx1`, `changeme`,
//! `password123` has 3.1 and fires: it is a password in a prompt), numbers and
//! `${VARIABLES}` do not reach. Shorter values are too often words or examples to be worth
//! an alert (and a password under 12 characters is mostly found by its label alone, which is
//! too noisy for a High finding). Values that start like a template (`$`, `{`, `<`, `%`) or
//! hold `example`/`EXAMPLE` are skipped.
//!
//! Linear: label candidates are found by `memchr` on their first letter, each compared with a
//! few fixed bytes; after a match the search resumes after the value, and the separator and
//! value look-aheads are bounded.

use memchr::memmem;

/// Shortest generic value that can fire.
pub const MIN_LEN: usize = 12;
/// Longest value looked at (longer runs are cut there: still judged).
const MAX_LEN: usize = 128;
/// Bits per character a generic value needs.
pub const MIN_ENTROPY: f64 = 3.0;

/// Labels: the text (lower case, `_`/`-` optional where written `_`) and the kind.
const LABELS: &[(&[u8], &str)] = &[
    (b"password", "password"),
    (b"passwd", "password"),
    (b"api_key", "api-key"),
    (b"secret", "secret"),
    (b"aws_secret_access_key", "aws-secret-access-key"),
];

/// Matches a label at `i` (case-insensitive; `_` may be `-` or absent). Returns its end.
fn label_at(body: &[u8], i: usize, label: &[u8]) -> Option<usize> {
    let mut j = i;
    for &c in label {
        if c == b'_' {
            if matches!(body.get(j), Some(b'_' | b'-')) {
                j += 1;
            }
            continue;
        }
        if body.get(j).map(u8::to_ascii_lowercase) != Some(c) {
            return None;
        }
        j += 1;
    }
    Some(j)
}

/// After a label: identifier characters (`_hash`, `Key`), then `"`/`\"`/`'`, spaces, `=` or
/// `:`, spaces and an opening quote. Returns where the value starts.
fn separator(body: &[u8], mut j: usize) -> Option<usize> {
    let start = j;
    while j < body.len() && j - start < 16 && (body[j].is_ascii_alphanumeric() || body[j] == b'_') {
        j += 1;
    }
    let stop = (j + 12).min(body.len());
    let mut seen_eq = false;
    while j < stop {
        match body[j] {
            b' ' | b'\t' | b'"' | b'\'' | b'\\' => j += 1,
            b'=' | b':' if !seen_eq => {
                seen_eq = true;
                j += 1;
            }
            _ => break,
        }
    }
    seen_eq.then_some(j)
}

fn value_byte(b: u8) -> bool {
    !(b.is_ascii_whitespace()
        || matches!(
            b,
            b'"' | b'\'' | b'\\' | b',' | b';' | b'}' | b']' | b')' | b'&' | b'<' | b'>'
        ))
}

/// Shannon entropy in bits per character.
pub fn entropy(v: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &b in v {
        counts[b as usize] += 1;
    }
    let n = v.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Whether a generic value looks like a secret (see the module docs).
pub fn random_enough(v: &[u8]) -> bool {
    v.len() >= MIN_LEN
        && !matches!(v[0], b'$' | b'{' | b'<' | b'%' | b'*')
        && v.iter().any(u8::is_ascii_alphabetic)
        && v.iter().any(u8::is_ascii_digit)
        && memmem::find(v, b"example").is_none()
        && memmem::find(v, b"EXAMPLE").is_none()
        && entropy(v) >= MIN_ENTROPY
}

/// How far before its `=`/`:` a label can start: the longest label (21 bytes,
/// `aws_secret_access_key`), 16 identifier characters after it, and at most 11 separator
/// bytes before the `=` (see [`separator`]).
const REACH: usize = 21 + 16 + 11;

/// What a label candidate at one position gave.
enum Candidate<'a> {
    /// No label with a separator starts here.
    None,
    /// A label and a value that is not a secret; the search resumes at the index.
    Rejected(usize),
    Found(&'static str, &'a [u8]),
}

/// Tries a label at `at`: a word or camelCase start, a label, its separator and value.
fn candidate(body: &[u8], at: usize, aws: bool) -> Candidate<'_> {
    if !matches!(body[at], b'p' | b'a' | b's' | b'P' | b'A' | b'S') {
        return Candidate::None;
    }
    // A label starts a word, or a camelCase part (`dbPassword`, `ClientSecret`).
    if at > 0 && body[at - 1].is_ascii_alphanumeric() && !body[at].is_ascii_uppercase() {
        return Candidate::None;
    }
    for (label, kind) in LABELS {
        let Some(end) = label_at(body, at, label) else {
            continue;
        };
        // `SecretAccessKey` (CloudTrail, SDK JSON) is the AWS label written camelCase.
        let (end, kind) = match label_at(body, end, b"_access_key") {
            Some(e) if *kind == "secret" => (e, "aws-secret-access-key"),
            _ => (end, *kind),
        };
        if (kind == "aws-secret-access-key") != aws {
            continue;
        }
        let Some(v) = separator(body, end) else {
            continue;
        };
        let len = body[v..]
            .iter()
            .take(MAX_LEN)
            .take_while(|&&b| value_byte(b))
            .count();
        let value = &body[v..v + len];
        let ok = if aws {
            value.len() == 40
                && value.iter().all(|&b| super::is_base64(b))
                && super::secret_key_shape(value)
        } else {
            random_enough(value)
        };
        if ok {
            return Candidate::Found(kind, value);
        }
        // Resume after the value: it is not searched again.
        return Candidate::Rejected(v + len);
    }
    Candidate::None
}

/// The first labelled secret: with `aws`, only AWS secret access keys (40 characters, mixed
/// case, not an example); without, the generic kinds.
///
/// Every label needs a `=` or `:` at most [`REACH`] bytes after its start, so the search
/// jumps (`memchr`) from one `=`/`:` to the next and tries only the positions before it that
/// no earlier window tried: the same positions in the same order as trying every byte
/// (prompts are mostly prose, where that was 5 ns a byte), each at most once.
pub fn pair(body: &[u8], aws: bool) -> Option<(&'static str, &[u8])> {
    let mut next = 0;
    for e in memchr::memchr2_iter(b'=', b':', body) {
        let mut at = next.max(e.saturating_sub(REACH));
        while at < e {
            match candidate(body, at, aws) {
                Candidate::Found(kind, value) => return Some((kind, value)),
                Candidate::Rejected(resume) => at = resume.max(at + 1),
                Candidate::None => at += 1,
            }
        }
        next = next.max(at);
    }
    None
}

/// The byte-by-byte search [`pair`] must agree with (tests only).
#[cfg(test)]
fn pair_every_byte(body: &[u8], aws: bool) -> Option<(&'static str, &[u8])> {
    let mut at = 0;
    while at < body.len() {
        match candidate(body, at, aws) {
            Candidate::Found(kind, value) => return Some((kind, value)),
            Candidate::Rejected(resume) => at = resume.max(at + 1),
            Candidate::None => at += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(body: &str) -> Option<&'static str> {
        pair(body.as_bytes(), false).map(|(k, _)| k)
    }

    #[test]
    fn generic_pairs() {
        for (body, want) in [
            ("DB_PASSWORD=Zq7!mR2#vL9x", Some("password")),
            (r#"{\"password\": \"Zq7mR2vL9xKp\"}"#, Some("password")),
            ("dbPassword: 'T4k9Lm2Qx7Rz'", Some("password")),
            ("api_key=3f9a2b7c41d8e6f05a9b", Some("api-key")),
            ("apiKey: 3f9a2b7c41d8e6f05a9b", Some("api-key")),
            ("API-KEY = 3f9a2b7c41d8e6f05a9b", Some("api-key")),
            ("client_secret=Vx8Pq2Lm7Zr4Tn1k", Some("secret")),
            ("ClientSecret: Vx8Pq2Lm7Zr4Tn1k", Some("secret")),
            // Words, templates, short values, examples, repeated characters: not secrets.
            ("password: stored_in_secrets_manager", None),
            ("password=${DB_PASSWORD}", None),
            ("password = <your-password-here1>", None),
            ("password=hunter2", None),
            ("api_key=example1234567890", None),
            ("secret=aaaaaaaaaaaa1", None),
            ("the password is in the vault", None),
            ("secretary: 12345678901234", None),
            ("mysecret=Vx8Pq2Lm7Zr4Tn1k", None),
        ] {
            assert_eq!(kind(body), want, "{body}");
        }
    }

    #[test]
    fn entropy_threshold() {
        assert!((entropy(b"abcdefgh") - 3.0).abs() < 1e-9);
        assert_eq!(entropy(b"aaaa"), 0.0);
        assert!(random_enough(b"Zq7mR2vL9xKp"));
        assert!(!random_enough(b"aabbccdd1122"));
        assert!(!random_enough(b"Zq7mR2vL9xK"));
    }

    #[test]
    fn aws_labels() {
        let s = "q8Vd3kR2mT7yWz1XbN4cLp6HsJ0aGfE9uK5oYiB3";
        for label in [
            "aws_secret_access_key = ",
            "AWS_SECRET_ACCESS_KEY=",
            "\\\"SecretAccessKey\\\": \\\"",
            "secret_access_key: ",
        ] {
            let body = format!("{label}{s}");
            assert_eq!(
                pair(body.as_bytes(), true),
                Some(("aws-secret-access-key", s.as_bytes())),
                "{body}"
            );
            assert_eq!(pair(body.as_bytes(), false), None, "{body}");
        }
        let ex = "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        assert_eq!(pair(ex.as_bytes(), true), None);
    }

    #[test]
    fn anchored_search_agrees_with_every_byte() {
        // Labels at every distance from their separator, rejected values followed by real
        // ones, windows that overlap, separators without labels, and random bytes.
        let mut bodies: Vec<Vec<u8>> = Vec::new();
        for (pad, gap) in (0..18).flat_map(|p| (0..13).map(move |g| (p, g))) {
            let ident = "x".repeat(pad);
            let spaces = " ".repeat(gap);
            for label in [
                "password",
                "api_key",
                "SecretAccessKey",
                "aws_secret_access_key",
                "awssecret_access_key",
            ] {
                bodies.push(
                    format!("a: b {label}{ident}{spaces}= hunter2 {label}:Zq7mR2vL9xKpq8Vd3kR2mT7yWz1XbN4cLp6HsJ0a").into(),
                );
                bodies.push(
                    format!("==::{label}{spaces}:{ident}=q8Vd3kR2mT7yWz1XbN4cLp6HsJ0aGfE9uK5oYiB3")
                        .into(),
                );
                // The label as far from its `=` as it can be.
                for value in ["Zq7mR2vL9xKp", "q8Vd3kR2mT7yWz1XbN4cLp6HsJ0aGfE9uK5oYiB3"] {
                    bodies.push(format!("{label}{ident}{spaces}={value}").into());
                }
            }
        }
        let alphabet = b"pasPAS_=: \"'xk9Zwordecty-";
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for n in 0..4000 {
            let len = n % 200;
            let body: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    alphabet[(x % alphabet.len() as u64) as usize]
                })
                .collect();
            bodies.push(body);
        }
        let mut found = 0;
        for body in &bodies {
            for aws in [false, true] {
                let want = pair_every_byte(body, aws);
                found += usize::from(want.is_some());
                assert_eq!(pair(body, aws), want, "{:?}", String::from_utf8_lossy(body));
            }
        }
        assert!(found > 100, "the bodies exercise matches ({found})");
    }
}
