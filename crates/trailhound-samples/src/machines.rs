//! Machines: the nightly SageMaker training job and the GitHub Actions deploy role.

use super::calls::{self, Src};
use super::cast::*;
use super::ct::{Ev, Who};
use super::json::{iso_millis, sts_expiration};
use super::rng::Rng;
use super::{DAYS, HOUR, Out, SEED, day_start};

fn role(
    acct: &'static str,
    role: &'static str,
    role_id: &'static str,
    session: &str,
    key: String,
    created: i64,
) -> Who {
    Who::Role {
        acct,
        role,
        path: "/",
        role_id,
        session: session.to_owned(),
        key,
        created,
        mfa: false,
        invoked_by: None,
        web_id: None,
        console: false,
    }
}

/// `sts:AssumeRole` made by an AWS service on a customer's behalf.
fn service_assume_role(
    o: &mut Out,
    rng: &mut Rng,
    service: &'static str,
    acct: &'static str,
    region: &'static str,
    who: &Who,
    t: i64,
) {
    let Who::Role {
        role,
        role_id,
        session,
        key,
        ..
    } = who
    else {
        return;
    };
    let role_arn = format!("arn:aws:iam::{acct}:role/{role}");
    let svc = Who::Service(service);
    let mut ev = Ev::api(
        rng,
        &svc,
        acct,
        t,
        "sts.amazonaws.com",
        "AssumeRole",
        region,
        service,
        service,
    );
    ev.req = obj! { "roleArn": &role_arn, "roleSessionName": session, "durationSeconds": 86_400 };
    ev.resp = obj! {
        "credentials": obj! {
            "accessKeyId": key,
            "sessionToken": format!("IQoJb3JpZ2luX2VjE{}", rng.b64(44)),
            "expiration": sts_expiration(t + 24 * HOUR),
        },
        "assumedRoleUser": obj! { "assumedRoleId": format!("{role_id}:{session}"), "arn": who.arn() },
    };
    ev.resources = Some(arr![
        obj! { "accountId": acct, "type": "AWS::IAM::Role", "ARN": role_arn }
    ]);
    ev.shared_event_id = Some(rng.uuid());
    ev.tls = None;
    o.ct(&ev);
}

/// Every night 02:00-03:00 UTC the training job lists and reads part of the
/// training set.
/// G. s3-exfil-volume (with the attacks): on the night of 2026-10-09 (day 8) the nightly job,
/// its configuration changed to the whole data lake, reads ten times its usual objects at
/// its usual pace, so it runs on for about ten hours past its usual one (the parts after
/// the usual ones come from `raw/`).
pub const EXFIL_DAY: i64 = 8;
/// How many times its usual objects the job reads that night.
pub const EXFIL_FACTOR: i64 = 10;
/// Prefix of the objects read past the usual ones.
pub const EXFIL_PREFIX: &str = "raw/customer-exports/";

/// The nightly training job; `jump`: the exfiltration night (G) on [`EXFIL_DAY`].
pub fn training(o: &mut Out, jump: bool) {
    let mut rng = Rng::stream(SEED, "training");
    for d in 0..DAYS {
        let t0 = day_start(d) + 2 * HOUR + rng.range(0, 240);
        let who = role(
            ML,
            TRAIN_ROLE,
            TRAIN_ROLE_ID,
            "SageMaker",
            rng.asia_key(),
            t0 - 40,
        );
        service_assume_role(
            o,
            &mut rng,
            "sagemaker.amazonaws.com",
            ML,
            USE1,
            &who,
            t0 - 40,
        );
        let ip = format!(
            "{TRAIN_IP_PREFIX}{}.{}",
            rng.range(0, 255),
            rng.range(1, 254)
        );
        let f = Src {
            who: &who,
            acct: ML,
            ip: &ip,
            ua: TRAIN_UA,
        };
        let mut t = t0;
        for _ in 0..rng.range(1, 2) {
            o.ct(&calls::s3_list(
                &mut rng,
                &f,
                t,
                USE1,
                TRAIN_BUCKET,
                TRAIN_PREFIX,
            ));
            t += rng.range(1, 3);
        }
        let n = rng.range(20, 40);
        let first = rng.range(0, (TRAIN_PARTS - 40) as i64);
        let step = (3300 - (t - day_start(d) - 2 * HOUR)) / n;
        let reads = if jump && d == EXFIL_DAY {
            n * EXFIL_FACTOR
        } else {
            n
        };
        for i in 0..reads {
            let part = first + i;
            let key = if i < n {
                format!("{TRAIN_PREFIX}part-{part:05}.parquet")
            } else {
                format!("{EXFIL_PREFIX}part-{part:05}.parquet")
            };
            let bytes = rng.range(50_000_000, 200_000_000) as u64;
            let at = t + i * step + rng.range(0, step / 2);
            o.ct(&calls::s3_get(
                &mut rng,
                &f,
                at,
                USE1,
                TRAIN_BUCKET,
                &key,
                bytes,
            ));
        }
    }
}

/// GitHub Actions deploys: a new runner address almost every run.
pub fn ci(o: &mut Out) {
    let mut rng = Rng::stream(SEED, "ci");
    for d in 0..DAYS {
        let runs = rng.range(6, 10);
        for _ in 0..runs {
            // mostly US working hours, some any time
            let t0 = if rng.chance(0.8) {
                day_start(d) + 13 * HOUR + rng.range(0, 10 * 3600 - 600)
            } else {
                day_start(d) + rng.range(0, 86_400 - 600)
            };
            run(o, &mut rng, t0);
        }
    }
}

