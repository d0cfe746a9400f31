//! The management and S3 data calls the actors make, each with the request shape
//! CloudTrail logs for it.

use super::ct::{Ev, TLS12, Who, s3_additional, s3_resources};
use super::json::J;
use super::rng::Rng;

/// Where a call comes from: who, their account, IP and user agent.
pub struct Src<'a> {
    pub who: &'a Who,
    pub acct: &'static str,
    pub ip: &'a str,
    pub ua: &'a str,
}

impl Src<'_> {
    pub fn ev(
        &self,
        rng: &mut Rng,
        t: i64,
        source: &'static str,
        name: &'static str,
        region: &'static str,
    ) -> Ev {
        Ev::api(
            rng, self.who, self.acct, t, source, name, region, self.ip, self.ua,
        )
    }
}

pub fn get_caller_identity(rng: &mut Rng, f: &Src, t: i64, region: &'static str) -> Ev {
    let mut ev = f.ev(rng, t, "sts.amazonaws.com", "GetCallerIdentity", region);
    if let Some((v, c, _)) = ev.tls.take() {
        ev.tls = Some((v, c, format!("sts.{region}.amazonaws.com")));
    }
    ev
}

pub fn describe_instances(rng: &mut Rng, f: &Src, t: i64, region: &'static str) -> Ev {
    let mut ev = f.ev(rng, t, "ec2.amazonaws.com", "DescribeInstances", region);
    ev.version = "1.10";
    ev.req = obj! { "instancesSet": J::empty_obj(), "filterSet": J::empty_obj() };
    ev
}

pub fn list_buckets(rng: &mut Rng, f: &Src, t: i64) -> Ev {
    let mut ev = f.ev(rng, t, "s3.amazonaws.com", "ListBuckets", "us-east-1");
    ev.version = "1.09";
    ev.req = obj! { "Host": "s3.amazonaws.com" };
    let out = rng.range(1800, 2600) as u64;
    ev.additional = Some(s3_additional(rng, 0, out));
    ev.request_id = rng.upper_hex(16);
    ev.tls = Some((TLS12.0, TLS12.1, "s3.amazonaws.com".to_owned()));
    ev
}

pub fn list_foundation_models(rng: &mut Rng, f: &Src, t: i64, region: &'static str) -> Ev {
    let mut ev = f.ev(
        rng,
        t,
        "bedrock.amazonaws.com",
        "ListFoundationModels",
        region,
    );
    ev.version = "1.09";
    ev
}

fn s3_data(
    rng: &mut Rng,
    f: &Src,
    t: i64,
    name: &'static str,
    region: &'static str,
    bucket: &str,
    key: Option<&str>,
) -> Ev {
    let mut ev = f.ev(rng, t, "s3.amazonaws.com", name, region);
    let host = format!("{bucket}.s3.{region}.amazonaws.com");
    ev.version = "1.10";
    ev.request_id = rng.upper_hex(16);
    ev.management = Some(false);
    ev.category = "Data";
    ev.resources = Some(s3_resources(f.acct, bucket, key));
    ev.tls = Some((
        ev.tls.as_ref().map_or("TLSv1.3", |t| t.0),
        "TLS_AES_128_GCM_SHA256",
        host,
    ));
    ev
}

fn host_of(ev: &Ev) -> String {
    ev.tls.as_ref().map(|t| t.2.clone()).unwrap_or_default()
}

pub fn s3_get(
    rng: &mut Rng,
    f: &Src,
    t: i64,
    region: &'static str,
    bucket: &str,
    key: &str,
    bytes: u64,
) -> Ev {
    let mut ev = s3_data(rng, f, t, "GetObject", region, bucket, Some(key));
    ev.req = obj! { "bucketName": bucket, "Host": host_of(&ev), "key": key };
    ev.additional = Some(s3_additional(rng, 0, bytes));
    ev
}

pub fn s3_put(
    rng: &mut Rng,
    f: &Src,
    t: i64,
    region: &'static str,
    bucket: &str,
    key: &str,
    bytes: u64,
) -> Ev {
    let mut ev = s3_data(rng, f, t, "PutObject", region, bucket, Some(key));
    ev.req = obj! { "bucketName": bucket, "Host": host_of(&ev), "key": key };
    let mut add = s3_additional(rng, bytes, 0);
    add.push("SSEApplied", "Default_SSE_S3");
    ev.additional = Some(add);
    ev.read_only = false;
    ev
}

/// `ListObjects` as CloudTrail logs a ListObjectsV2 request.
pub fn s3_list(
    rng: &mut Rng,
    f: &Src,
    t: i64,
    region: &'static str,
    bucket: &str,
    prefix: &str,
) -> Ev {
    let mut ev = s3_data(rng, f, t, "ListObjects", region, bucket, None);
    ev.req = obj! {
        "list-type": "2",
        "bucketName": bucket,
        "encoding-type": "url",
        "max-keys": "1000",
        "prefix": prefix,
        "Host": host_of(&ev),
    };
    let out = rng.range(40_000, 90_000) as u64;
    ev.additional = Some(s3_additional(rng, 0, out));
    ev
}

/// A read-only call with no parameters worth logging.
pub fn simple(
    rng: &mut Rng,
    f: &Src,
    t: i64,
    source: &'static str,
    name: &'static str,
    region: &'static str,
    req: J,
) -> Ev {
    let mut ev = f.ev(rng, t, source, name, region);
    ev.req = req;
    ev
}

/// The AccessDenied message IAM-style services write.
pub fn denied(who: &Who, action: &str, resource: &str) -> (&'static str, String) {
    let arn = who.arn().unwrap_or_default();
    (
        "AccessDenied",
        format!(
            "User: {arn} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action"
        ),
    )
}
