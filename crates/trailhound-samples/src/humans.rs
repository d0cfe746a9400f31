//! People, part one: alice, an IAM user in Germany (DE), weekdays in CEST working
//! hours, console and CLI; and helpers the other people share.

use super::bedrock::{self, Call, Chat, Op};
use super::calls::{self, Src};
use super::cast::*;
use super::content::HUMAN_PROMPTS;
use super::ct::{Ev, Who};
use super::json::J;
use super::rng::Rng;
use super::{DAYS, HOUR, Out, SEED, day_start, is_weekday};

const ASSET_KEYS: &[&str] = &[
    "static/img/logo-v4.png",
    "static/css/site-2026-09.css",
    "config/app-settings.json",
    "config/feature-flags.json",
    "exports/support-faq-2026-09.csv",
    "static/js/widget-3.2.1.min.js",
];

/// Sorted random times in `[from, to)`.
pub(super) fn times(rng: &mut Rng, n: u32, from: i64, to: i64) -> Vec<i64> {
    let mut v: Vec<i64> = (0..n).map(|_| rng.range(from, to - 1)).collect();
    v.sort_unstable();
    v
}

pub(super) fn human_chat(rng: &mut Rng) -> Chat {
    let (q, a) = rng.pick(HUMAN_PROMPTS);
    Chat::new(rng, None, q, a, 512)
}

pub fn alice_cli() -> Who {
    Who::User {
        acct: PROD,
        name: ALICE,
        id: ALICE_ID,
        key: ALICE_KEY.to_owned(),
    }
}

pub fn alice(o: &mut Out) {
    let mut rng = Rng::stream(SEED, "alice");
    let cli = alice_cli();
    let mut west_seen = false;
    for d in 0..DAYS {
        if !is_weekday(d) {
            continue;
        }
        let day = day_start(d);
        let ip = *rng.pick(&ALICE_IPS);
        // 09:00-10:30 to 17:30-18:30 CEST
        let start = day + 7 * HOUR + rng.range(0, 5400);
        let end = day + 15 * HOUR + 1800 + rng.range(0, 3600);

        if rng.chance(0.6) {
            let login = start + rng.range(60, 600);
            console_login(o, &mut rng, ip, login);
            let who = Who::UserConsole {
                acct: PROD,
                name: ALICE,
                id: ALICE_ID,
                key: rng.asia_key(),
                created: login,
            };
            let n = rng.range(2, 6) as u32;
            for t in times(&mut rng, n, login + 30, (login + 4 * HOUR).min(end)) {
                let ev = match rng.below(3) {
                    0 => calls::describe_instances(
                        &mut rng,
                        &Src {
                            who: &who,
                            acct: PROD,
                            ip,
                            ua: "AWS Internal",
                        },
                        t,
                        USE1,
                    ),
                    1 => calls::list_buckets(
                        &mut rng,
                        &Src {
                            who: &who,
                            acct: PROD,
                            ip,
                            ua: S3_CONSOLE,
                        },
                        t,
                    ),
                    _ => calls::list_foundation_models(
                        &mut rng,
                        &Src {
                            who: &who,
                            acct: PROD,
                            ip,
                            ua: "AWS Internal",
                        },
                        t,
                        USE1,
                    ),
                };
                o.ct(&ev);
            }
        }

        let ua = |cmd: &str| format!("{ALICE_CLI}{cmd}");
        let first = start + rng.range(0, 900);
        let gci_ua = ua("sts.get-caller-identity");
        let f = Src {
            who: &cli,
            acct: PROD,
            ip,
            ua: &gci_ua,
        };
        o.ct(&calls::get_caller_identity(&mut rng, &f, first, USE1));
        let n = rng.range(3, 10) as u32;
        for t in times(&mut rng, n, first + 60, end) {
            let roll = rng.below(100);
            if roll < 30 {
                // now and then she looks at the west-coast fleet (first time on day one)
                let region = if rng.chance(0.2) || !west_seen {
                    USW2
                } else {
                    USE1
                };
                west_seen = true;
                let u = ua("ec2.describe-instances");
                o.ct(&calls::describe_instances(
                    &mut rng,
                    &Src {
                        who: &cli,
                        acct: PROD,
                        ip,
                        ua: &u,
                    },
                    t,
                    region,
                ));
            } else if roll < 45 {
                let u = ua("s3.ls");
                o.ct(&calls::list_buckets(
                    &mut rng,
                    &Src {
                        who: &cli,
                        acct: PROD,
                        ip,
                        ua: &u,
                    },
                    t,
                ));
            } else if roll < 75 {
                let u = format!("[{}]", ua("s3.cp"));
                let key = *rng.pick(ASSET_KEYS);
                let bytes = rng.range(20_000, 5_000_000) as u64;
                let f = Src {
                    who: &cli,
                    acct: PROD,
                    ip,
                    ua: &u,
                };
                o.ct(&calls::s3_get(
                    &mut rng,
                    &f,
                    t,
                    USE1,
                    APP_ASSETS_BUCKET,
                    key,
                    bytes,
                ));
            } else if roll < 95 || t < first + 1800 {
                let u = ua("bedrock-runtime.invoke-model");
                let chat = human_chat(&mut rng);
                let c = Call {
                    who: &cli,
                    acct: PROD,
                    region: USE1,
                    t,
                    ip,
                    ua: &u,
                    op: Op::InvokeModel,
                    model: SONNET,
                    vpce: None,
                };
                bedrock::call(o, &mut rng, &c, &chat);
            } else {
                let u = ua("bedrock.list-foundation-models");
                o.ct(&calls::list_foundation_models(
                    &mut rng,
                    &Src {
                        who: &cli,
                        acct: PROD,
                        ip,
                        ua: &u,
                    },
                    t,
                    USE1,
                ));
            }
        }

        if d == 1 {
            // noise: a permission she does not have
            let t = day + 10 * HOUR + 12 * 60 + 7;
            let u = ua("iam.list-roles");
            let mut ev = calls::simple(
                &mut rng,
                &Src {
                    who: &cli,
                    acct: PROD,
                    ip,
                    ua: &u,
                },
                t,
                "iam.amazonaws.com",
                "ListRoles",
                USE1,
                J::Null,
            );
            ev.error = Some(calls::denied(
                &cli,
                "iam:ListRoles",
                &format!("arn:aws:iam::{PROD}:role/"),
            ));
            ev.tls = Some((
                "TLSv1.3",
                "TLS_AES_128_GCM_SHA256",
                "iam.amazonaws.com".to_owned(),
            ));
            o.ct(&ev);
        }
    }
}

