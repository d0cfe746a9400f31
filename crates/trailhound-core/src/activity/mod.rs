//! The normalized activity every detector sees: one small struct per record, built once.
//! Strings are shared `Arc<str>` interned per object, so a busy principal costs one copy.

pub mod decode;
pub mod normalize;
mod sniff;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

pub use decode::{Decoded, Sink, decode_object, decode_object_into};

use crate::geo::{CountryCode, Geo, GeoInfo, SourceAddr};
use crate::record::cloudtrail::{PathId, Paths, Scalar};

/// A value extracted from a record at a path a detector declared.
pub type ParamValue = Scalar<Arc<str>>;

/// Which log a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Cloudtrail,
    Invocation,
}

#[derive(Debug, Clone)]
pub struct Activity {
    /// Event time, Unix seconds.
    pub time: i64,
    pub source: Source,
    pub account: Arc<str>,
    pub region: Arc<str>,
    /// Full ARN as logged.
    pub principal: Arc<str>,
    /// The identity that owns the baseline (see [`principal_key`]).
    pub principal_key: Arc<str>,
    pub principal_type: Arc<str>,
    pub access_key_id: Option<Arc<str>>,
    pub event_source: Arc<str>,
    pub event_name: Arc<str>,
    pub error_code: Option<Arc<str>>,
    pub source_ip: Option<IpAddr>,
    /// The raw `sourceIPAddress` when it is not an address (service name, `AWS Internal`).
    pub source_host: Option<Arc<str>>,
    pub country: Option<CountryCode>,
    pub asn: Option<u32>,
    pub user_agent: Option<Arc<str>>,
    pub model_id: Option<Arc<str>>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Prompt-cache input tokens read and written (invocation logs that carry them).
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub bucket: Option<Arc<str>>,
    pub key: Option<Arc<str>>,
    pub bytes_out: u64,
    pub request_id: Option<Arc<str>>,
    pub vpc_endpoint: bool,
    pub invoked_by: Option<Arc<str>>,
    pub guardrail_intervened: bool,
    /// Kind and masked form of a secret found in a prompt or completion; the kind reads
    /// `<kind>@<side>` (`aws-access-key-id@prompt`, see `record::content::split_kind`).
    pub secret: Option<(&'static str, Arc<str>)>,
    /// The call authenticated with an Amazon Bedrock API key (CloudTrail's
    /// `additionalEventData.callWithBearerToken`).
    pub bearer_token: bool,
    /// Values at the request-parameter and response-element paths the loaded detectors
    /// declare (see [`Paths`]), by path; a `[*]` path may give several. Empty for every
    /// record no declaring detector can match, so it costs nothing where unused.
    pub params: Vec<(PathId, ParamValue)>,
}

impl Activity {
    /// An activity of `principal` (an ARN, keyed and typed as normalize does) at `time`,
    /// with every other field empty: the start of a struct update in tests and examples,
    /// `Activity { country: Some(*b"RU"), ..Activity::new(t, Source::Cloudtrail, arn) }`.
    pub fn new(time: i64, source: Source, principal: &str) -> Activity {
        let account = principal.split(':').nth(4).unwrap_or("");
        Activity {
            time,
            source,
            account: account.into(),
            region: "us-east-1".into(),
            principal: principal.into(),
            principal_key: principal_key(principal).as_ref().into(),
            principal_type: principal_type(principal).into(),
            access_key_id: None,
            event_source: "".into(),
            event_name: "".into(),
            error_code: None,
            source_ip: None,
            source_host: None,
            country: None,
            asn: None,
            user_agent: None,
            model_id: None,
            input_tokens: 0,
            output_tokens: 0,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
            bucket: None,
            key: None,
            bytes_out: 0,
            request_id: None,
            vpc_endpoint: false,
            invoked_by: None,
            guardrail_intervened: false,
            secret: None,
            bearer_token: false,
            params: Vec::new(),
        }
    }

