//! Record → [`Activity`]: validation, principal key, geo. Wrapped events (`{"event": …}` from
//! SIEM exports, `{"detail": …}` from EventBridge archives) are unwrapped here.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::decode::DecodeCtx;
use super::{Activity, Source};
use crate::record::BadRecord;
use crate::record::cloudtrail::CtRecord;
use crate::record::invocation::InvRecord;
use crate::record::split;

#[derive(Deserialize)]
struct Wrapper<'a> {
    #[serde(borrow)]
    event: Option<&'a RawValue>,
    #[serde(borrow)]
    detail: Option<&'a RawValue>,
}

/// Wrappers are unwrapped at most this many levels deep (`{"event":{"event":…}}`); a record
/// wrapped deeper is a bad record.
pub(crate) const MAX_UNWRAP: usize = 4;

/// One record's bytes (a CloudTrail event, an invocation log record, or either wrapped),
/// already checked to nest no deeper than [`split::MAX_DEPTH`]: unwraps it (iteratively, at
/// most [`MAX_UNWRAP`] levels), normalizes it and pushes the activity, or counts it as bad.
pub(crate) fn record(ctx: &mut DecodeCtx<'_, '_>, mut bytes: &[u8], mut invocation: bool) {
    let mut unwrapped = 0;
    loop {
        let inner = if invocation {
            invocation_one(ctx, bytes)
        } else {
            cloudtrail_one(ctx, bytes)
        };
        let Some(inner) = inner else { return };
        if unwrapped == MAX_UNWRAP {
            return ctx.bad(
                BadRecord::WrongSchema,
                &format!("wrapped in more than {MAX_UNWRAP} levels of \"event\"/\"detail\""),
            );
        }
        unwrapped += 1;
        // A CloudTrail-looking wrapper may hold an invocation record.
        invocation = invocation || split::has_top_level_key(inner, "schemaType");
        bytes = inner;
    }
}

/// The inner event of a wrapper line, if the line is one.
fn unwrap(bytes: &[u8]) -> Option<&[u8]> {
    let w: Wrapper = serde_json::from_slice(bytes).ok()?;
    w.event
        .or(w.detail)
        .map(|r| r.get().as_bytes())
        .filter(|b| b.first() == Some(&b'{'))
}

/// Parses a record. A record that is valid UTF-8 as a whole (nearly all) is checked in one
/// pass and parsed as `&str`, so serde_json does not validate each string again (that
/// check was 7% of decoding a realistic CloudTrail file); any other goes through
/// `from_slice`, which reports the bad bytes as before.
fn parse<'b, T: serde::Deserialize<'b>>(bytes: &'b [u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    }
}

fn json_error(ctx: &mut DecodeCtx<'_, '_>, e: &serde_json::Error) {
    // The message names line/column only: serde_json errors never quote the input.
    let why = if e.is_data() {
        BadRecord::WrongSchema
    } else {
        BadRecord::NotJson
    };
    ctx.bad(
        why,
        &format!("at column {}: {}", e.column(), e.classify_kind()),
    );
}

trait Classify {
    fn classify_kind(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_kind(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "a field has the wrong type",
            serde_json::error::Category::Eof => "truncated JSON",
        }
    }
}

fn valid_region(r: &str) -> bool {
    // us-east-1, us-gov-west-1, ap-southeast-5, il-central-1 … (no allocation: every record
    // is checked)
    let lower = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    let Some((first, rest)) = r.split_once('-') else {
        return false;
    };
    let Some((middle, number)) = rest.rsplit_once('-') else {
        return false;
    };
    first.len() == 2
        && lower(first)
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && middle.split('-').all(lower)
}

/// Whether `ip` is four dot-separated parts one of which has a leading zero (`035.1.2.3`):
/// read as octal by some parsers, as decimal by others. One pass over the bytes (every
/// record is checked; two `split('.')` passes were 0.9% of a replay, callgrind).
fn leading_zero_octet(ip: &str) -> bool {
    let (mut dots, mut zero, mut start) = (0, false, true);
    let b = ip.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'.' {
            dots += 1;
            start = true;
        } else {
            zero |= start && c == b'0' && b.get(i + 1).is_some_and(|&n| n != b'.');
            start = false;
        }
    }
    dots == 3 && zero
}

/// Normalizes one CloudTrail event, or returns the inner event if `bytes` is a wrapper.
fn cloudtrail_one<'b>(ctx: &mut DecodeCtx<'_, '_>, bytes: &'b [u8]) -> Option<&'b [u8]> {
    let r: CtRecord = match parse(bytes) {
        Ok(r) => r,
        Err(e) => {
            json_error(ctx, &e);
            return None;
        }
    };
    if r.event_name.is_none()
        && r.event_time.is_none()
        && let Some(inner) = unwrap(bytes)
    {
        return Some(inner);
    }
    cloudtrail(ctx, &r);
    None
}

