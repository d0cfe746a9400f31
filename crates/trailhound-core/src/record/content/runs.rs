//! Every prefix-anchored secret (access key ids, tokens, Bedrock keys, PEM private keys) in
//! one pass over a body: an Aho-Corasick automaton reports each occurrence of each prefix,
//! and each prefix keeps the state its own search had (the first accepted run, and where
//! its next candidate may start). Eighteen `memmem` passes over every prompt were a quarter
//! of the invocation-log decode; one pass gives the same answers (tested against the
//! per-prefix searches in `content.rs`).

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, Input, MatchKind};

use super::{example, is_token, is_upper_alnum};

/// What a run after a prefix must be to count.
#[derive(Clone, Copy)]
pub(super) enum Accept {
    /// Exactly 20 characters and not a documentation example (access key ids).
    AwsKeyId,
    /// At least this many characters in all, the prefix included.
    AtLeast(usize),
}

/// A prefix-anchored secret: the kind, the prefix, the characters of its run and the run's
/// shape.
pub(super) struct Anchor {
    pub kind: &'static str,
    pub prefix: &'static [u8],
    pub class: fn(u8) -> bool,
    pub accept: Accept,
}

fn absk(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

const fn token(kind: &'static str, prefix: &'static [u8], min: usize) -> Anchor {
    Anchor {
        kind,
        prefix,
        class: is_token,
        accept: Accept::AtLeast(prefix.len() + min),
    }
}

/// In the order `find` reports them: the two access key id prefixes (the earlier run of
/// the two wins), the tokens (minimum token characters after the prefix), Bedrock
/// long-term keys (`ABSK` + 32 or more; the `=` padding is not part of the run, so
/// `KEY=ABSK…` is on a boundary).
pub(super) const ANCHORS: &[Anchor] = &[
    Anchor {
        kind: "aws-access-key-id",
        prefix: b"AKIA",
        class: is_upper_alnum,
        accept: Accept::AwsKeyId,
    },
    Anchor {
        kind: "aws-access-key-id",
        prefix: b"ASIA",
        class: is_upper_alnum,
        accept: Accept::AwsKeyId,
    },
    token("github-token", b"github_pat_", 40),
    token("github-token", b"ghp_", 30),
    token("github-token", b"gho_", 30),
    token("github-token", b"ghu_", 30),
    token("github-token", b"ghs_", 30),
    token("github-token", b"ghr_", 30),
    token("gitlab-token", b"glpat-", 20),
    token("slack-token", b"xoxb-", 20),
    token("slack-token", b"xoxp-", 20),
    token("slack-token", b"xoxa-", 20),
    token("slack-token", b"xoxr-", 20),
    token("slack-token", b"xoxs-", 20),
    token("slack-token", b"xapp-", 20),
    token("bedrock-api-key", b"bedrock-api-key-", 32),
    token("openai-key", b"sk-", 32),
    Anchor {
        kind: "bedrock-api-key",
        prefix: b"ABSK",
        class: absk,
        accept: Accept::AtLeast(36),
    },
];

/// The tail of a PEM private-key header; the automaton's last pattern.
pub(super) const PEM: &[u8] = b"PRIVATE KEY-----";

static AUTOMATON: LazyLock<AhoCorasick> = LazyLock::new(|| {
    let patterns = ANCHORS.iter().map(|a| a.prefix).chain([PEM]);
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostFirst)
        .build(patterns)
        .expect("the secret prefixes build an automaton")
});

/// What one pass found: the first accepted run (start, length) of each anchor, and the
/// first PEM private key (masked).
pub(super) struct Found {
    pub runs: [Option<(usize, usize)>; ANCHORS.len()],
    pub private_key: Option<String>,
}

