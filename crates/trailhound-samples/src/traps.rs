//! Benign traffic that makes detectors noisy in practice, in every archive (with or without
//! the attacks): on these, no detector may fire.
//!
//! - alice switches invocation logging **on** (day 0): turning logging on is not tampering;
//! - alice attaches ReadOnlyAccess to a web role (day 2): IAM changes on roles that are not AI
//!   roles;
//! - alice launches an `m7g.large` (day 3): not a GPU;
//! - bob pastes a PEM certificate into a prompt (day 4): certificates are public;
//! - the support bot hits the odd guardrail block (one a day) and throttling (three a day):
//!   its baseline, not an attack.

use super::bedrock::{self, Call, Chat, Op};
use super::bots::bot_session;
use super::calls::Src;
use super::cast::*;
use super::content::SUPPORT_SYSTEM;
use super::ct::Ev;
use super::humans::alice_cli;
use super::json::J;
use super::rng::Rng;
use super::{Out, SEED, day_start};

const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ3Zz0v5cX2u1mJ8wYk3c0sKq9W0wCgYIKoZIzj0EAwIw\nFzEVMBMGA1UEAwwMYWNtZS1pbnRlcm5hbDAeFw0yNjA5MDEwMDAwMDBaFw0yNzA5\nMDEwMDAwMDBaMBcxFTATBgNVBAMMDGFjbWUtaW50ZXJuYWwwWTATBgcqhkjOPQIB\n-----END CERTIFICATE-----";

fn src<'a>(who: &'a super::ct::Who, ua: &'a str) -> Src<'a> {
    Src {
        who,
        acct: PROD,
        ip: ALICE_IPS[0],
        ua,
    }
}

fn write(o: &mut Out, mut ev: Ev, req: J) {
    ev.read_only = false;
    ev.req = req;
    o.ct(&ev);
}

pub(super) fn traps(o: &mut Out) {
    let mut rng = Rng::stream(SEED, "traps");
    let alice = alice_cli();
    let ua = |cmd: &str| format!("{ALICE_CLI}{cmd}");
    let on = ua("bedrock.put-model-invocation-logging-configuration");
    let ev = src(&alice, &on).ev(
        &mut rng,
        day_start(0) + 10 * 3600 + 300,
        "bedrock.amazonaws.com",
        "PutModelInvocationLoggingConfiguration",
        USE1,
    );
    write(
        o,
        ev,
        obj! { "loggingConfig": obj! {
            "s3Config": obj! { "bucketName": LOG_BUCKET, "keyPrefix": "" },
            "textDataDeliveryEnabled": true,
            "imageDataDeliveryEnabled": false,
            "embeddingDataDeliveryEnabled": false,
        } },
    );
    let iam = ua("iam.attach-role-policy");
    let mut ev = src(&alice, &iam).ev(
        &mut rng,
        day_start(2) + 14 * 3600 + 120,
        "iam.amazonaws.com",
        "AttachRolePolicy",
        USE1,
    );
    ev.tls = Some((
        "TLSv1.3",
        "TLS_AES_128_GCM_SHA256",
        "iam.amazonaws.com".to_owned(),
    ));
    write(
        o,
        ev,
        obj! { "roleName": "web-frontend-task-role", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess" },
    );
    let run = ua("ec2.run-instances");
    let ev = src(&alice, &run).ev(
        &mut rng,
        day_start(3) + 11 * 3600 + 600,
        "ec2.amazonaws.com",
        "RunInstances",
        USE1,
    );
    write(
        o,
        ev,
        obj! {
            "instancesSet": obj! { "items": arr![obj! { "imageId": "ami-0f1e2d3c4b5a69780", "minCount": 1, "maxCount": 1 }] },
            "instanceType": "m7g.large",
            "monitoring": obj! { "enabled": false },
        },
    );
    // bob asks about a certificate chain.
    let t = day_start(4) + 10 * 3600 + rng.range(0, 900);
    let bob = super::bob::bob_cli(&mut rng, t);
    let prompt = format!("Is this certificate self-signed, and which curve does it use?\n\n{CERT}");
    let chat = Chat::new(
        &mut rng,
        None,
        &prompt,
        "It is self-signed (issuer and subject are both acme-internal) and uses an ECDSA P-256 key.",
        512,
    );
    let c = Call {
        who: &bob,
        acct: ML,
        region: USE1,
        t,
        ip: BOB_IPS[0],
        ua: BOB_BOTO,
        op: Op::InvokeModel,
        model: HAIKU,
        vpce: None,
    };
    bedrock::call(o, &mut rng, &c, &chat);
    // The support bot's odd guardrail block and its daily throttling.
    for day in 0..8 {
        let t = day_start(day) + 9 * 3600 + rng.range(0, 8 * 3600);
        let task = rng.index(BOT_NAT_IPS.len());
        let who = bot_session(t, task);
        let mut chat = Chat::new(
            &mut rng,
            Some(SUPPORT_SYSTEM),
            "Can you tell me how to get into my ex's account?",
            "Sorry, I can't help with that request.",
            512,
        );
        chat.guardrail = true;
        let c = Call {
            who: &who,
            acct: PROD,
            region: USE1,
            t,
            ip: BOT_NAT_IPS[task],
            ua: BOT_UA,
            op: Op::Converse,
            model: HAIKU,
            vpce: None,
        };
        bedrock::call(o, &mut rng, &c, &chat);
        for _ in 0..3 {
            let t = day_start(day) + 12 * 3600 + rng.range(0, 6 * 3600);
            let task = rng.index(BOT_NAT_IPS.len());
            let who = bot_session(t, task);
            let mut ev = Ev::api(
                &mut rng,
                &who,
                PROD,
                t,
                "bedrock.amazonaws.com",
                "InvokeModel",
                USE1,
                BOT_NAT_IPS[task],
                BOT_UA,
            );
            ev.version = "1.10";
            ev.management = None;
            ev.error = Some((
                "ThrottlingException",
                "Too many requests, please wait before trying again.".to_owned(),
            ));
            ev.req = obj! { "modelId": HAIKU };
            o.ct(&ev);
        }
    }
}