fn cloudtrail(ctx: &mut DecodeCtx<'_, '_>, r: &CtRecord<'_>) {
    let (Some(name), Some(source)) = (r.event_name.as_deref(), r.event_source.as_deref()) else {
        return ctx.bad(
            BadRecord::MissingField,
            "eventName or eventSource is missing",
        );
    };
    let Some(raw_time) = r.event_time.as_deref() else {
        return ctx.bad(BadRecord::MissingField, "eventTime is missing");
    };
    let Some(time) = crate::time::parse(raw_time) else {
        return ctx.bad(BadRecord::BadTime, "eventTime is not a timestamp");
    };
    let uid = r.user_identity.as_ref();
    let kind = uid.and_then(|u| u.kind.as_deref());
    let account_raw = r
        .recipient_account_id
        .as_deref()
        .or_else(|| uid.and_then(|u| u.account_id.as_deref()))
        .unwrap_or("");
    let invoked_by = uid.and_then(|u| u.invoked_by.as_deref());
    let arn_owned;
    let arn: &str = match uid.and_then(|u| u.arn.as_deref()) {
        Some(a) if !a.is_empty() => a,
        _ => {
            arn_owned = match (kind, invoked_by) {
                (Some("AWSService"), Some(svc)) => svc.to_string(),
                (Some("Root"), _) => format!("arn:aws:iam::{account_raw}:root"),
                (k, _) => {
                    let pid = uid.and_then(|u| u.principal_id.as_deref()).unwrap_or("");
                    format!("{}:{}:{}", account_raw, k.unwrap_or("Unknown"), pid)
                }
            };
            &arn_owned
        }
    };
    let region = r.aws_region.as_deref().unwrap_or("");
    if !region.is_empty() && !valid_region(region) {
        ctx.odd("region");
    }
    let vpc = r.vpc_endpoint_id.as_deref().is_some_and(|v| !v.is_empty());
    let raw_ip = r.source_ip_address.as_deref();
    if raw_ip.is_some_and(leading_zero_octet) {
        ctx.odd("source-ip-leading-zero");
    }
    let params = r.params();
    let bearer_token = r.bearer_token();
    let mut extracted = Vec::new();
    ctx.norm.paths.extract(r, &mut extracted);
    let n = &mut *ctx.norm;
    let extracted = extracted
        .into_iter()
        .map(|(id, v)| (id, v.map(|s| n.intern(&s))))
        .collect();
    let principal = n.intern(arn);
    let provider_named = r.console_session();
    let (principal_key, principal_type) = n.principal(&principal, kind, provider_named);
    let (source_ip, source_host, geo) = n.source(raw_ip, vpc);
    if source_ip.is_none()
        && source_host
            .as_deref()
            .is_some_and(|h| crate::geo::classify(h) == crate::geo::SourceAddr::Other)
    {
        ctx.odd("source-ip");
    }
    let n = &mut *ctx.norm;
    let a = Activity {
        time,
        source: Source::Cloudtrail,
        account: n.intern(account_raw),
        region: n.intern(region),
        principal,
        principal_key,
        principal_type,
        access_key_id: n.intern_opt(uid.and_then(|u| u.access_key_id.as_deref())),
        event_source: n.intern(source),
        event_name: n.intern(name),
        error_code: n.intern_opt(r.error_code.as_deref()),
        source_ip,
        source_host,
        country: geo.country,
        asn: geo.asn,
        user_agent: n.intern_opt(r.user_agent.as_deref()),
        model_id: n.intern_opt(params.model_id.as_deref()),
        input_tokens: 0,
        output_tokens: 0,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        bucket: n.intern_opt(params.bucket_name.as_deref()),
        key: params
            .key
            .as_deref()
            .filter(|k| !k.is_empty())
            .map(std::sync::Arc::from),
        bytes_out: r.bytes_out(),
        request_id: r
            .request_id
            .as_deref()
            .or(r.event_id.as_deref())
            .map(std::sync::Arc::from),
        vpc_endpoint: vpc,
        invoked_by: n.intern_opt(invoked_by),
        guardrail_intervened: false,
        secret: None,
        bearer_token,
        params: extracted,
    };
    ctx.push(a);
}

