//! A Bedrock model-invocation log record, borrowed from the decode buffer. The prompt and
//! completion bodies stay raw slices of the buffer: they are scanned, never copied.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

type Str<'a> = Option<Cow<'a, str>>;

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
