//! CloudTrail records: the `userIdentity` shapes and one event builder that writes
//! fields in the order CloudTrail does.

use super::json::{J, iso};
use super::rng::Rng;

/// Who made a call: enough to write `userIdentity` and, for Bedrock, the
/// invocation log's `identity.arn`.
#[derive(Clone)]
pub enum Who {
    /// IAM user with a long-term key (CLI / SDK).
    User {
        acct: &'static str,
        name: &'static str,
        id: &'static str,
        key: String,
    },
    /// IAM user signed in to the console (temporary key, `sessionCredentialFromConsole`).
    UserConsole {
        acct: &'static str,
        name: &'static str,
        id: &'static str,
        key: String,
        created: i64,
    },
    /// A role session. `path` is the role's path (`/` or `/aws-reserved/sso.amazonaws.com/`).
    Role {
        acct: &'static str,
        role: &'static str,
        path: &'static str,
        role_id: &'static str,
        session: String,
        key: String,
        created: i64,
        mfa: bool,
        invoked_by: Option<&'static str>,
        web_id: Option<&'static str>,
        console: bool,
    },
    /// An AWS service acting on its own (`AWSService`).
    Service(&'static str),
    /// A GitHub Actions OIDC token exchanging itself for a role.
    WebIdentity {
        acct: &'static str,
        subject: &'static str,
    },
}

impl Who {
    /// The principal ARN as logged (`None` where AWS logs none).
    pub fn arn(&self) -> Option<String> {
        match self {
            Who::User { acct, name, .. } | Who::UserConsole { acct, name, .. } => {
                Some(format!("arn:aws:iam::{acct}:user/{name}"))
            }
            Who::Role {
                acct,
                role,
                session,
                ..
            } => Some(format!("arn:aws:sts::{acct}:assumed-role/{role}/{session}")),
            Who::Service(_) | Who::WebIdentity { .. } => None,
        }
    }

    pub fn is_console(&self) -> bool {
        matches!(
            self,
            Who::UserConsole { .. } | Who::Role { console: true, .. }
        )
    }

