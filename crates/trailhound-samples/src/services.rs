//! AWS services: CloudTrail's KMS data keys, AWS Config and Auto Scaling through
//! their service-linked roles.

use super::calls::{self, Src};
use super::cast::*;
use super::ct::{Ev, Who};
use super::json::J;
use super::rng::Rng;
use super::{END, Out, SEED, START};

/// AWS services: CloudTrail's KMS data keys, AWS Config and Auto Scaling through
/// their service-linked roles.
pub fn services(o: &mut Out) {
    let mut rng = Rng::stream(SEED, "services");
    // CloudTrail encrypts each log file with a data key from the trail's KMS key.
    let kms_key = format!("arn:aws:kms:{USE1}:{PROD}:key/5e1f0c2a-7b3d-4c8e-9a61-2f4d8b0e7c13");
    let ct_svc = Who::Service("cloudtrail.amazonaws.com");
    let mut t = START + rng.range(60, 600);
    while t < END {
        let mut ev = Ev::api(
            &mut rng,
            &ct_svc,
            PROD,
            t,
            "kms.amazonaws.com",
            "GenerateDataKey",
            USE1,
            "cloudtrail.amazonaws.com",
            "cloudtrail.amazonaws.com",
        );
        ev.req = obj! {
            "keySpec": "AES_256",
            "encryptionContext": obj! {
                "aws:cloudtrail:arn": format!("arn:aws:cloudtrail:{USE1}:{PROD}:trail/{TRAIL}"),
                "aws:s3:arn": format!("arn:aws:s3:::{LOG_BUCKET}/AWSLogs/{ORG}/{PROD}/CloudTrail/{USE1}"),
            },
            "keyId": &kms_key,
        };
        ev.resources = Some(arr![
            obj! { "accountId": PROD, "type": "AWS::KMS::Key", "ARN": &kms_key }
        ]);
        ev.shared_event_id = Some(rng.uuid());
        ev.tls = None;
        o.ct(&ev);
        t += rng.range(45 * 60, 75 * 60);
    }

    // AWS Config describing resources, twice a day, in each account and region.
    for acct in [PROD, ML] {
        for region in [USE1, USW2] {
            let mut t = START + rng.range(0, 12 * 3600);
            while t < END {
                let created = t - rng.range(10, 120);
                let who = Who::Role {
                    acct,
                    role: "AWSServiceRoleForConfig",
                    path: "/aws-service-role/config.amazonaws.com/",
                    role_id: if acct == PROD {
                        "AROAR7K2M4QQCFGSLR6ZN"
                    } else {
                        "AROAW2N6PHR4CFGSLR3KD"
                    },
                    session: "AWSConfig-Describe".to_owned(),
                    key: rng.asia_key(),
                    created,
                    mfa: false,
                    invoked_by: Some("config.amazonaws.com"),
                    web_id: None,
                    console: false,
                };
                let ip = if rng.chance(0.7) {
                    "config.amazonaws.com"
                } else {
                    "AWS Internal"
                };
                let f = Src {
                    who: &who,
                    acct,
                    ip,
                    ua: ip,
                };
                for (k, name) in [
                    "DescribeInstances",
                    "DescribeSecurityGroups",
                    "DescribeVpcs",
                ]
                .iter()
                .enumerate()
                {
                    let at = t + k as i64 * rng.range(1, 4);
                    let mut ev = if k == 0 {
                        calls::describe_instances(&mut rng, &f, at, region)
                    } else {
                        calls::simple(
                            &mut rng,
                            &f,
                            at,
                            "ec2.amazonaws.com",
                            name,
                            region,
                            obj! { "filterSet": J::empty_obj() },
                        )
                    };
                    ev.tls = None;
                    o.ct(&ev);
                }
                t += 12 * 3600 + rng.range(-3600, 3600);
            }
        }
    }

    // Auto Scaling health checks for the bot's capacity provider (prod, us-east-1).
    let mut t = START + rng.range(0, 3 * 3600);
    while t < END {
        let who = Who::Role {
            acct: PROD,
            role: "AWSServiceRoleForAutoScaling",
            path: "/aws-service-role/autoscaling.amazonaws.com/",
            role_id: "AROAR7K2M4QQASGSLR2PW",
            session: "AutoScaling".to_owned(),
            key: rng.asia_key(),
            created: t - 5,
            mfa: false,
            invoked_by: Some("autoscaling.amazonaws.com"),
            web_id: None,
            console: false,
        };
        let f = Src {
            who: &who,
            acct: PROD,
            ip: "autoscaling.amazonaws.com",
            ua: "autoscaling.amazonaws.com",
        };
        let mut ev = calls::simple(
            &mut rng,
            &f,
            t,
            "ec2.amazonaws.com",
            "DescribeInstanceStatus",
            USE1,
            obj! {
                "instancesSet": obj! { "items": arr![obj! { "instanceId": "i-0a3f9c7e21b84d6f5" }, obj! { "instanceId": "i-07d2b5e9c13a48f60" }] },
                "filterSet": J::empty_obj(),
                "includeAllInstances": true,
            },
        );
        ev.version = "1.10";
        ev.tls = None;
        o.ct(&ev);
        t += 3 * 3600 + rng.range(-900, 900);
    }
}
