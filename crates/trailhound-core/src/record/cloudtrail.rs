//! A CloudTrail event, borrowed from the decode buffer; only the fields detectors use.
//! Unknown fields are skipped by serde without allocation.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

type Str<'a> = Option<Cow<'a, str>>;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CtRecord<'a> {
    #[serde(borrow)]
    pub event_time: Str<'a>,
    #[serde(borrow)]
    pub event_source: Str<'a>,
    #[serde(borrow)]
    pub event_name: Str<'a>,
    #[serde(borrow)]
    pub aws_region: Str<'a>,
    #[serde(borrow, rename = "sourceIPAddress")]
    pub source_ip_address: Str<'a>,
    #[serde(borrow)]
    pub user_agent: Str<'a>,
    #[serde(borrow)]
    pub error_code: Str<'a>,
    #[serde(borrow, rename = "requestID")]
    pub request_id: Str<'a>,
    #[serde(borrow, rename = "eventID")]
    pub event_id: Str<'a>,
    #[serde(borrow)]
    pub recipient_account_id: Str<'a>,
    #[serde(borrow)]
    pub vpc_endpoint_id: Str<'a>,
    #[serde(borrow)]
    pub user_identity: Option<UserIdentity<'a>>,
    #[serde(borrow)]
    pub request_parameters: Option<&'a RawValue>,
    #[serde(borrow)]
    pub additional_event_data: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Str<'a>,
    #[serde(borrow)]
    pub arn: Str<'a>,
    #[serde(borrow)]
    pub account_id: Str<'a>,
    #[serde(borrow)]
    pub access_key_id: Str<'a>,
    #[serde(borrow)]
    pub user_name: Str<'a>,
    #[serde(borrow)]
    pub invoked_by: Str<'a>,
    #[serde(borrow)]
    pub principal_id: Str<'a>,
    #[serde(borrow)]
    pub session_context: Option<SessionContext<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext<'a> {
    #[serde(borrow)]
    pub session_issuer: Option<SessionIssuer<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Str<'a>,
    #[serde(borrow)]
    pub arn: Str<'a>,
}

/// The request parameters detectors read (Bedrock model, S3 bucket and key).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Params<'a> {
    #[serde(borrow)]
    pub model_id: Str<'a>,
    #[serde(borrow)]
    pub bucket_name: Str<'a>,
    #[serde(borrow)]
    pub key: Str<'a>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Additional {
    pub bytes_transferred_out: Option<f64>,
}

impl<'a> CtRecord<'a> {
    /// Parses `requestParameters` only for the services whose parameters we use.
    pub fn params(&self) -> Params<'a> {
        let wanted = matches!(
            self.event_source.as_deref(),
            Some("bedrock.amazonaws.com" | "s3.amazonaws.com")
        );
        match self.request_parameters {
            Some(raw) if wanted => serde_json::from_str(raw.get()).unwrap_or_default(),
            _ => Params::default(),
        }
    }

    pub fn bytes_out(&self) -> u64 {
        match self.additional_event_data {
            Some(raw) if self.event_source.as_deref() == Some("s3.amazonaws.com") => {
                let a: Additional = serde_json::from_str(raw.get()).unwrap_or_default();
                a.bytes_transferred_out
                    .map(|b| b.max(0.0) as u64)
                    .unwrap_or(0)
            }
            _ => 0,
        }
    }
}
