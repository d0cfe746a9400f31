//! The two application roles calling Bedrock around the clock with a diurnal load.

use super::bedrock::{self, Call, Chat, Op};
use super::cast::*;
use super::content::{SUMMARY_SYSTEM, SUPPORT, SUPPORT_SYSTEM, TICKETS};
use super::ct::{Ev, Who};
use super::json::J;
use super::rng::Rng;
use super::{DAYS, END, HOUR, Out, SEED, START, attacks, day_start, is_weekday};

/// Share of the daytime peak at UTC hour `h`: a smooth bump over US daytime,
/// highest around 17:00 UTC and back to the night floor before 12:30 and after
/// 21:30 ((1 - x^2)^2, polynomial so it is bit-identical everywhere).
fn daylight(h: f64) -> f64 {
    let x = (h - PEAK_HOUR) / HALF_WIDTH;
    if x.abs() >= 1.0 {
        0.0
    } else {
        let y = 1.0 - x * x;
        y * y
    }
}

const PEAK_HOUR: f64 = 17.0;
const HALF_WIDTH: f64 = 4.0;

/// Expected calls in the 15 minutes starting at `t`.
fn rate(t: i64, night: f64, peak: f64) -> f64 {
    let q = (t - START).rem_euclid(86_400) / 900;
    let h = q as f64 / 4.0 + 0.125;
    let d = (t - START) / 86_400;
    let weekend = if is_weekday(d) { 1.0 } else { 0.92 };
    (night + (peak - night) * daylight(h)) * weekend
}

pub const BOT_NIGHT: f64 = 3.6;
pub const BOT_PEAK: f64 = 48.0;
const SUM_NIGHT: f64 = 0.6;
const SUM_PEAK: f64 = 11.0;

/// The support bot's session on NAT gateway / task `task` during the hour that
/// contains `t`: `botocore-session-<epoch>`, a fresh key every hour.
pub fn bot_session(t: i64, task: usize) -> Who {
    let hour = t.div_euclid(HOUR) * HOUR;
    let mut r = Rng::stream(SEED, &format!("bot-session-{hour}-{task}"));
    let created = hour - r.range(20, 240);
    Who::Role {
        acct: PROD,
        role: BOT_ROLE,
        path: "/",
        role_id: BOT_ROLE_ID,
        session: format!("botocore-session-{created}"),
        key: r.asia_key(),
        created,
        mfa: false,
        invoked_by: None,
        web_id: None,
        console: false,
    }
}

/// A routine support question.
pub fn support_chat(rng: &mut Rng) -> Chat {
    let (q, a) = rng.pick(SUPPORT);
    Chat::new(rng, Some(SUPPORT_SYSTEM), q, a, 1024)
}

pub fn support_bot(o: &mut Out) {
    let mut rng = Rng::stream(SEED, "support-bot");
    let (atk_from, atk_to) = attacks::SPIKE_WINDOW;
    let mut addenda = 0;
    let mut t0 = START;
    while t0 < END {
        let n = rng.count(rate(t0, BOT_NIGHT, BOT_PEAK));
        for _ in 0..n {
            let t = t0 + rng.range(0, 899);
            if (atk_from..atk_to).contains(&t) {
                // the attack window holds exactly the attack's calls
                continue;
            }
            let task = rng.index(BOT_NAT_IPS.len());
            let who = bot_session(t, task);
            let chat = support_chat(&mut rng);
            let call = Call {
                who: &who,
                acct: PROD,
                region: USE1,
                t,
                ip: BOT_NAT_IPS[task],
                ua: BOT_UA,
                op: Op::InvokeModel,
                model: SONNET,
                vpce: None,
            };
            bedrock::call(o, &mut rng, &call, &chat);
            // two records carry `addendum`, a field CloudTrail adds to late deliveries
            if addenda < 2 && t > START + (2 + 3 * addenda) * 86_400 + 15 * HOUR {
                addenda += 1;
                if let Some(last) = o.ct.last_mut() {
                    last.body.push(
                        "addendum",
                        obj! {
                            "reason": "DELIVERY_DELAY",
                            "updatedFields": J::Null,
                            "originalRequestID": J::Null,
                            "originalEventID": J::Null,
                        },
                    );
                }
            }
        }
        t0 += 900;
    }
}

