//! One Bedrock runtime call, written to both logs with the same request id: the
//! CloudTrail `InvokeModel` / `Converse` event and the `ModelInvocationLog` line.

use super::cast::LOG_BUCKET;
use super::ct::{Ev, Who};
use super::json::{J, iso, key_parts};
use super::rng::Rng;
use super::{DataObj, Out, Rec};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Op {
    InvokeModel,
    Converse,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::InvokeModel => "InvokeModel",
            Op::Converse => "Converse",
        }
    }
}

/// Where and how the call was made.
pub struct Call<'a> {
    pub who: &'a Who,
    pub acct: &'static str,
    pub region: &'static str,
    pub t: i64,
    pub ip: &'a str,
    pub ua: &'a str,
    pub op: Op,
    pub model: &'static str,
    pub vpce: Option<&'static str>,
}

/// What was said.
pub struct Chat {
    pub system: Option<&'static str>,
    pub prompt: String,
    pub answer: String,
    pub max_tokens: u32,
    pub in_tokens: u32,
    pub out_tokens: u32,
    pub stop_max: bool,
    /// Write the input body to a `data/` object and point at it (bodies > 100 KB).
    pub offload: bool,
    /// The guardrail blocked the call (the answer is its blocked message).
    pub guardrail: bool,
}

impl Chat {
    /// Token counts from the text length (about four characters a token).
    pub fn new(
        rng: &mut Rng,
        system: Option<&'static str>,
        prompt: &str,
        answer: &str,
        max_tokens: u32,
    ) -> Chat {
        let sys = system.map_or(0, str::len);
        let in_tokens = ((sys + prompt.len()) / 4) as u32 + rng.range(6, 14) as u32;
        let out_tokens = (answer.len() / 4) as u32 + rng.range(2, 9) as u32;
        Chat {
            system,
            prompt: prompt.to_owned(),
            answer: answer.to_owned(),
            max_tokens,
            in_tokens,
            out_tokens,
            stop_max: false,
            offload: false,
            guardrail: false,
        }
    }
}

/// Writes the call to both logs.
pub fn call(o: &mut Out, rng: &mut Rng, c: &Call, chat: &Chat) {
    let mut ev = Ev::api(
        rng,
        c.who,
        c.acct,
        c.t,
        "bedrock.amazonaws.com",
        c.op.name(),
        c.region,
        c.ip,
        c.ua,
    );
    ev.version = "1.10";
    ev.req = obj! { "modelId": c.model };
    ev.management = None;
    ev.vpce = c.vpce;
    ev.tls = Some((
        "TLSv1.3",
        "TLS_AES_128_GCM_SHA256",
        format!("bedrock-runtime.{}.amazonaws.com", c.region),
    ));
    o.ct(&ev);

    let latency = 350 + i64::from(chat.out_tokens) * rng.range(9, 16) + rng.range(0, 400);
    let (input_body, output_body) = match c.op {
        Op::InvokeModel => invoke_bodies(rng, c.model, chat),
        Op::Converse => converse_bodies(chat, latency),
    };
    let mut input = obj! { "inputContentType": "application/json" };
    if chat.offload {
        let (day, _, _, hh) = key_parts(c.t);
        let name = rng.hex(32);
        let key = format!(
            "AWSLogs/{}/BedrockModelInvocationLogs/{}/{day}/{hh}/data/{name}.json.gz",
            c.acct, c.region
        );
        input.push("inputBodyS3Path", format!("s3://{LOG_BUCKET}/{key}"));
        o.data.push(DataObj {
            acct: c.acct,
            region: c.region,
            t: c.t,
            name,
            body: input_body,
        });
    } else {
        input.push("inputBodyJson", input_body);
    }
    input.push("inputTokenCount", chat.in_tokens);
    let log = obj! {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": iso(c.t),
        "accountId": c.acct,
        "identity": obj! { "arn": c.who.arn() },
        "region": c.region,
        "requestId": &ev.request_id,
        "operation": c.op.name(),
        "modelId": c.model,
        "input": input,
        "output": obj! {
            "outputContentType": "application/json",
            "outputBodyJson": output_body,
            "outputTokenCount": chat.out_tokens,
        },
    };
    o.inv.push(Rec {
        acct: c.acct,
        region: c.region,
        t: c.t,
        body: log,
    });
}

/// Anthropic Messages API request and response, as `InvokeModel` logs them.
fn invoke_bodies(rng: &mut Rng, model: &str, chat: &Chat) -> (J, J) {
    let mut input =
        obj! { "anthropic_version": "bedrock-2023-05-31", "max_tokens": chat.max_tokens };
    input.push_opt("system", chat.system);
    input.push(
        "messages",
        arr![
            obj! { "role": "user", "content": arr![obj! { "type": "text", "text": &chat.prompt }] }
        ],
    );
    input.push("temperature", J::Num("0.3"));
    let short = model
        .trim_start_matches("anthropic.")
        .trim_end_matches("-v1:0");
    let output = obj! {
        "id": format!("msg_bdrk_01{}", rng.base62(22)),
        "type": "message",
        "role": "assistant",
        "model": short,
        "content": arr![obj! { "type": "text", "text": &chat.answer }],
        "stop_reason": if chat.guardrail { "guardrail_intervened" } else if chat.stop_max { "max_tokens" } else { "end_turn" },
        "stop_sequence": J::Null,
        "usage": obj! { "input_tokens": chat.in_tokens, "output_tokens": chat.out_tokens },
    };
    let mut output = output;
    if chat.guardrail {
        output.push("amazon-bedrock-guardrailAction", "INTERVENED");
    }
    (input, output)
}

/// Converse request and response.
fn converse_bodies(chat: &Chat, latency: i64) -> (J, J) {
    let mut input = obj! {
        "messages": arr![obj! { "role": "user", "content": arr![obj! { "text": &chat.prompt }] }],
    };
    if let Some(s) = chat.system {
        input.push("system", arr![obj! { "text": s }]);
    }
    input.push(
        "inferenceConfig",
        obj! { "maxTokens": chat.max_tokens, "temperature": J::Num("0.2") },
    );
    let output = obj! {
        "output": obj! { "message": obj! { "role": "assistant", "content": arr![obj! { "text": &chat.answer }] } },
        "stopReason": if chat.guardrail { "guardrail_intervened" } else if chat.stop_max { "max_tokens" } else { "end_turn" },
        "metrics": obj! { "latencyMs": latency },
        "usage": obj! {
            "inputTokens": chat.in_tokens,
            "outputTokens": chat.out_tokens,
            "totalTokens": chat.in_tokens + chat.out_tokens,
        },
    };
    (input, output)
}