    pub fn identity(&self) -> J {
        match self {
            Who::User {
                acct,
                name,
                id,
                key,
            } => obj! {
                "type": "IAMUser",
                "principalId": *id,
                "arn": format!("arn:aws:iam::{acct}:user/{name}"),
                "accountId": *acct,
                "accessKeyId": key,
                "userName": *name,
            },
            Who::UserConsole {
                acct,
                name,
                id,
                key,
                created,
            } => obj! {
                "type": "IAMUser",
                "principalId": *id,
                "arn": format!("arn:aws:iam::{acct}:user/{name}"),
                "accountId": *acct,
                "accessKeyId": key,
                "userName": *name,
                "sessionContext": obj! {
                    "sessionIssuer": J::empty_obj(),
                    "webIdFederationData": J::empty_obj(),
                    "attributes": obj! { "creationDate": iso(*created), "mfaAuthenticated": "true" },
                },
            },
            Who::Role {
                acct,
                role,
                path,
                role_id,
                session,
                key,
                created,
                mfa,
                invoked_by,
                web_id,
                ..
            } => {
                let web = match web_id {
                    Some(provider) => obj! {
                        "federatedProvider": format!("arn:aws:iam::{acct}:oidc-provider/{provider}"),
                        "attributes": J::empty_obj(),
                    },
                    None => J::empty_obj(),
                };
                let mut ctx = obj! {
                    "sessionIssuer": obj! {
                        "type": "Role",
                        "principalId": *role_id,
                        "arn": format!("arn:aws:iam::{acct}:role{path}{role}"),
                        "accountId": *acct,
                        "userName": *role,
                    },
                    "webIdFederationData": web,
                    "attributes": obj! {
                        "creationDate": iso(*created),
                        "mfaAuthenticated": if *mfa { "true" } else { "false" },
                    },
                };
                if invoked_by.is_some() {
                    // service-linked role sessions carry no web identity block
                    if let J::Obj(f) = &mut ctx {
                        f.retain(|(k, _)| *k != "webIdFederationData");
                    }
                }
                let mut u = obj! {
                    "type": "AssumedRole",
                    "principalId": format!("{role_id}:{session}"),
                    "arn": format!("arn:aws:sts::{acct}:assumed-role/{role}/{session}"),
                    "accountId": *acct,
                    "accessKeyId": key,
                    "sessionContext": ctx,
                };
                u.push_opt("invokedBy", *invoked_by);
                u
            }
            Who::Service(by) => obj! { "type": "AWSService", "invokedBy": *by },
            Who::WebIdentity { acct, subject } => {
                let provider = format!(
                    "arn:aws:iam::{acct}:oidc-provider/token.actions.githubusercontent.com"
                );
                obj! {
                    "type": "WebIdentityUser",
                    "principalId": format!("{provider}:sts.amazonaws.com:{subject}"),
                    "userName": *subject,
                    "identityProvider": provider,
                }
            }
        }
    }
}

/// One CloudTrail event, built with defaults and adjusted field by field.
pub struct Ev {
    pub version: &'static str,
    pub who: Who,
    pub t: i64,
    pub source: &'static str,
    pub name: &'static str,
    pub region: &'static str,
    pub ip: String,
    pub ua: String,
    pub error: Option<(&'static str, String)>,
    pub req: J,
    pub resp: J,
    pub additional: Option<J>,
    pub request_id: String,
    pub event_id: String,
    pub read_only: bool,
    pub resources: Option<J>,
    pub event_type: &'static str,
    pub api_version: Option<&'static str>,
    /// `None` leaves `managementEvent` out, as in the real Bedrock runtime sample.
    pub management: Option<bool>,
    pub recipient: &'static str,
    pub shared_event_id: Option<String>,
    pub vpce: Option<&'static str>,
    pub category: &'static str,
    /// `(tlsVersion, cipherSuite, host)`
    pub tls: Option<(&'static str, &'static str, String)>,
    /// Fields CloudTrail added later, or that a reader will not know.
    pub unknown: Vec<(&'static str, J)>,
}

pub const TLS13: (&str, &str) = ("TLSv1.3", "TLS_AES_128_GCM_SHA256");
pub const TLS12: (&str, &str) = ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256");

impl Ev {
    /// A read-only management API call with a UUID request id and TLS 1.3 to
    /// `<service>.<region>.amazonaws.com`.
    #[allow(clippy::too_many_arguments)]
    pub fn api(
        rng: &mut Rng,
        who: &Who,
        acct: &'static str,
        t: i64,
        source: &'static str,
        name: &'static str,
        region: &'static str,
        ip: &str,
        ua: &str,
    ) -> Ev {
        let service = source.trim_end_matches(".amazonaws.com");
        let host = format!("{service}.{region}.amazonaws.com");
        Ev {
            version: "1.08",
            who: who.clone(),
            t,
            source,
            name,
            region,
            ip: ip.to_owned(),
            ua: ua.to_owned(),
            error: None,
            req: J::Null,
            resp: J::Null,
            additional: None,
            request_id: rng.uuid(),
            event_id: rng.uuid(),
            read_only: true,
            resources: None,
            event_type: "AwsApiCall",
            api_version: None,
            management: Some(true),
            recipient: acct,
            shared_event_id: None,
            vpce: None,
            category: "Management",
            tls: Some((TLS13.0, TLS13.1, host)),
            unknown: Vec::new(),
        }
    }

    pub fn to_json(&self) -> J {
        let mut e = obj! {
            "eventVersion": self.version,
            "userIdentity": self.who.identity(),
            "eventTime": iso(self.t),
            "eventSource": self.source,
            "eventName": self.name,
            "awsRegion": self.region,
            "sourceIPAddress": &self.ip,
            "userAgent": &self.ua,
        };
        if let Some((code, msg)) = &self.error {
            e.push("errorCode", *code);
            e.push("errorMessage", msg);
        }
        e.push("requestParameters", clone(&self.req));
        e.push("responseElements", clone(&self.resp));
        e.push_opt("additionalEventData", self.additional.as_ref().map(clone));
        e.push("requestID", &self.request_id);
        e.push("eventID", &self.event_id);
        e.push("readOnly", self.read_only);
        e.push_opt("resources", self.resources.as_ref().map(clone));
        e.push("eventType", self.event_type);
        e.push_opt("apiVersion", self.api_version);
        e.push_opt("managementEvent", self.management);
        e.push("recipientAccountId", self.recipient);
        e.push_opt("sharedEventID", self.shared_event_id.as_ref());
        if let Some(vpce) = self.vpce {
            e.push("vpcEndpointId", vpce);
            e.push("vpcEndpointAccountId", self.recipient);
        }
        e.push("eventCategory", self.category);
        if let Some((v, c, h)) = &self.tls {
            e.push(
                "tlsDetails",
                obj! { "tlsVersion": *v, "cipherSuite": *c, "clientProvidedHostHeader": h },
            );
        }
        if self.who.is_console() {
            e.push("sessionCredentialFromConsole", "true");
        }
        for (k, v) in &self.unknown {
            e.push(k, clone(v));
        }
        e
    }
}

/// A deep copy (J is deliberately not `Clone` everywhere to keep moves cheap).
pub fn clone(v: &J) -> J {
    match v {
        J::Null => J::Null,
        J::Bool(b) => J::Bool(*b),
        J::Int(i) => J::Int(*i),
        J::Num(n) => J::Num(n),
        J::Str(s) => J::Str(s.clone()),
        J::Arr(xs) => J::Arr(xs.iter().map(clone).collect()),
        J::Obj(fs) => J::Obj(fs.iter().map(|(k, v)| (*k, clone(v))).collect()),
    }
}

/// `resources` entry for an S3 object and its bucket, as S3 data events list them.
pub fn s3_resources(acct: &str, bucket: &str, key: Option<&str>) -> J {
    let mut v = Vec::new();
    if let Some(key) = key {
        v.push(obj! { "type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/{key}") });
    }
    v.push(obj! { "accountId": acct, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}") });
    J::Arr(v)
}

/// `additionalEventData` of an S3 request.
pub fn s3_additional(rng: &mut Rng, bytes_in: u64, bytes_out: u64) -> J {
    obj! {
        "SignatureVersion": "SigV4",
        "CipherSuite": TLS13.1,
        "bytesTransferredIn": bytes_in,
        "AuthenticationMethod": "AuthHeader",
        "x-amz-id-2": format!("{}=", rng.b64(75)),
        "bytesTransferredOut": bytes_out,
    }
}
