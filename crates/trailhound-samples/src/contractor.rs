//! People, part three: a contractor with an IAM user in the ML account (US Pacific
//! hours), light unrelated calls every day. Attack C uses this user.

use super::calls::{self, Src};
use super::cast::*;
use super::ct::{Ev, Who};
use super::json::J;
use super::rng::Rng;
use super::{DAYS, END, HOUR, Out, SEED, START, day_start};

/// One of the contractor's routine CLI calls.
type Routine = fn(&mut Rng, &Src, i64) -> Ev;

pub fn contractor_who() -> Who {
    Who::User {
        acct: ML,
        name: CONTRACTOR,
        id: CONTRACTOR_ID,
        key: CONTRACTOR_KEY.to_owned(),
    }
}

/// Light, unrelated calls every day, US Pacific hours (15:00-05:00 UTC).
pub fn contractor(o: &mut Out) {
    let mut rng = Rng::stream(SEED, "contractor");
    let who = contractor_who();
    let mut odd_done = false;
    for w in 0..=DAYS {
        let base = day_start(w - 1);
        let sessions = rng.range(1, 2);
        for _ in 0..sessions {
            let s = base + 15 * HOUR + rng.range(0, 13 * 3600);
            let ip0 = if rng.chance(0.85) {
                CONTRACTOR_IPS[0]
            } else {
                CONTRACTOR_IPS[1]
            };
            let mut t = s;
            let n = rng.range(2, 6);
            for i in 0..n {
                t += rng.range(20, 300);
                if !(START..END).contains(&t) {
                    continue;
                }
                let ip = if !odd_done && t >= day_start(2) && ip0 == CONTRACTOR_IPS[0] {
                    odd_done = true;
                    CONTRACTOR_ODD_IP
                } else {
                    ip0
                };
                let pick = if i == 0 && rng.chance(0.6) {
                    0
                } else {
                    rng.range(1, 5)
                };
                let (cmd, ev): (&str, Routine) = match pick {
                    0 => ("sts.get-caller-identity", |r, f, t| {
                        calls::get_caller_identity(r, f, t, USE1)
                    }),
                    1 => ("ec2.describe-instances", |r, f, t| {
                        calls::describe_instances(r, f, t, USE1)
                    }),
                    2 => ("logs.describe-log-groups", |r, f, t| {
                        calls::simple(
                            r,
                            f,
                            t,
                            "logs.amazonaws.com",
                            "DescribeLogGroups",
                            USE1,
                            obj! { "limit": 50 },
                        )
                    }),
                    3 => ("cloudwatch.list-metrics", |r, f, t| {
                        calls::simple(
                            r,
                            f,
                            t,
                            "monitoring.amazonaws.com",
                            "ListMetrics",
                            USE1,
                            obj! { "namespace": "AWS/EC2" },
                        )
                    }),
                    4 => ("s3.ls", |r, f, t| calls::list_buckets(r, f, t)),
                    _ => ("ecr.describe-repositories", |r, f, t| {
                        calls::simple(
                            r,
                            f,
                            t,
                            "ecr.amazonaws.com",
                            "DescribeRepositories",
                            USE1,
                            J::Null,
                        )
                    }),
                };
                let ua = format!("{CONTRACTOR_CLI}{cmd}");
                o.ct(&ev(
                    &mut rng,
                    &Src {
                        who: &who,
                        acct: ML,
                        ip,
                        ua: &ua,
                    },
                    t,
                ));
            }
        }
        if w == 4 {
            let t = day_start(3) + 17 * HOUR + 44 * 60 + 2;
            let ua = format!("{CONTRACTOR_CLI}iam.list-users");
            let mut ev = calls::simple(
                &mut rng,
                &Src {
                    who: &who,
                    acct: ML,
                    ip: CONTRACTOR_IPS[0],
                    ua: &ua,
                },
                t,
                "iam.amazonaws.com",
                "ListUsers",
                USE1,
                J::Null,
            );
            ev.error = Some(calls::denied(
                &who,
                "iam:ListUsers",
                &format!("arn:aws:iam::{ML}:user/"),
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