pub(super) const S3_CONSOLE: &str = "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.750 Linux/5.10.226-192.879.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.422-b05 java/1.8.0_422 vendor/Oracle_Corporation cfg/retry-mode/standard]";

fn console_login(o: &mut Out, rng: &mut Rng, ip: &str, t: i64) {
    let who = Who::User {
        acct: PROD,
        name: ALICE,
        id: ALICE_ID,
        key: String::new(),
    };
    let mut ev = Ev::api(
        rng,
        &who,
        PROD,
        t,
        "signin.amazonaws.com",
        "ConsoleLogin",
        USE1,
        ip,
        ALICE_BROWSER,
    );
    // a console sign-in carries no access key
    let mut id = who.identity();
    if let J::Obj(f) = &mut id {
        f.retain(|(k, _)| *k != "accessKeyId");
    }
    ev.req = J::Null;
    ev.resp = obj! { "ConsoleLogin": "Success" };
    ev.additional = Some(obj! {
        "LoginTo": "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_8c2f7e4b1a9d3c60",
        "MobileVersion": "No",
        "MFAIdentifier": format!("arn:aws:iam::{PROD}:mfa/alice-iphone"),
        "MFAUsed": "Yes",
    });
    ev.read_only = false;
    ev.event_type = "AwsConsoleSignIn";
    ev.tls = Some((
        "TLSv1.3",
        "TLS_AES_128_GCM_SHA256",
        "signin.aws.amazon.com".to_owned(),
    ));
    let mut j = ev.to_json();
    if let J::Obj(f) = &mut j {
        for (k, v) in f.iter_mut() {
            if *k == "userIdentity" {
                *v = super::ct::clone(&id);
            }
        }
        f.retain(|(k, _)| *k != "requestID");
    }
    o.ct.push(super::Rec {
        acct: PROD,
        region: USE1,
        t,
        body: j,
    });
}