/// Scans `body` once. For each anchor this is what a search for its prefix alone gives: the
/// first run of `class` bytes that starts with the prefix on a boundary and is accepted; a
/// run is measured once and the anchor's next candidate starts after it (so runs of a
/// prefix, `sk-sk-sk-…`, stay linear).
pub(super) fn scan(body: &[u8]) -> Found {
    let mut found = Found {
        runs: [None; ANCHORS.len()],
        private_key: None,
    };
    let mut next = [0usize; ANCHORS.len()];
    let mut open = ANCHORS.len() + 1;
    // No prefix is a prefix of another, so at most one matches at a position: searching
    // for the leftmost match again from the byte after each one visits every occurrence of
    // every prefix (overlaps included), with the automaton's SIMD prefilter (an overlapping
    // search has none, and was a third of the decode).
    let mut from = 0;
    while let Some(m) = AUTOMATON.find(Input::new(body).span(from..body.len())) {
        let (p, at) = (m.pattern().as_usize(), m.start());
        from = at + 1;
        let Some(anchor) = ANCHORS.get(p) else {
            if found.private_key.is_none() {
                found.private_key = super::private_key_at(body, at);
                open -= usize::from(found.private_key.is_some());
            }
            continue;
        };
        if found.runs[p].is_some() || at < next[p] {
            continue;
        }
        let len = body[at..]
            .iter()
            .take_while(|&&b| (anchor.class)(b))
            .count();
        let boundary = at == 0 || !(anchor.class)(body[at - 1]);
        let run = &body[at..at + len];
        let accepted = match anchor.accept {
            Accept::AwsKeyId => len == 20 && !example(run),
            Accept::AtLeast(n) => len >= n,
        };
        if boundary && accepted {
            found.runs[p] = Some((at, len));
            open -= 1;
            if open == 0 {
                break;
            }
        }
        // A prefix that is not all `class` bytes leaves `len` short of it: step past it.
        next[p] = at + len.max(1);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::super::{find, find_per_prefix};

    #[test]
    fn no_prefix_starts_another() {
        // `scan` relies on it: at most one prefix matches at a position.
        let all: Vec<&[u8]> = super::ANCHORS
            .iter()
            .map(|a| a.prefix)
            .chain([super::PEM])
            .collect();
        for a in &all {
            for b in &all {
                assert!(a == b || !b.starts_with(a), "{a:?} starts {b:?}");
            }
        }
    }

    #[test]
    fn one_pass_agrees_with_a_search_per_prefix() {
        // Every prefix at a boundary and not, runs of the right length and one short,
        // overlapping prefixes (`ghp_sk-…`, `xoxb-ABSK…`), repeats, PEM headers, and random
        // bytes over an alphabet of the prefixes' letters.
        let long = "R7K2M4QQJV5SXE3Dq8Vd3kR2mT7yWz1XbN4cLp6HsJ0aGfE9uK5oYiB3";
        let mut bodies: Vec<String> = Vec::new();
        for prefix in super::ANCHORS
            .iter()
            .map(|a| std::str::from_utf8(a.prefix).unwrap())
        {
            for n in [15, 16, 17, 19, 20, 31, 32, 33, 36, 40, 41, 56] {
                let run = &long[..n.min(long.len())];
                bodies.push(format!("{prefix}{run}"));
                bodies.push(format!("x{prefix}{run} {prefix}{run}"));
                bodies.push(format!("{prefix}{prefix}{run}.{prefix}EXAMPLE{run}"));
                bodies.push(format!("ghp_sk-{run} xoxb-ABSK{run}{run} AKIA{run}"));
            }
        }
        for header in [
            "-----BEGIN RSA PRIVATE KEY-----\n",
            "-----BEGIN PRIVATE KEY-----\\n",
        ] {
            bodies.push(format!("{header}{long} AKIAR7K2M4QQJV5SXE3D"));
            bodies.push(format!("{header}short PRIVATE KEY----- ghp_{long}"));
        }
        let alphabet = b"AKISBghp_osk-xbaEP 7R2Q=:/\n";
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for n in 0..20_000 {
            let body: String = (0..n % 160)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    alphabet[(x % alphabet.len() as u64) as usize] as char
                })
                .collect();
            bodies.push(body);
        }
        let mut kinds = std::collections::BTreeSet::new();
        for body in &bodies {
            let want = find_per_prefix(body.as_bytes());
            if let Some((kind, _)) = &want {
                kinds.insert(*kind);
            }
            assert_eq!(find(body.as_bytes()), want, "{body:?}");
        }
        assert!(kinds.len() >= 8, "the bodies reach most kinds: {kinds:?}");
    }
}
