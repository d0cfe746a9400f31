//! The three attacks, all on 2026-10-09 (day 8), after the 7-day learning period.
//! Nothing else in the archive is meant to be anomalous.

use super::bedrock::{self, Call, Chat, Op};
use super::bots::bot_session;
use super::calls::{self, Src};
use super::cast::*;
use super::content::{ABUSE_PARAGRAPHS, ABUSE_PROMPTS, ABUSE_SYSTEM, HUMAN_PROMPTS};
use super::contractor::contractor_who;
use super::humans::alice_cli;
use super::rng::Rng;
use super::{Out, SEED, day_start};

const ATTACK_DAY: i64 = 8;
const MIN: i64 = 60;

/// A. invoke-spike / LLMjacking: `support-bot-role` credentials abused from inside
/// the app, 2026-10-09T03:10:00Z to 03:25:00Z (end exclusive).
pub const SPIKE_WINDOW: (i64, i64) = (
    super::START + ATTACK_DAY * 86_400 + 3 * 3600 + 10 * MIN,
    super::START + ATTACK_DAY * 86_400 + 3 * 3600 + 25 * MIN,
);
/// Calls in the spike window, all of them the attack's.
pub const SPIKE_CALLS: usize = 2_340;

/// B. unusual-geo: alice's long-term key used from Russia, 11:40 to 11:55.
pub const STOLEN_KEY_WINDOW: (i64, i64) = (
    super::START + ATTACK_DAY * 86_400 + 11 * 3600 + 40 * MIN,
    super::START + ATTACK_DAY * 86_400 + 11 * 3600 + 55 * MIN,
);
pub const STOLEN_KEY_CALLS: usize = 12;

/// C. training-data-access: the contractor reads and writes the training set,
/// 04:05 to 04:20.
pub const TRAINING_WINDOW: (i64, i64) = (
    super::START + ATTACK_DAY * 86_400 + 4 * 3600 + 5 * MIN,
    super::START + ATTACK_DAY * 86_400 + 4 * 3600 + 20 * MIN,
);
pub const TRAINING_LISTS: usize = 2;
pub const TRAINING_GETS: usize = 60;
pub const TRAINING_PUTS: usize = 2;

pub(super) fn invoke_spike(o: &mut Out) {
    let mut rng = Rng::stream(SEED, "attack-a");
    let (from, to) = SPIKE_WINDOW;
    let mut ts: Vec<i64> = (0..SPIKE_CALLS).map(|_| rng.range(from, to - 1)).collect();
    ts.sort_unstable();
    for t in ts {
        let task = rng.index(BOT_NAT_IPS.len());
        let who = bot_session(t, task);
        let prompt = *rng.pick(ABUSE_PROMPTS);
        // five to eight distinct paragraphs: a stride through the list, never repeating
        let count = rng.range(5, 8) as usize;
        let first = rng.index(ABUSE_PARAGRAPHS.len());
        let stride = *rng.pick(&[1, 3, 5, 7]);
        let answer: Vec<&str> = (0..count)
            .map(|i| ABUSE_PARAGRAPHS[(first + i * stride) % ABUSE_PARAGRAPHS.len()])
            .collect();
        let answer = answer.join("\n\n");
        let mut chat = Chat::new(&mut rng, Some(ABUSE_SYSTEM), prompt, &answer, 4096);
        // a long running conversation is resent every time
        chat.in_tokens += rng.range(1200, 3800) as u32;
        chat.out_tokens += rng.range(300, 2500) as u32;
        chat.stop_max = rng.chance(0.3);
        let c = Call {
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
        bedrock::call(o, &mut rng, &c, &chat);
    }
}

pub(super) fn stolen_key(o: &mut Out) {
    let mut rng = Rng::stream(SEED, "attack-b");
    let who = alice_cli();
    let f = Src {
        who: &who,
        acct: PROD,
        ip: ATTACKER_IP,
        ua: ATTACKER_UA,
    };
    let (from, _) = STOLEN_KEY_WINDOW;
    let mut t = from + rng.range(5, 40);
    o.ct(&calls::get_caller_identity(&mut rng, &f, t, USE1));
    t += rng.range(20, 60);
    o.ct(&calls::list_foundation_models(&mut rng, &f, t, USE1));
    t += rng.range(20, 60);
    o.ct(&calls::list_buckets(&mut rng, &f, t));
    t += rng.range(30, 60);
    o.ct(&calls::list_foundation_models(&mut rng, &f, t, USE1));
    // four recon calls above, the rest are model calls
    for i in 0..STOLEN_KEY_CALLS - 4 {
        t += rng.range(40, 75);
        let (q, a) = if i == 0 {
            (
                "Hello, which model are you?",
                "I'm Claude, an AI assistant made by Anthropic. How can I help you today?",
            )
        } else {
            *rng.pick(HUMAN_PROMPTS)
        };
        let chat = Chat::new(&mut rng, None, q, a, 512);
        let c = Call {
            who: &who,
            acct: PROD,
            region: USE1,
            t,
            ip: ATTACKER_IP,
            ua: ATTACKER_UA,
            op: Op::InvokeModel,
            model: SONNET,
            vpce: None,
        };
        bedrock::call(o, &mut rng, &c, &chat);
    }
    debug_assert!(t < STOLEN_KEY_WINDOW.1);
}

pub(super) fn training_data(o: &mut Out) {
    let mut rng = Rng::stream(SEED, "attack-c");
    let who = contractor_who();
    let ip = CONTRACTOR_IPS[0];
    let (from, to) = TRAINING_WINDOW;
    let mut t = from + rng.range(5, 30);
    let ls = format!("[{CONTRACTOR_CLI}s3.ls]");
    let cp = format!("[{CONTRACTOR_CLI}s3.cp]");
    for _ in 0..TRAINING_LISTS {
        o.ct(&calls::s3_list(
            &mut rng,
            &Src {
                who: &who,
                acct: ML,
                ip,
                ua: &ls,
            },
            t,
            USE1,
            TRAIN_BUCKET,
            TRAIN_PREFIX,
        ));
        t += rng.range(1, 3);
    }
    t += rng.range(20, 40);
    // a recursive copy: several parts in flight at once
    let span = to - 150 - t;
    let mut gets: Vec<(i64, u64)> = (0..TRAINING_GETS as u64)
        .map(|i| (t + rng.range(0, span), i * 7 % TRAIN_PARTS))
        .collect();
    gets.sort_unstable();
    for (at, part) in gets {
        let key = format!("{TRAIN_PREFIX}part-{part:05}.parquet");
        let bytes = rng.range(50_000_000, 200_000_000) as u64;
        o.ct(&calls::s3_get(
            &mut rng,
            &Src {
                who: &who,
                acct: ML,
                ip,
                ua: &cp,
            },
            at,
            USE1,
            TRAIN_BUCKET,
            &key,
            bytes,
        ));
    }
    let mut t = to - 120;
    for i in 0..TRAINING_PUTS as u64 {
        t += rng.range(10, 40);
        let key = format!("{TRAIN_PREFIX}part-{:05}.parquet", TRAIN_PARTS + i);
        let bytes = rng.range(60_000_000, 120_000_000) as u64;
        o.ct(&calls::s3_put(
            &mut rng,
            &Src {
                who: &who,
                acct: ML,
                ip,
                ua: &cp,
            },
            t,
            USE1,
            TRAIN_BUCKET,
            &key,
            bytes,
        ));
    }
    debug_assert!(t < to && day_start(ATTACK_DAY) < from);
}
