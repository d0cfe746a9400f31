//! A Bedrock model-invocation log record, borrowed from the decode buffer. The prompt and
//! completion bodies stay raw slices of the buffer: they are scanned, never copied.
//!
//! Whether a guardrail intervened is read from the structured outcome fields of the
//! completion ([`InvRecord::guardrail_intervened`]), never from its text: a prompt that
//! says `guardrail_intervened` is just a prompt.

use serde::Deserialize;
use serde_json::value::RawValue;

type Str<'a> = Option<super::text::Text<'a>>;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct InvRecord<'a> {
    #[serde(borrow)]
    pub schema_type: Str<'a>,
    #[serde(borrow)]
    pub timestamp: Str<'a>,
    #[serde(borrow)]
    pub account_id: Str<'a>,
    #[serde(borrow)]
    pub identity: Option<Identity<'a>>,
    #[serde(borrow)]
    pub region: Str<'a>,
    #[serde(borrow)]
    pub request_id: Str<'a>,
    #[serde(borrow)]
    pub operation: Str<'a>,
    #[serde(borrow)]
    pub model_id: Str<'a>,
    #[serde(borrow)]
    pub input: Option<Input<'a>>,
    #[serde(borrow)]
    pub output: Option<Output<'a>>,
    #[serde(borrow)]
    pub error_code: Str<'a>,
}

#[derive(Deserialize, Default)]
pub struct Identity<'a> {
    #[serde(borrow)]
    pub arn: Str<'a>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Input<'a> {
    #[serde(borrow)]
    pub input_body_json: Option<&'a RawValue>,
    pub input_token_count: Option<f64>,
    /// Prompt-cache tokens, when the log carries them (models with prompt caching).
    pub cache_read_input_token_count: Option<f64>,
    pub cache_write_input_token_count: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Output<'a> {
    #[serde(borrow)]
    pub output_body_json: Option<&'a RawValue>,
    pub output_token_count: Option<f64>,
}

impl InvRecord<'_> {
    pub fn input_tokens(&self) -> u64 {
        self.input
            .as_ref()
            .and_then(|i| i.input_token_count)
            .map(|n| n.max(0.0) as u64)
            .unwrap_or(0)
    }

    pub fn output_tokens(&self) -> u64 {
        self.output
            .as_ref()
            .and_then(|o| o.output_token_count)
            .map(|n| n.max(0.0) as u64)
            .unwrap_or(0)
    }

    /// Cache-read and cache-write input tokens: the `input` counts, else the usage the
    /// completion reports (Converse `usage.cacheReadInputTokens`, Anthropic
    /// `usage.cache_read_input_tokens`/`cache_creation_input_tokens`).
    pub fn cache_tokens(&self) -> (u64, u64) {
        self.cache_tokens_with(&self.outcome())
    }

    fn cache_tokens_with(&self, o: &Outcome) -> (u64, u64) {
        let n = |v: Option<f64>| v.map(|n| n.max(0.0) as u64);
        let input = self.input.as_ref();
        let logged = (
            n(input.and_then(|i| i.cache_read_input_token_count)),
            n(input.and_then(|i| i.cache_write_input_token_count)),
        );
        if logged.0.is_some() || logged.1.is_some() {
            return (logged.0.unwrap_or(0), logged.1.unwrap_or(0));
        }
        (o.cache_read, o.cache_write)
    }

    /// Whether a guardrail intervened, from the completion's structured outcome:
    /// `amazon-bedrock-guardrailAction = "INTERVENED"` (InvokeModel, and stream chunks),
    /// `stopReason`/`stop_reason = "guardrail_intervened"` (Converse, Anthropic messages;
    /// top level, a chunk's `delta` or `messageStop`).
    pub fn guardrail_intervened(&self) -> bool {
        self.outcome().intervened
    }

    fn outcome(&self) -> Outcome {
        self.output
            .as_ref()
            .and_then(|o| o.output_body_json)
            .and_then(|r| serde_json::from_str::<Outcome>(r.get()).ok())
            .unwrap_or_default()
    }

    /// Scans the prompt and the completion for secrets and reads the outcome.
    pub fn content_flags(&self) -> super::content::ContentFlags {
        self.decode_content().0
    }

    /// [`Self::content_flags`] and [`Self::cache_tokens`], reading the completion's outcome
    /// once.
    pub fn decode_content(&self) -> (super::content::ContentFlags, (u64, u64)) {
        use super::content::{Side, scan_side};
        let o = self.outcome();
        let mut f = super::content::ContentFlags {
            guardrail_intervened: o.intervened,
            ..Default::default()
        };
        scan_side(self.prompt(), Side::Prompt, &mut f);
        scan_side(self.completion(), Side::Completion, &mut f);
        (f, self.cache_tokens_with(&o))
    }

    pub fn prompt(&self) -> &[u8] {
        self.input
            .as_ref()
            .and_then(|i| i.input_body_json)
            .map(|r| r.get().as_bytes())
            .unwrap_or(b"")
    }

    pub fn completion(&self) -> &[u8] {
        self.output
            .as_ref()
            .and_then(|o| o.output_body_json)
            .map(|r| r.get().as_bytes())
            .unwrap_or(b"")
    }
}

