//! People, part two: bob, an IAM Identity Center (SSO) session in the UK (GB),
//! weekdays in BST working hours; console, CLI and notebooks (boto3).

use super::bedrock::{self, Call, Chat, Op};
use super::calls::{self, Src};
use super::cast::*;
use super::content::TICKETS;
use super::ct::Who;
use super::humans::{S3_CONSOLE, human_chat, times};
use super::rng::Rng;
use super::{DAYS, HOUR, Out, SEED, day_start, is_weekday};

const NOTEBOOK_KEYS: &[&str] = &[
    "notebooks/bob/ranker-eval.ipynb",
    "notebooks/bob/token-costs.ipynb",
    "reports/weekly/eval-summary.csv",
    "reports/weekly/latency.csv",
    "scratch/bob/sample-prompts.jsonl",
];

fn bob_session(key: String, created: i64, console: bool) -> Who {
    Who::Role {
        acct: ML,
        role: BOB_ROLE,
        path: SSO_PATH,
        role_id: BOB_ROLE_ID,
        session: BOB_SESSION.to_owned(),
        key,
        created,
        mfa: false,
        invoked_by: None,
        web_id: None,
        console,
    }
}

/// bob's CLI session (IAM Identity Center) at `t`.
pub fn bob_cli(rng: &mut Rng, t: i64) -> Who {
    bob_session(rng.asia_key(), t - 600, false)
}

pub fn bob(o: &mut Out) {
    let mut rng = Rng::stream(SEED, "bob");
    for d in 0..DAYS {
        if !is_weekday(d) {
            continue;
        }
        let day = day_start(d);
        let ip = if rng.chance(0.8) {
            BOB_IPS[0]
        } else {
            BOB_IPS[1]
        };
        // 09:00-10:00 to 17:00-17:30 BST
        let start = day + 8 * HOUR + rng.range(0, 3600);
        let end = day + 16 * HOUR + rng.range(0, 1800);
        let cli = bob_session(rng.asia_key(), start, false);
        let cmd = |c: &str| format!("{BOB_CLI}{c}");

        let u = cmd("sts.get-caller-identity");
        o.ct(&calls::get_caller_identity(
            &mut rng,
            &Src {
                who: &cli,
                acct: ML,
                ip,
                ua: &u,
            },
            start + 5,
            USE1,
        ));

        if rng.chance(0.7) {
            let login = start + rng.range(300, 1800);
            let con = bob_session(rng.asia_key(), login, true);
            let n = rng.range(2, 5) as u32;
            for t in times(&mut rng, n, login + 20, login + 3 * HOUR) {
                let ev = match rng.below(3) {
                    0 => calls::simple(
                        &mut rng,
                        &Src {
                            who: &con,
                            acct: ML,
                            ip,
                            ua: "AWS Internal",
                        },
                        t,
                        "sagemaker.amazonaws.com",
                        "ListTrainingJobs",
                        USE1,
                        obj! { "maxResults": 20, "sortBy": "CreationTime", "sortOrder": "Descending" },
                    ),
                    1 => calls::list_foundation_models(
                        &mut rng,
                        &Src {
                            who: &con,
                            acct: ML,
                            ip,
                            ua: "AWS Internal",
                        },
                        t,
                        USE1,
                    ),
                    _ => calls::list_buckets(
                        &mut rng,
                        &Src {
                            who: &con,
                            acct: ML,
                            ip,
                            ua: S3_CONSOLE,
                        },
                        t,
                    ),
                };
                o.ct(&ev);
            }
        }

        let n = rng.range(4, 11) as u32;
        for t in times(&mut rng, n, start + 600, end) {
            let roll = rng.below(100);
            if roll < 40 {
                let model = if rng.chance(0.6) { HAIKU } else { SONNET };
                let chat = human_chat(&mut rng);
                let c = Call {
                    who: &cli,
                    acct: ML,
                    region: USE1,
                    t,
                    ip,
                    ua: BOB_BOTO,
                    op: Op::InvokeModel,
                    model,
                    vpce: None,
                };
                bedrock::call(o, &mut rng, &c, &chat);
            } else if roll < 70 {
                let key = *rng.pick(NOTEBOOK_KEYS);
                let bytes = rng.range(5_000, 3_000_000) as u64;
                let u = format!("[{}]", cmd("s3.cp"));
                o.ct(&calls::s3_get(
                    &mut rng,
                    &Src {
                        who: &cli,
                        acct: ML,
                        ip,
                        ua: &u,
                    },
                    t,
                    USE1,
                    NOTEBOOK_BUCKET,
                    key,
                    bytes,
                ));
            } else if roll < 88 {
                let job = format!(
                    "acme-ranker-{}",
                    super::json::key_parts(day - 86_400).0.replace('/', "-")
                );
                let u = cmd("sagemaker.describe-training-job");
                o.ct(&calls::simple(
                    &mut rng,
                    &Src {
                        who: &cli,
                        acct: ML,
                        ip,
                        ua: &u,
                    },
                    t,
                    "sagemaker.amazonaws.com",
                    "DescribeTrainingJob",
                    USE1,
                    obj! { "trainingJobName": job },
                ));
            } else if roll < 95 || t < start + 2400 {
                let u = cmd("ec2.describe-instances");
                o.ct(&calls::describe_instances(
                    &mut rng,
                    &Src {
                        who: &cli,
                        acct: ML,
                        ip,
                        ua: &u,
                    },
                    t,
                    USE1,
                ));
            } else {
                let u = cmd("bedrock.list-foundation-models");
                o.ct(&calls::list_foundation_models(
                    &mut rng,
                    &Src {
                        who: &cli,
                        acct: ML,
                        ip,
                        ua: &u,
                    },
                    t,
                    USE1,
                ));
            }
        }

        if d == 4 {
            // a long document: the request body goes to a `data/` object
            let t = day + 13 * HOUR + 21 * 60 + 40;
            let mut doc = String::from(
                "Summarize the recurring themes in these support tickets from September:\n\n",
            );
            let mut i = 0;
            while doc.len() < 110_000 {
                doc.push_str(TICKETS[i % TICKETS.len()].0);
                doc.push('\n');
                i += 1;
            }
            let answer = "The most common themes are mobile sign-outs after updates, billing questions about seats and invoices, large uploads failing on corporate networks, and requests to change team ownership.";
            let mut chat = Chat::new(&mut rng, None, &doc, answer, 1024);
            chat.offload = true;
            let c = Call {
                who: &cli,
                acct: ML,
                region: USE1,
                t,
                ip,
                ua: BOB_BOTO,
                op: Op::InvokeModel,
                model: HAIKU,
                vpce: None,
            };
            bedrock::call(o, &mut rng, &c, &chat);
        }
        if d == 5 {
            // noise: a shared prefix he cannot read
            let t = day + 11 * HOUR + 3 * 60 + 51;
            let u = format!("[{}]", cmd("s3.cp"));
            let mut ev = calls::s3_get(
                &mut rng,
                &Src {
                    who: &cli,
                    acct: ML,
                    ip,
                    ua: &u,
                },
                t,
                USE1,
                NOTEBOOK_BUCKET,
                "shared/finance/q3-costs.csv",
                0,
            );
            ev.error = Some(("AccessDenied", "Access Denied".to_owned()));
            ev.additional = Some(super::ct::s3_additional(&mut rng, 0, 243));
            o.ct(&ev);
        }
    }
}
