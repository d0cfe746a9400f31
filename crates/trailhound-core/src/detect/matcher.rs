//! Small matchers used by detector files: `*` globs, lists of names or globs, CIDR blocks.
//! All are compiled when a file loads, so matching an event parses nothing.

use std::net::IpAddr;

/// A case-sensitive glob where `*` matches any run of characters. The pattern is split at
/// its stars once, when compiled.
/// A `*` glob (`*` matches any run of characters, none included). The parts between stars
/// are searched with precompiled `memchr` finders: user-agent globs such as `*kali*` run
/// on every activity, and a precompiled SIMD search is several times cheaper than
/// `str::find`, which sets its searcher up again on every call.
#[derive(Debug, Clone)]
pub struct Glob {
    pattern: String,
    /// Text before the first `*` (all of it without a star).
    first: String,
    /// The parts between stars, in order.
    middle: Vec<memchr::memmem::Finder<'static>>,
    /// Text after the last `*`; `None` without a star.
    last: Option<String>,
}

impl PartialEq for Glob {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl Eq for Glob {}

impl Glob {
    pub fn new(p: &str) -> Self {
        let mut parts: Vec<&str> = p.split('*').collect();
        let first = parts.remove(0).to_string();
        let last = parts.pop().map(str::to_string);
        Glob {
            pattern: p.to_string(),
            first,
            middle: parts
                .iter()
                .map(|m| memchr::memmem::Finder::new(m.as_bytes()).into_owned())
                .collect(),
            last,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    pub fn is_match(&self, s: &str) -> bool {
        let first = self.first.as_bytes();
        if s.len() < first.len() || !same(&s.as_bytes()[..first.len()], first) {
            return false;
        }
        // A whole UTF-8 prefix ends on a character boundary.
        let mut rest = &s[first.len()..];
        let Some(last) = &self.last else {
            return rest.is_empty();
        };
        for f in &self.middle {
            // A UTF-8 needle found in UTF-8 text starts and ends on character boundaries.
            match f.find(rest.as_bytes()) {
                Some(i) => rest = &rest[i + f.needle().len()..],
                None => return false,
            }
        }
        rest.len() >= last.len()
            && same(&rest.as_bytes()[rest.len() - last.len()..], last.as_bytes())
    }
}

/// Byte equality of two short slices, inline: the prefixes and suffixes of globs (`arn:`,
/// `/*`, `Mozilla/`) are a few bytes, and a call to libc's `memcmp` per comparison was 7% of
/// a replay with the default detectors (perf, realistic CloudTrail file).
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    Exact(Box<str>),
    Glob(Glob),
}

impl Pattern {
    pub fn new(p: &str) -> Self {
        if p.contains('*') {
            Pattern::Glob(Glob::new(p))
        } else {
            Pattern::Exact(p.into())
        }
    }

    pub fn is_match(&self, s: &str) -> bool {
        match self {
            Pattern::Exact(e) => **e == *s,
            Pattern::Glob(g) => g.is_match(s),
        }
    }
}

/// A list of names or globs; it matches a value when any entry does. An empty list is "not
/// set": callers treat it as matching everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patterns {
    list: Vec<Pattern>,
    /// Whether a [`Memo`] of results pays, decided once: a glob searches the text (`*kali*`
    /// is a SIMD search over a 150-byte user agent), and a long list compares many names; a
    /// few exact names compare faster than a hash lookup.
    memo: bool,
}

impl Patterns {
    pub fn new(list: &[String]) -> Self {
        let list: Vec<Pattern> = list.iter().map(|p| Pattern::new(p)).collect();
        let memo = list.len() > 4 || list.iter().any(|p| matches!(p, Pattern::Glob(_)));
        Patterns { list, memo }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn any(&self, s: &str) -> bool {
        self.list.iter().any(|p| p.is_match(s))
    }

    /// The names when every entry is exact (no glob), else `None`.
    pub fn exact(&self) -> Option<Vec<String>> {
        self.list
            .iter()
            .map(|p| match p {
                Pattern::Exact(e) => Some(e.to_string()),
                Pattern::Glob(_) => None,
            })
            .collect()
    }
}

/// Results of pattern lists on interned values, kept for one batch of activities (one
/// object): an object holds thousands of activities but a few dozen distinct user agents,
/// regions or principals, and the default detectors test nine `*…*` user-agent globs on
/// every CloudTrail activity.
///
/// Keyed by the address of the list and of the value's `Arc`: while the activities are
/// alive (the memo must not outlive them) an address stands for one text; equal texts behind
/// different `Arc`s only add entries computed from the same text.
pub struct Memo {
    results: std::collections::HashMap<(usize, usize), bool, foldhash::fast::RandomState>,
    on: bool,
}

impl Memo {
    /// A memo for one batch of activities, which must outlive it.
    pub fn new() -> Self {
        Memo {
            results: Default::default(),
            on: true,
        }
    }

    /// A memo that keeps nothing (one-off checks).
    pub fn off() -> Self {
        Memo {
            results: Default::default(),
            on: false,
        }
    }

    /// `p.any(v)`, remembered per (list, value).
    pub fn any(&mut self, p: &Patterns, v: &std::sync::Arc<str>) -> bool {
        if !self.on || !p.memo {
            return p.any(v);
        }
        let key = (p as *const Patterns as usize, super::dispatch::addr(v));
        *self.results.entry(key).or_insert_with(|| p.any(v))
    }
}

impl Default for Memo {
    fn default() -> Self {
        Memo::new()
    }
}

/// An IPv4 or IPv6 block, `a.b.c.d/n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Self, String> {
        let (ip, bits) = s.split_once('/').unwrap_or((s, ""));
        let net: IpAddr = ip
            .parse()
            .map_err(|_| format!("`{s}` is not an address or CIDR block"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = if bits.is_empty() {
            max
        } else {
            bits.parse()
                .map_err(|_| format!("`{s}`: bad prefix length"))?
        };
        if bits > max {
            return Err(format!("`{s}`: prefix length over {max}"));
        }
        Ok(Cidr { net, bits })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                let mask = if self.bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.bits)
                };
                (u32::from(n) & mask) == (u32::from(i) & mask)
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => {
                let mask = if self.bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.bits)
                };
                (u128::from(n) & mask) == (u128::from(i) & mask)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_cidrs() {
        assert!(
            Glob::new("arn:aws:iam::*:role/*sagemaker*")
                .is_match("arn:aws:iam::1:role/my-sagemaker-role")
        );
        assert!(!Glob::new("arn:aws:iam::*:role/ci-*").is_match("arn:aws:iam::1:role/app"));
        assert!(Glob::new("exact").is_match("exact") && !Glob::new("exact").is_match("exactly"));
        assert!(Glob::new("*").is_match(""));
        assert!(!Glob::new("a*a").is_match("a"));
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(
            c.contains("10.2.3.4".parse().unwrap()) && !c.contains("11.0.0.1".parse().unwrap())
        );
        assert!(
            Cidr::parse("2001:db8::/32")
                .unwrap()
                .contains("2001:db8::1".parse().unwrap())
        );
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        let p = Patterns::new(&["List*".into(), "GetFoundationModel".into()]);
        assert!(p.any("ListCustomModels") && p.any("GetFoundationModel"));
        assert!(!p.any("GetFoundationModelAvailability") && p.exact().is_none());
        assert!(Glob::new("a*b*c").is_match("aXbYc") && !Glob::new("a*b*c").is_match("acb"));
    }
}
