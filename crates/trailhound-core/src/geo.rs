//! Source-IP classification and country lookup in an MMDB file.
//!
//! Two record layouts are read: MaxMind's (`country.iso_code`) and the `country_code`
//! layout of `@ip-location-db/geo-whois-asn-country-mmdb`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

/// What a CloudTrail `sourceIPAddress` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceAddr {
    /// A routable address: geo applies.
    Public(IpAddr),
    /// Private, loopback, link-local, shared (CGNAT) or unspecified: no geo.
    Private(IpAddr),
    /// An AWS service name (`s3.amazonaws.com`) or `AWS Internal`: no geo.
    Service,
    /// Anything else (a malformed value); kept as text, no geo.
    Other,
}

impl SourceAddr {
    pub fn ip(self) -> Option<IpAddr> {
        match self {
            SourceAddr::Public(ip) | SourceAddr::Private(ip) => Some(ip),
            _ => None,
        }
    }
}

/// Classifies a source address as logged. Accepts the leading-zero IPv4 form real logs
/// contain (`035.1.2.3` is read as decimal 35.1.2.3, as AWS writes it).
pub fn classify(s: &str) -> SourceAddr {
    let s = s.trim();
    if s.is_empty() {
        return SourceAddr::Other;
    }
    if s == "AWS Internal" || s.ends_with(".amazonaws.com") || s.ends_with(".amazonaws.com.cn") {
        return SourceAddr::Service;
    }
    let ip = s
        .parse::<IpAddr>()
        .ok()
        .or_else(|| lenient_v4(s).map(IpAddr::V4))
        .or_else(|| {
            s.trim_start_matches('[')
                .trim_end_matches(']')
                .split('%')
                .next()?
                .parse()
                .ok()
        });
    match ip {
        Some(ip) if is_private(ip) => SourceAddr::Private(ip),
        Some(ip) => SourceAddr::Public(ip),
        None => SourceAddr::Other,
    }
}

fn lenient_v4(s: &str) -> Option<Ipv4Addr> {
    let mut o = [0u8; 4];
    let mut n = 0;
    for part in s.split('.') {
        if n == 4 || part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        o[n] = part.parse().ok()?;
        n += 1;
    }
    (n == 4).then(|| Ipv4Addr::from(o))
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let seg0 = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (seg0 & 0xfe00) == 0xfc00
                || (seg0 & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    country_code: Option<&'a str>,
    #[serde(borrow)]
    country: Option<Country<'a>>,
    autonomous_system_number: Option<u32>,
}

#[derive(Deserialize)]
struct Country<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
}

/// A two-letter country code, stored inline.
pub type CountryCode = [u8; 2];

pub fn country_str(c: &CountryCode) -> &str {
    std::str::from_utf8(c).unwrap_or("??")
}

/// The result of a lookup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GeoInfo {
    pub country: Option<CountryCode>,
    pub asn: Option<u32>,
}

/// An opened geo database (or none: lookups then return nothing).
pub struct Geo {
    reader: Option<maxminddb::Reader<Vec<u8>>>,
    pub path: Option<String>,
}

impl Geo {
    pub fn none() -> Self {
        Geo {
            reader: None,
            path: None,
        }
    }

    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let reader = maxminddb::Reader::open_readfile(path).with_context(|| {
            format!("could not open the geo database {}: run the setup (scripts/setup.sh) or pass --geoip FILE", path.display())
        })?;
        Ok(Geo {
            reader: Some(reader),
            path: Some(path.display().to_string()),
        })
    }

    pub fn is_loaded(&self) -> bool {
        self.reader.is_some()
    }

    /// Country (and ASN when the database has it) of a public address.
    pub fn lookup(&self, ip: IpAddr) -> GeoInfo {
        let Some(r) = &self.reader else {
            return GeoInfo::default();
        };
        match r.lookup::<Record>(ip) {
            Ok(Some(rec)) => {
                let code = rec.country_code.or(rec.country.and_then(|c| c.iso_code));
                let country = code.and_then(|c| {
                    let b = c.as_bytes();
                    (b.len() == 2 && b.iter().all(u8::is_ascii_alphabetic))
                        .then(|| [b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()])
                });
                GeoInfo {
                    country,
                    asn: rec.autonomous_system_number,
                }
            }
            _ => GeoInfo::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_odd_values_from_real_logs() {
        assert_eq!(
            classify("035.1.2.3"),
            SourceAddr::Public("35.1.2.3".parse().unwrap())
        );
        assert_eq!(
            classify("10.0.0.5"),
            SourceAddr::Private("10.0.0.5".parse().unwrap())
        );
        assert_eq!(
            classify("100.64.1.1"),
            SourceAddr::Private("100.64.1.1".parse().unwrap())
        );
        assert_eq!(classify("AWS Internal"), SourceAddr::Service);
        assert_eq!(classify("cloudtrail.amazonaws.com"), SourceAddr::Service);
        assert_eq!(
            classify("2001:db8::1"),
            SourceAddr::Public("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            classify("fe80::1%eth0"),
            SourceAddr::Private("fe80::1".parse().unwrap())
        );
        assert_eq!(
            classify("::ffff:192.168.1.1"),
            SourceAddr::Private("::ffff:192.168.1.1".parse().unwrap())
        );
        assert_eq!(classify("256.1.2.3"), SourceAddr::Other);
        assert_eq!(classify("1.2.3"), SourceAddr::Other);
        assert_eq!(classify(""), SourceAddr::Other);
        assert_eq!(classify("example.com"), SourceAddr::Other);
    }
}