/// The structured outcome of a completion body. Deserializing it visits the body once,
/// keeping only these fields (no text is copied).
#[derive(Default, Debug, PartialEq, Eq)]
struct Outcome {
    intervened: bool,
    cache_read: u64,
    cache_write: u64,
}

impl Outcome {
    fn merge(&mut self, o: Outcome) {
        self.intervened |= o.intervened;
        self.cache_read += o.cache_read;
        self.cache_write += o.cache_write;
    }
}

impl<'de> Deserialize<'de> for Outcome {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OutcomeVisitor)
    }
}

struct OutcomeVisitor;

/// A string field's value, or nothing when it is not a string.
struct MaybeStr(Option<String>);

impl<'de> Deserialize<'de> for MaybeStr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Ok(MaybeStr(v.as_str().map(str::to_string)))
    }
}

impl<'de> serde::de::Visitor<'de> for OutcomeVisitor {
    type Value = Outcome;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a completion body")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Outcome, A::Error> {
        use serde::de::IgnoredAny;
        let mut out = Outcome::default();
        while let Some(key) = m.next_key::<super::text::Text<'de>>()? {
            match &*key {
                "amazon-bedrock-guardrailAction" => {
                    let v: MaybeStr = m.next_value()?;
                    out.intervened |= v.0.as_deref() == Some("INTERVENED");
                }
                "stopReason" | "stop_reason" => {
                    let v: MaybeStr = m.next_value()?;
                    out.intervened |= v.0.as_deref() == Some("guardrail_intervened");
                }
                // Stream chunks: Anthropic `message_delta.delta`, Converse `messageStop`.
                // Stream chunks: Anthropic `message_delta.delta` and `message_start.message`,
                // Converse `messageStop` and `metadata`.
                "delta" | "messageStop" | "message" | "metadata" => {
                    out.merge(m.next_value::<Outcome>()?)
                }
                "usage" => {
                    let u: serde_json::Value = m.next_value()?;
                    let n = |k: &[&str]| {
                        k.iter()
                            .find_map(|k| u.get(k).and_then(|v| v.as_f64()))
                            .map(|n| n.max(0.0) as u64)
                            .unwrap_or(0)
                    };
                    out.cache_read += n(&["cacheReadInputTokens", "cache_read_input_tokens"]);
                    out.cache_write += n(&["cacheWriteInputTokens", "cache_creation_input_tokens"]);
                }
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<Outcome, A::Error> {
        let mut out = Outcome::default();
        while let Some(o) = s.next_element::<Outcome>()? {
            out.merge(o);
        }
        Ok(out)
    }

    fn visit_str<E>(self, _: &str) -> Result<Outcome, E> {
        Ok(Outcome::default())
    }
    fn visit_bool<E>(self, _: bool) -> Result<Outcome, E> {
        Ok(Outcome::default())
    }
    fn visit_i64<E>(self, _: i64) -> Result<Outcome, E> {
        Ok(Outcome::default())
    }
    fn visit_u64<E>(self, _: u64) -> Result<Outcome, E> {
        Ok(Outcome::default())
    }
    fn visit_f64<E>(self, _: f64) -> Result<Outcome, E> {
        Ok(Outcome::default())
    }
    fn visit_unit<E>(self) -> Result<Outcome, E> {
        Ok(Outcome::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(json: &str) -> InvRecord<'_> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn guardrail_from_structured_fields_only() {
        for (body, want) in [
            (
                r#"{"output":{"outputBodyJson":{"stopReason":"guardrail_intervened"}}}"#,
                true,
            ),
            (
                r#"{"output":{"outputBodyJson":{"stop_reason":"guardrail_intervened"}}}"#,
                true,
            ),
            (
                r#"{"output":{"outputBodyJson":{"amazon-bedrock-guardrailAction":"INTERVENED"}}}"#,
                true,
            ),
            (
                r#"{"output":{"outputBodyJson":[{"type":"content_block_delta","delta":{"text":"no"},"amazon-bedrock-guardrailAction":"INTERVENED"}]}}"#,
                true,
            ),
            (
                r#"{"output":{"outputBodyJson":[{"messageStop":{"stopReason":"guardrail_intervened"}}]}}"#,
                true,
            ),
            (
                r#"{"output":{"outputBodyJson":[{"type":"message_delta","delta":{"stop_reason":"guardrail_intervened"}}]}}"#,
                true,
            ),
            (
                r#"{"output":{"outputBodyJson":{"amazon-bedrock-guardrailAction":"NONE","stopReason":"end_turn"}}}"#,
                false,
            ),
            // The words in the text, on either side, are text.
            (
                r#"{"input":{"inputBodyJson":{"messages":[{"role":"user","content":[{"text":"why did I get stopReason guardrail_intervened and \"INTERVENED\"?"}]}]}},"output":{"outputBodyJson":{"output":{"message":{"content":[{"text":"\"stopReason\": \"guardrail_intervened\" means INTERVENED"}]}},"stopReason":"end_turn"}}}"#,
                false,
            ),
            (
                r#"{"output":{"outputBodyJson":"guardrail_intervened"}}"#,
                false,
            ),
            (
                r#"{"output":{"outputBodyJson":{"stopReason":{"x":1}}}}"#,
                false,
            ),
            (r#"{}"#, false),
        ] {
            let r = rec(body);
            assert_eq!(r.guardrail_intervened(), want, "{body}");
            assert_eq!(r.content_flags().guardrail_intervened, want, "{body}");
        }
    }

    #[test]
    fn cache_tokens_from_the_log_or_the_usage() {
        let r = rec(
            r#"{"input":{"inputTokenCount":10,"cacheReadInputTokenCount":500,"cacheWriteInputTokenCount":20}}"#,
        );
        assert_eq!(r.cache_tokens(), (500, 20));
        let r = rec(
            r#"{"output":{"outputBodyJson":{"usage":{"inputTokens":5,"cacheReadInputTokens":300,"cacheWriteInputTokens":7}}}}"#,
        );
        assert_eq!(r.cache_tokens(), (300, 7));
        let r = rec(
            r#"{"output":{"outputBodyJson":{"usage":{"input_tokens":5,"cache_read_input_tokens":40,"cache_creation_input_tokens":9}}}}"#,
        );
        assert_eq!(r.cache_tokens(), (40, 9));
        assert_eq!(rec("{}").cache_tokens(), (0, 0));
    }

    #[test]
    fn secrets_say_which_side() {
        let r = rec(
            r#"{"input":{"inputBodyJson":{"prompt":"fine"}},"output":{"outputBodyJson":{"completion":"here: glpat-x9Yz8Wv7Ut6Sr5Qp4On3"}}}"#,
        );
        let f = r.content_flags();
        assert_eq!(
            f.activity_secret().map(|(k, _)| k),
            Some("gitlab-token@completion")
        );
    }
}
