//! Realistic Bedrock model-invocation log lines for the benchmark: prompts of 0.5-20 KB
//! (chat, RAG context, summarization), answers of 0.2-4 KB, from a few hundred role
//! sessions of the application roles, across the models an account uses.

use std::fmt::Write;

use crate::json::iso;
use crate::rng::Rng;

const ROLES: [&str; 8] = [
    "support-bot-role",
    "summarizer-role",
    "rag-retriever-role",
    "agent-orchestrator-role",
    "chat-frontend-role",
    "translate-role",
    "moderation-role",
    "classifier-role",
];
const MODELS: [&str; 4] = [
    "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "anthropic.claude-3-haiku-20240307-v1:0",
    "meta.llama3-1-70b-instruct-v1:0",
    "anthropic.claude-3-7-sonnet-20250219-v1:0",
];
const WORDS: [&str; 64] = [
    "the",
    "customer",
    "order",
    "refund",
    "shipping",
    "please",
    "summarize",
    "following",
    "document",
    "policy",
    "account",
    "invoice",
    "delivery",
    "question",
    "answer",
    "context",
    "section",
    "product",
    "warranty",
    "return",
    "within",
    "days",
    "support",
    "ticket",
    "agent",
    "escalate",
    "priority",
    "billing",
    "payment",
    "failed",
    "retry",
    "address",
    "update",
    "status",
    "report",
    "quarterly",
    "revenue",
    "growth",
    "region",
    "team",
    "meeting",
    "notes",
    "action",
    "items",
    "deadline",
    "review",
    "draft",
    "email",
    "translate",
    "into",
    "french",
    "german",
    "classify",
    "sentiment",
    "positive",
    "negative",
    "neutral",
    "and",
    "of",
    "to",
    "for",
    "with",
    "is",
    "a",
];

/// `n` bytes (about) of prose, with escaped newlines between paragraphs.
fn prose(rng: &mut Rng, n: usize, out: &mut String) {
    let start = out.len();
    let mut words = 0;
    while out.len() - start < n {
        out.push_str(WORDS[rng.index(WORDS.len())]);
        words += 1;
        if words % 120 == 0 {
            out.push_str(".\\n\\n");
        } else if words % 15 == 0 {
            out.push_str(". ");
        } else {
            out.push(' ');
        }
    }
}

/// The callers: 400 sessions of the application roles.
pub fn sessions(seed: u64, hour_start: i64) -> Vec<String> {
    let mut rng = Rng::stream(seed, "bench-inv-sessions");
    (0..400)
        .map(|i| {
            let role = ROLES[i % ROLES.len()];
            let session = if i % 2 == 0 {
                format!("botocore-session-{}", hour_start - rng.range(0, 3599))
            } else {
                format!("{}-{}", role.trim_end_matches("-role"), rng.hex(32))
            };
            format!("arn:aws:sts::111122223333:assumed-role/{role}/{session}")
        })
        .collect()
}

/// Appends one JSON line (with its newline).
pub fn line(rng: &mut Rng, arn: &str, t: i64, region: &str, out: &mut String) {
    let model = MODELS[rng.index(MODELS.len())];
    // Prompt sizes: mostly short chats, a long tail of RAG contexts up to 20 KB.
    let u = rng.unit();
    let prompt_len = 500 + (u * u * u * 19_500.0) as usize;
    let answer_len = 200 + rng.below(3800) as usize;
    let converse = rng.chance(0.4);
    let op = if converse { "Converse" } else { "InvokeModel" };
    let _ = write!(
        out,
        r#"{{"schemaType":"ModelInvocationLog","schemaVersion":"1.0","timestamp":"{}","accountId":"111122223333","identity":{{"arn":"{arn}"}},"region":"{region}","requestId":"{}","operation":"{op}","modelId":"{model}","input":{{"inputContentType":"application/json","inputBodyJson":"#,
        iso(t),
        rng.uuid(),
    );
    let in_tokens = prompt_len / 4 + 12;
    let out_tokens = answer_len / 4 + 3;
    if converse {
        out.push_str(r#"{"messages":[{"role":"user","content":[{"text":""#);
        prose(rng, prompt_len, out);
        let _ = write!(
            out,
            r#""}}]}}],"inferenceConfig":{{"maxTokens":{},"temperature":0.5}}}},"inputTokenCount":{in_tokens}}},"output":{{"outputContentType":"application/json","outputBodyJson":{{"output":{{"message":{{"role":"assistant","content":[{{"text":""#,
            1024 + rng.below(3072)
        );
        prose(rng, answer_len, out);
        let _ = write!(
            out,
            r#""}}]}}}},"stopReason":"end_turn","metrics":{{"latencyMs":{}}},"usage":{{"inputTokens":{in_tokens},"outputTokens":{out_tokens},"totalTokens":{}}}}},"outputTokenCount":{out_tokens}}}}}"#,
            400 + rng.below(4000),
            in_tokens + out_tokens
        );
    } else {
        let _ = write!(
            out,
            r#"{{"anthropic_version":"bedrock-2023-05-31","max_tokens":{},"system":"You are a helpful assistant for Acme Corp. Answer briefly.","messages":[{{"role":"user","content":[{{"type":"text","text":""#,
            1024 + rng.below(3072)
        );
        prose(rng, prompt_len, out);
        let _ = write!(
            out,
            r#""}}]}}]}},"inputTokenCount":{in_tokens}}},"output":{{"outputContentType":"application/json","outputBodyJson":{{"id":"msg_bdrk_01{}","type":"message","role":"assistant","model":"claude","content":[{{"type":"text","text":""#,
            rng.alnum(22)
        );
        prose(rng, answer_len, out);
        let _ = write!(
            out,
            r#""}}],"stop_reason":"end_turn","stop_sequence":null,"usage":{{"input_tokens":{in_tokens},"output_tokens":{out_tokens}}}}},"outputTokenCount":{out_tokens}}}}}"#
        );
    }
    out.push('\n');
}
