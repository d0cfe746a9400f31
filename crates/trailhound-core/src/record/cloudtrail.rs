//! A CloudTrail event, borrowed from the decode buffer; only the fields detectors use.
//! Unknown fields are skipped by serde without allocation. `requestParameters`,
//! `responseElements` and `additionalEventData` stay raw slices: the values detector files
//! ask for by JSON path are extracted from them by [`Paths`] (below).

use serde::Deserialize;
use serde_json::value::RawValue;

type Str<'a> = Option<super::text::Text<'a>>;

pub use super::paths::{JsonPath, MAX_EXTRACTED, PathId, Paths, Root, Scalar};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CtRecord<'a> {
    #[serde(borrow)]
    pub event_time: Str<'a>,
    /// Top-level `sessionCredentialFromConsole`: `"true"` (or `true`) for console sessions.
    #[serde(default)]
    pub session_credential_from_console: Option<Flag>,
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
    pub response_elements: Option<&'a RawValue>,
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
    /// `true` when the call authenticated with an Amazon Bedrock API key (a bearer token,
    /// long-term or short-term) instead of a SigV4 signature.
    pub call_with_bearer_token: Option<bool>,
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

    /// Whether the call used an Amazon Bedrock API key: `additionalEventData` says
    /// `"callWithBearerToken": true` (AWS writes it for Bedrock calls made with a long-term or
    /// short-term API key; SigV4-signed calls do not carry it). The object is parsed only when
    /// its bytes hold the field's name, which few records do.
    pub fn bearer_token(&self) -> bool {
        match self.additional_event_data {
            Some(raw)
                if memchr::memmem::find(raw.get().as_bytes(), b"callWithBearerToken").is_some() =>
            {
                serde_json::from_str::<Additional>(raw.get())
                    .ok()
                    .and_then(|a| a.call_with_bearer_token)
                    .unwrap_or(false)
            }
            _ => false,
        }
    }

    /// The raw JSON under a path root (`requestParameters`, `responseElements`,
    /// `additionalEventData`).
    pub fn root(&self, root: Root) -> Option<&'a RawValue> {
        match root {
            Root::RequestParameters => self.request_parameters,
            Root::ResponseElements => self.response_elements,
            Root::AdditionalEventData => self.additional_event_data,
        }
    }
}

/// A flag CloudTrail writes as the string `"true"` (and some tools as a JSON boolean).
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(untagged)]
pub enum Flag {
    Bool(bool),
    Text(FlagText),
}

/// The string form of a [`Flag`]: only `"true"` is true.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagText(pub bool);

impl<'de> Deserialize<'de> for FlagText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = super::text::Text::deserialize(d)?;
        Ok(FlagText(&*s == "true"))
    }
}

impl Flag {
    pub fn is_true(self) -> bool {
        matches!(self, Flag::Bool(true) | Flag::Text(FlagText(true)))
    }
}

impl CtRecord<'_> {
    /// The session belongs to a person signed in to the console (`sessionCredentialFromConsole`):
    /// its name is set by the console federation, not picked per call. Web-identity sessions
    /// (EKS service accounts, CI OIDC) are not: their SDKs name one session after another.
    pub fn console_session(&self) -> bool {
        self.session_credential_from_console
            .is_some_and(Flag::is_true)
    }
}