/// The summarizer Lambda: session name is the function name; the execution
/// environment's credentials are renewed every few hours (one `AssumeRole` by
/// `lambda.amazonaws.com` each time).
pub fn summarizer(o: &mut Out) {
    let mut rng = Rng::stream(SEED, "summarizer");
    let mut session: Option<(i64, Who)> = None;
    let mut t0 = START;
    while t0 < END {
        let n = rng.count(rate(t0, SUM_NIGHT, SUM_PEAK));
        let mut times: Vec<i64> = (0..n).map(|_| t0 + rng.range(0, 899)).collect();
        times.sort_unstable();
        for t in times {
            let renew = session.as_ref().is_none_or(|(until, _)| t >= *until);
            if renew {
                let created = t - rng.range(1, 3);
                let who = Who::Role {
                    acct: PROD,
                    role: SUM_ROLE,
                    path: "/",
                    role_id: SUM_ROLE_ID,
                    session: SUM_SESSION.to_owned(),
                    key: rng.asia_key(),
                    created,
                    mfa: false,
                    invoked_by: None,
                    web_id: None,
                    console: false,
                };
                lambda_assume_role(o, &mut rng, &who, created);
                session = Some((created + rng.range(2, 5) * HOUR, who));
            }
            let Some((_, who)) = &session else { continue };
            let (ticket, summary) = rng.pick(TICKETS);
            let chat = Chat::new(&mut rng, Some(SUMMARY_SYSTEM), ticket, summary, 300);
            let ip = *rng.pick(&SUM_PRIVATE_IPS);
            let call = Call {
                who,
                acct: PROD,
                region: USW2,
                t,
                ip,
                ua: SUM_UA,
                op: Op::Converse,
                model: HAIKU,
                vpce: Some(SUM_VPCE),
            };
            bedrock::call(o, &mut rng, &call, &chat);
            // credentials Lambda issued say so (a field newer than most readers)
            if let Some(last) = o.ct.last_mut()
                && let J::Obj(fields) = &mut last.body
                && let Some((_, identity)) = fields.iter_mut().find(|(k, _)| *k == "userIdentity")
            {
                identity.push(
                    "inScopeOf",
                    obj! {
                        "issuerType": "AWS::Lambda::Function",
                        "credentialsIssuedTo": format!("arn:aws:lambda:{USW2}:{PROD}:function:{SUM_SESSION}"),
                    },
                );
            }
        }
        t0 += 900;
    }
    debug_assert!(DAYS == 9 && day_start(DAYS) == END);
}

/// `sts:AssumeRole` by the Lambda service for the function's execution role.
fn lambda_assume_role(o: &mut Out, rng: &mut Rng, who: &Who, t: i64) {
    let Who::Role { key, session, .. } = who else {
        return;
    };
    let svc = Who::Service("lambda.amazonaws.com");
    let role_arn = format!("arn:aws:iam::{PROD}:role/{SUM_ROLE}");
    let mut ev = Ev::api(
        rng,
        &svc,
        PROD,
        t,
        "sts.amazonaws.com",
        "AssumeRole",
        USW2,
        "lambda.amazonaws.com",
        "lambda.amazonaws.com",
    );
    ev.req = obj! { "roleArn": &role_arn, "roleSessionName": session };
    ev.resp = obj! {
        "credentials": obj! {
            "accessKeyId": key,
            "sessionToken": format!("IQoJb3JpZ2luX2VjE{}", rng.b64(44)),
            "expiration": super::json::sts_expiration(t + 12 * HOUR),
        },
        "assumedRoleUser": obj! {
            "assumedRoleId": format!("{SUM_ROLE_ID}:{session}"),
            "arn": who.arn(),
        },
    };
    ev.resources = Some(arr![
        obj! { "accountId": PROD, "type": "AWS::IAM::Role", "ARN": role_arn }
    ]);
    ev.shared_event_id = Some(rng.uuid());
    ev.tls = None;
    o.ct(&ev);
}
