//! Small matchers used by detector files: `*` globs and CIDR blocks.

use std::net::IpAddr;

/// A case-sensitive glob where `*` matches any run of characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(String);

impl Glob {
    pub fn new(p: &str) -> Self {
        Glob(p.to_string())
    }

    pub fn is_match(&self, s: &str) -> bool {
        let mut parts = self.0.split('*');
        let first = parts.next().unwrap_or("");
        let Some(mut rest) = s.strip_prefix(first) else {
            return false;
        };
        let parts: Vec<&str> = parts.collect();
        let Some((last, middle)) = parts.split_last() else {
            return rest.is_empty();
        };
        for p in middle {
            match rest.find(p) {
                Some(i) => rest = &rest[i + p.len()..],
                None => return false,
            }
        }
        rest.len() >= last.len() && rest.ends_with(last)
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
    }
}