    /// The values extracted at `path`.
    pub fn param(&self, path: PathId) -> impl Iterator<Item = &ParamValue> {
        self.params
            .iter()
            .filter(move |(p, _)| *p == path)
            .map(|(_, v)| v)
    }
}

/// Interns strings per object and caches geo lookups per address.
pub struct Normalizer<'g> {
    geo: &'g Geo,
    /// The JSON paths to extract from each record (those the loaded detectors declare).
    pub(crate) paths: Arc<Paths>,
    /// The interned strings: a set of `Arc<str>` looked up by text, so a hit compares and
    /// clones one allocation (a map from `Box<str>` to `Arc<str>` touched two).
    strings: HashSet<Arc<str>, foldhash::fast::RandomState>,
    geo_cache: FastMap<IpAddr, GeoInfo>,
    /// Principal key and type by the address of the interned ARN (each entry holds the ARN,
    /// so the address cannot be reused while it is a key): no second hash of the ARN's text.
    keys: FastMap<usize, Memo>,
}

/// A memoized principal: the ARN (kept alive), its key and its type.
type Memo = (Arc<str>, Arc<str>, Arc<str>);

/// Per-object caches hash short, trusted strings: foldhash is several times faster than SipHash.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

impl<'g> Normalizer<'g> {
    pub fn new(geo: &'g Geo) -> Self {
        Normalizer {
            geo,
            paths: Arc::default(),
            strings: HashSet::default(),
            geo_cache: FastMap::default(),
            keys: FastMap::default(),
        }
    }

    /// Extracts `paths` from every record (the engine's `filter::declared_paths`); without
    /// it no request parameter or response element is read.
    pub fn with_paths(mut self, paths: Arc<Paths>) -> Self {
        self.paths = paths;
        self
    }

    pub fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.strings.get(s) {
            return a.clone();
        }
        if self.strings.len() > 100_000 {
            self.strings.clear(); // bounded: high-cardinality values should not pile up
            self.keys.clear();
        }
        let a: Arc<str> = Arc::from(s);
        self.strings.insert(a.clone());
        a
    }

    pub fn intern_opt(&mut self, s: Option<&str>) -> Option<Arc<str>> {
        s.filter(|s| !s.is_empty()).map(|s| self.intern(s))
    }

    /// Classifies and geolocates a source address.
    pub fn source(
        &mut self,
        raw: Option<&str>,
        vpc_endpoint: bool,
    ) -> (Option<IpAddr>, Option<Arc<str>>, GeoInfo) {
        let Some(raw) = raw else {
            return (None, None, GeoInfo::default());
        };
        match crate::geo::classify(raw) {
            SourceAddr::Public(ip) if !vpc_endpoint => {
                let geo = self.geo;
                let info = *self.geo_cache.entry(ip).or_insert_with(|| geo.lookup(ip));
                (Some(ip), None, info)
            }
            SourceAddr::Public(ip) | SourceAddr::Private(ip) => {
                (Some(ip), None, GeoInfo::default())
            }
            SourceAddr::Service | SourceAddr::Other => {
                (None, Some(self.intern(raw)), GeoInfo::default())
            }
        }
    }

    /// Principal key and type for an ARN (memoized per object).
    /// `provider_named`: the session name was set by an identity provider or the console (see
    /// [`principal_key_for`]).
    pub fn principal(
        &mut self,
        arn: &Arc<str>,
        logged_type: Option<&str>,
        provider_named: bool,
    ) -> (Arc<str>, Arc<str>) {
        let at = Arc::as_ptr(arn) as *const u8 as usize;
        if !provider_named && let Some((_, key, ty)) = self.keys.get(&at) {
            return (key.clone(), ty.clone());
        }
        let key = principal_key_for(arn, provider_named);
        let key = if *key == **arn {
            arn.clone()
        } else {
            self.intern(&key)
        };
        let ty = self.intern(
            logged_type
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| principal_type(arn)),
        );
        if !provider_named {
            self.keys.insert(at, (arn.clone(), key.clone(), ty.clone()));
        }
        (key, ty)
    }
}