/// Normalizes one invocation log record, or returns the inner record if `bytes` is a wrapper.
fn invocation_one<'b>(ctx: &mut DecodeCtx<'_, '_>, bytes: &'b [u8]) -> Option<&'b [u8]> {
    let r: InvRecord = match parse(bytes) {
        Ok(r) => r,
        Err(e) => {
            json_error(ctx, &e);
            return None;
        }
    };
    if r.schema_type.is_none()
        && r.operation.is_none()
        && let Some(inner) = unwrap(bytes)
    {
        return Some(inner);
    }
    invocation(ctx, &r);
    None
}

fn invocation(ctx: &mut DecodeCtx<'_, '_>, r: &InvRecord<'_>) {
    if r.schema_type
        .as_deref()
        .is_some_and(|s| s != "ModelInvocationLog")
    {
        return ctx.bad(
            BadRecord::WrongSchema,
            "schemaType is not ModelInvocationLog",
        );
    }
    let Some(arn) = r
        .identity
        .as_ref()
        .and_then(|i| i.arn.as_deref())
        .filter(|a| !a.is_empty())
    else {
        return ctx.bad(BadRecord::MissingField, "identity.arn is missing");
    };
    let (Some(op), Some(model)) = (r.operation.as_deref(), r.model_id.as_deref()) else {
        return ctx.bad(BadRecord::MissingField, "operation or modelId is missing");
    };
    let Some(raw_time) = r.timestamp.as_deref() else {
        return ctx.bad(BadRecord::MissingField, "timestamp is missing");
    };
    let Some(time) = crate::time::parse(raw_time) else {
        return ctx.bad(BadRecord::BadTime, "timestamp is not a timestamp");
    };
    let (flags, (cache_read_tokens, cache_write_tokens)) = r.decode_content();
    let region = r.region.as_deref().unwrap_or("");
    if !region.is_empty() && !valid_region(region) {
        ctx.odd("region");
    }
    let account = r.account_id.as_deref().unwrap_or("");
    if !(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())) {
        ctx.odd("account");
    }
    let n = &mut *ctx.norm;
    let principal = n.intern(arn);
    let (principal_key, principal_type) = n.principal(&principal, None, false);
    let a = Activity {
        time,
        source: Source::Invocation,
        account: n.intern(account),
        region: n.intern(region),
        principal,
        principal_key,
        principal_type,
        access_key_id: None,
        event_source: n.intern("bedrock.amazonaws.com"),
        event_name: n.intern(op),
        error_code: n.intern_opt(r.error_code.as_deref()),
        source_ip: None,
        source_host: None,
        country: None,
        asn: None,
        user_agent: None,
        model_id: Some(n.intern(model)),
        input_tokens: r.input_tokens(),
        output_tokens: r.output_tokens(),
        cache_read_tokens,
        cache_write_tokens,
        bucket: None,
        key: None,
        bytes_out: 0,
        request_id: r.request_id.as_deref().map(std::sync::Arc::from),
        vpc_endpoint: false,
        invoked_by: None,
        guardrail_intervened: flags.guardrail_intervened,
        secret: flags.activity_secret(),
        bearer_token: false,
        params: Vec::new(),
    };
    ctx.push(a);
}

#[cfg(test)]
mod tests {
    /// The one-pass check says what the two `split('.')` passes it replaced said.
    #[test]
    fn leading_zero_octets() {
        let two_pass = |ip: &str| {
            ip.split('.').count() == 4 && ip.split('.').any(|p| p.len() > 1 && p.starts_with('0'))
        };
        for ip in [
            "035.1.2.3",
            "1.2.3.0",
            "1.2.3.05",
            "0.0.0.0",
            "10.0.0.1",
            "1.02.3.4",
            "1..2.3",
            "00.1.2.3",
            "1.2.3",
            "1.2.3.4.05",
            "0",
            "",
            ".",
            "...",
            "0...",
            "...00",
            "::1",
            "2001:db8::1",
            "AWS Internal",
            "1.2.3.4",
            "01",
            "1.0.0.01",
        ] {
            assert_eq!(super::leading_zero_octet(ip), two_pass(ip), "{ip}");
        }
    }

    #[test]
    fn regions() {
        for r in [
            "us-east-1",
            "us-gov-west-1",
            "ap-southeast-5",
            "il-central-1",
        ] {
            assert!(super::valid_region(r), "{r}");
        }
        for r in [
            "moon",
            "US-EAST-1",
            "us-east",
            "useast1",
            "us--1",
            "us-east-",
            "-east-1",
            "u-east-1",
            "us-east-1-",
            "us-1",
        ] {
            assert!(!super::valid_region(r), "{r}");
        }
    }
}