fn run(o: &mut Out, rng: &mut Rng, t0: i64) {
    let ip = format!(
        "{}{}.{}",
        rng.pick(&CI_IP_PREFIXES),
        rng.range(0, 255),
        rng.range(1, 254)
    );
    let key = rng.asia_key();
    let sha = rng.hex(40);
    let who = Who::Role {
        acct: ML,
        role: CI_ROLE,
        path: "/",
        role_id: CI_ROLE_ID,
        session: "GitHubActions".to_owned(),
        key: key.clone(),
        created: t0,
        mfa: false,
        invoked_by: None,
        web_id: Some("token.actions.githubusercontent.com"),
        console: false,
    };

    // the OIDC exchange
    let web = Who::WebIdentity {
        acct: ML,
        subject: CI_SUBJECT,
    };
    let provider = format!("arn:aws:iam::{ML}:oidc-provider/token.actions.githubusercontent.com");
    let role_arn = format!("arn:aws:iam::{ML}:role/{CI_ROLE}");
    let mut ev = Ev::api(
        rng,
        &web,
        ML,
        t0,
        "sts.amazonaws.com",
        "AssumeRoleWithWebIdentity",
        USE1,
        &ip,
        CI_OIDC_UA,
    );
    ev.req =
        obj! { "roleArn": &role_arn, "roleSessionName": "GitHubActions", "durationSeconds": 3600 };
    ev.resp = obj! {
        "credentials": obj! { "accessKeyId": &key, "expiration": sts_expiration(t0 + HOUR) },
        "subjectFromWebIdentityToken": CI_SUBJECT,
        "assumedRoleUser": obj! { "assumedRoleId": format!("{CI_ROLE_ID}:GitHubActions"), "arn": who.arn() },
        "provider": &provider,
        "audience": "sts.amazonaws.com",
    };
    ev.additional = Some(obj! { "identityProviderConnectionVerificationMethod": "IAMTrustStore" });
    ev.read_only = true;
    ev.resources = Some(arr![
        obj! { "accountId": ML, "type": "AWS::IAM::Role", "ARN": &role_arn },
        obj! { "accountId": ML, "type": "AWS::IAM::OidcProvider", "ARN": &provider },
    ]);
    ev.tls = Some((
        "TLSv1.3",
        "TLS_AES_128_GCM_SHA256",
        "sts.us-east-1.amazonaws.com".to_owned(),
    ));
    o.ct(&ev);

    let cli = |c: &str| format!("{CI_CLI}{c}");
    let mut t = t0 + rng.range(2, 5);
    let u = cli("sts.get-caller-identity");
    o.ct(&calls::get_caller_identity(
        rng,
        &Src {
            who: &who,
            acct: ML,
            ip: &ip,
            ua: &u,
        },
        t,
        USE1,
    ));
    t += rng.range(8, 25);
    let u = cli("cloudformation.describe-stacks");
    let mut ev = calls::simple(
        rng,
        &Src {
            who: &who,
            acct: ML,
            ip: &ip,
            ua: &u,
        },
        t,
        "cloudformation.amazonaws.com",
        "DescribeStacks",
        USE1,
        obj! { "stackName": "feature-service-prod" },
    );
    ev.version = "1.08";
    o.ct(&ev);
    t += rng.range(30, 70);
    let art = format!("builds/{sha}/function.zip");
    let size = rng.range(8_000_000, 20_000_000) as u64;
    let u = format!("[{}]", cli("s3.cp"));
    o.ct(&calls::s3_put(
        rng,
        &Src {
            who: &who,
            acct: ML,
            ip: &ip,
            ua: &u,
        },
        t,
        USE1,
        CI_BUCKET,
        &art,
        size,
    ));
    let regions: &[&'static str] = if rng.chance(0.3) {
        &[USE1, USW2]
    } else {
        &[USE1]
    };
    for &region in regions {
        t += rng.range(5, 40);
        let function = if region == USE1 {
            "feature-service"
        } else {
            "feature-service-west"
        };
        let u = cli("lambda.update-function-code");
        let f = Src {
            who: &who,
            acct: ML,
            ip: &ip,
            ua: &u,
        };
        let mut ev = f.ev(
            rng,
            t,
            "lambda.amazonaws.com",
            "UpdateFunctionCode20150331v2",
            region,
        );
        ev.read_only = false;
        ev.api_version = Some("2015-03-31");
        ev.req = obj! { "functionName": function, "s3Bucket": CI_BUCKET, "s3Key": &art, "publish": true, "dryRun": false };
        ev.resp = obj! {
            "functionName": function,
            "functionArn": format!("arn:aws:lambda:{region}:{ML}:function:{function}"),
            "runtime": "python3.12",
            "role": format!("arn:aws:iam::{ML}:role/feature-service-exec"),
            "handler": "app.handler",
            "codeSize": size,
            "description": "",
            "timeout": 30,
            "memorySize": 1024,
            "lastModified": iso_millis(t, rng.range(0, 999)),
            "codeSha256": format!("{}=", rng.b64(43)),
            "version": "1",
            "tracingConfig": obj! { "mode": "PassThrough" },
            "revisionId": rng.uuid(),
            "state": "Active",
            "lastUpdateStatus": "InProgress",
            "lastUpdateStatusReason": "The function is being created.",
            "lastUpdateStatusReasonCode": "Creating",
            "packageType": "Zip",
            "architectures": arr!["arm64"],
            "ephemeralStorage": obj! { "size": 512 },
            "snapStart": obj! { "applyOn": "None", "optimizationStatus": "Off" },
            "runtimeVersionConfig": obj! { "runtimeVersionArn": format!("arn:aws:lambda:{region}::runtime:3f1a5b7c9d2e4f60818293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8") },
            "loggingConfig": obj! { "logFormat": "Text", "logGroup": format!("/aws/lambda/{function}") },
        };
        o.ct(&ev);
    }
}