/// The identity that owns a baseline.
///
/// - Assumed roles key on the role (`arn:aws:iam::<acct>:role/<name>`): machine sessions change
///   names every hour, and a caller of a plain `AssumeRole` picks its session name at will
///   (`--role-session-name x@y`), so a session name must not mint a fresh principal with a
///   fresh learning period.
/// - The session (the person) is kept only where the sign-in sets it: IAM Identity Center
///   roles (`AWSReservedSSO_*`), and console sessions (`provider_named`: see
///   `CtRecord::console_session`). Web-identity sessions (EKS service accounts,
///   CI OIDC) name themselves per session and key on the role.
/// - IAM users, root and federated users key on their ARN.
pub fn principal_key_for(arn: &str, provider_named: bool) -> std::borrow::Cow<'_, str> {
    // A searcher built once: `str::split_once` (and `memmem::find`) set one up per call.
    const ASSUMED: &str = ":assumed-role/";
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(ASSUMED));
    if let Some(at) = FINDER.find(arn.as_bytes()) {
        // A UTF-8 needle found in UTF-8 text: both ends are character boundaries.
        let (head, rest) = (&arn[..at], &arn[at + ASSUMED.len()..]);
        let (role, _session) = rest.split_once('/').unwrap_or((rest, ""));
        if role.starts_with("AWSReservedSSO_") || provider_named {
            return arn.into();
        }
        // head = arn:<partition>:sts::<acct>
        let mut parts = head.splitn(5, ':');
        let (_, partition, _, _, acct) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        );
        return crate::concat::concat(&[
            "arn:",
            partition.unwrap_or("aws"),
            ":iam::",
            acct.unwrap_or(""),
            ":role/",
            role,
        ])
        .into();
    }
    arn.into()
}

/// [`principal_key_for`] of an ARN alone (invocation logs log only the ARN): only Identity
/// Center sessions keep their session name.
pub fn principal_key(arn: &str) -> std::borrow::Cow<'_, str> {
    principal_key_for(arn, false)
}

/// `userIdentity.type` inferred from an ARN, for invocation logs (which log only the ARN).
pub fn principal_type(arn: &str) -> &'static str {
    if arn.contains(":assumed-role/") {
        "AssumedRole"
    } else if arn.contains(":user/") {
        "IAMUser"
    } else if arn.ends_with(":root") {
        "Root"
    } else if arn.contains(":federated-user/") {
        "FederatedUser"
    } else if arn.contains(":role/") {
        "Role"
    } else {
        "Unknown"
    }
}

/// A short human name for titles: the role or user name, or the person of a human session.
pub fn principal_name(key: &str) -> String {
    if let Some((_, rest)) = key.split_once(":assumed-role/") {
        let (role, session) = rest.split_once('/').unwrap_or((rest, ""));
        return if session.is_empty() {
            role.to_string()
        } else {
            format!("{session} ({role})")
        };
    }
    if key.ends_with(":root") {
        return "root".to_string();
    }
    key.rsplit(['/', ':'])
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(key)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_keys() {
        assert_eq!(
            principal_key(
                "arn:aws:sts::111122223333:assumed-role/support-bot-role/botocore-session-1"
            ),
            "arn:aws:iam::111122223333:role/support-bot-role"
        );
        let sso = "arn:aws:sts::444455556666:assumed-role/AWSReservedSSO_DataScientist_0123/bob@example.com";
        assert_eq!(principal_key(sso), sso);
        // A caller-chosen session name does not make a new principal ...
        let chosen = "arn:aws-us-gov:sts::1:assumed-role/Admin/carol@example.com";
        assert_eq!(principal_key(chosen), "arn:aws-us-gov:iam::1:role/Admin");
        // ... a console or web-identity session does.
        assert_eq!(principal_key_for(chosen, true), chosen);
        assert_eq!(
            principal_key("arn:aws:iam::1:user/alice"),
            "arn:aws:iam::1:user/alice"
        );
        assert_eq!(
            principal_name("arn:aws:iam::111122223333:role/support-bot-role"),
            "support-bot-role"
        );
        assert_eq!(
            principal_name(sso),
            "bob@example.com (AWSReservedSSO_DataScientist_0123)"
        );
        assert_eq!(principal_name("arn:aws:iam::1:root"), "root");
        assert_eq!(principal_type("arn:aws:iam::1:user/alice"), "IAMUser");
    }
}
