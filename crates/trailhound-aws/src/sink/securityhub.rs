//! The Security Hub sink: `BatchImportFindings` of the findings in the AWS Security Finding
//! Format (built by [`trailhound_core::alert::asff`]), at most [`MAX_BATCH`] per call, into
//! the account's default custom-integration product
//! (`arn:aws:securityhub:<region>:<account>:product/<account>/default`). An update of a
//! finding re-imports the same `Id` with a new `UpdatedAt`; Security Hub replaces it.
//!
//! The SDK takes typed `AwsSecurityFinding` values, not JSON: [`from_asff`] converts the
//! ASFF document field by field and names the fields it does not map, so a test can prove
//! nothing is lost on the way. Entries Security Hub refuses (`FailedFindings`) are reported
//! failed one by one; the others are accepted.

use std::collections::{BTreeSet, HashMap};

use anyhow::{Context, bail};
use aws_sdk_securityhub::Client;
use aws_sdk_securityhub::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_securityhub::types::{
    AwsSecurityFinding, Network, NetworkDirection, Note, Recommendation, RecordState, Remediation,
    Resource, ResourceDetails, Severity, SeverityLabel, Workflow, WorkflowStatus,
};
use serde_json::Value;
use trailhound_core::alert::asff::to_asff;
use trailhound_core::alert::output::OutputContext;
use trailhound_core::finding::Finding;

use super::BatchOutcome;

/// Findings per `BatchImportFindings` call, and bytes per finding (Security Hub's limits).
pub const MAX_BATCH: usize = 100;
pub const MAX_FINDING_BYTES: usize = 240 * 1024;
/// Bytes per call we allow ourselves (the API caps the request at 6 MB).
pub const MAX_CALL_BYTES: usize = 5 * 1024 * 1024;

#[derive(Clone)]
pub struct SecurityHubSink {
    client: Client,
    /// The importing account and region (the product ARN's): the function's own.
    account: Option<String>,
    region: Option<String>,
}

fn s(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn string_map(v: &Value) -> Option<HashMap<String, String>> {
    v.as_object().map(|m| {
        m.iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect()
    })
}

/// Converts one ASFF document to the SDK's type. Returns the finding and the top-level (and
/// nested) fields that were not mapped, as `Field` or `Field.Sub` names.
pub fn from_asff(doc: &Value) -> anyhow::Result<(AwsSecurityFinding, Vec<String>)> {
    let Some(obj) = doc.as_object() else {
        bail!("an ASFF finding must be a JSON object");
    };
    for required in [
        "SchemaVersion",
        "Id",
        "ProductArn",
        "GeneratorId",
        "AwsAccountId",
        "CreatedAt",
        "UpdatedAt",
        "Title",
        "Description",
        "Resources",
    ] {
        if obj.get(required).is_none_or(Value::is_null) {
            bail!("the ASFF finding lacks the required field {required}");
        }
    }
    let mut unmapped = Vec::new();
    let mut b = AwsSecurityFinding::builder();
    for (k, v) in obj {
        b = match k.as_str() {
            "SchemaVersion" => b.set_schema_version(s(v)),
            "Id" => b.set_id(s(v)),
            "ProductArn" => b.set_product_arn(s(v)),
            "ProductName" => b.set_product_name(s(v)),
            "CompanyName" => b.set_company_name(s(v)),
            "Region" => b.set_region(s(v)),
            "GeneratorId" => b.set_generator_id(s(v)),
            "AwsAccountId" => b.set_aws_account_id(s(v)),
            "Types" => b.set_types(v.as_array().map(|a| a.iter().filter_map(s).collect())),
            "FirstObservedAt" => b.set_first_observed_at(s(v)),
            "LastObservedAt" => b.set_last_observed_at(s(v)),
            "CreatedAt" => b.set_created_at(s(v)),
            "UpdatedAt" => b.set_updated_at(s(v)),
            "Title" => b.set_title(s(v)),
            "Description" => b.set_description(s(v)),
            "SourceUrl" => b.set_source_url(s(v)),
            "Confidence" => b.set_confidence(v.as_i64().map(|n| n as i32)),
            "Criticality" => b.set_criticality(v.as_i64().map(|n| n as i32)),
            "Severity" => b.severity(severity(v, &mut unmapped)),
            "Network" => b.network(network(v, &mut unmapped)),
            "Resources" => {
                let mut rs = Vec::new();
                for r in v.as_array().into_iter().flatten() {
                    rs.push(resource(r, &mut unmapped));
                }
                b.set_resources(Some(rs))
            }
            "ProductFields" => b.set_product_fields(string_map(v)),
            "UserDefinedFields" => b.set_user_defined_fields(string_map(v)),
            "Remediation" => {
                let r = &v["Recommendation"];
                b.remediation(
                    Remediation::builder()
                        .recommendation(
                            Recommendation::builder()
                                .set_text(s(&r["Text"]))
                                .set_url(s(&r["Url"]))
                                .build(),
                        )
                        .build(),
                )
            }
            "RecordState" => b.set_record_state(v.as_str().map(RecordState::from)),
            "Workflow" => b.workflow(
                Workflow::builder()
                    .set_status(v["Status"].as_str().map(WorkflowStatus::from))
                    .build(),
            ),
            "Note" => b.note(
                Note::builder()
                    .set_text(s(&v["Text"]))
                    .set_updated_by(s(&v["UpdatedBy"]))
                    .set_updated_at(s(&v["UpdatedAt"]))
                    .build(),
            ),
            other => {
                unmapped.push(other.to_string());
                b
            }
        };
    }
    Ok((b.build(), unmapped))
}

fn severity(v: &Value, unmapped: &mut Vec<String>) -> Severity {
    let mut b = Severity::builder();
    for (k, x) in v.as_object().into_iter().flatten() {
        b = match k.as_str() {
            "Label" => b.set_label(x.as_str().map(SeverityLabel::from)),
            "Normalized" => b.set_normalized(x.as_i64().map(|n| n as i32)),
            "Original" => b.set_original(match x {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }),
            "Product" => b.set_product(x.as_f64()),
            other => {
                unmapped.push(format!("Severity.{other}"));
                b
            }
        };
    }
    b.build()
}

fn network(v: &Value, unmapped: &mut Vec<String>) -> Network {
    let mut b = Network::builder();
    for (k, x) in v.as_object().into_iter().flatten() {
        b = match k.as_str() {
            "Direction" => b.set_direction(x.as_str().map(NetworkDirection::from)),
            "Protocol" => b.set_protocol(s(x)),
            "SourceIpV4" => b.set_source_ipv4(s(x)),
            "SourceIpV6" => b.set_source_ipv6(s(x)),
            "SourcePort" => b.set_source_port(x.as_i64().map(|n| n as i32)),
            "SourceDomain" => b.set_source_domain(s(x)),
            "DestinationIpV4" => b.set_destination_ipv4(s(x)),
            "DestinationIpV6" => b.set_destination_ipv6(s(x)),
            "DestinationPort" => b.set_destination_port(x.as_i64().map(|n| n as i32)),
            "DestinationDomain" => b.set_destination_domain(s(x)),
            other => {
                unmapped.push(format!("Network.{other}"));
                b
            }
        };
    }
    b.build()
}

fn resource(v: &Value, unmapped: &mut Vec<String>) -> Resource {
    let mut b = Resource::builder();
    for (k, x) in v.as_object().into_iter().flatten() {
        b = match k.as_str() {
            "Type" => b.set_type(s(x)),
            "Id" => b.set_id(s(x)),
            "Partition" => b.set_partition(x.as_str().map(Into::into)),
            "Region" => b.set_region(s(x)),
            "Tags" => b.set_tags(string_map(x)),
            "Details" => {
                let mut d = ResourceDetails::builder();
                for (dk, dv) in x.as_object().into_iter().flatten() {
                    d = match dk.as_str() {
                        "Other" => d.set_other(string_map(dv)),
                        other => {
                            unmapped.push(format!("Resources.Details.{other}"));
                            d
                        }
                    };
                }
                b.details(d.build())
            }
            other => {
                unmapped.push(format!("Resources.{other}"));
                b
            }
        };
    }
    b.build()
}

impl SecurityHubSink {
    /// `account` and `region`: where the function runs (the product ARN names them).
    pub fn new(client: Client, account: Option<String>, region: Option<String>) -> Self {
        SecurityHubSink {
            client,
            account,
            region,
        }
    }

    /// The ASFF documents of findings, by finding id; `updates`: ids published before.
    pub fn documents(
        &self,
        findings: &[&Finding],
        updates: &BTreeSet<String>,
    ) -> Vec<(String, Value)> {
        let now = chrono::Utc::now().timestamp();
        findings
            .iter()
            .map(|f| {
                let ctx = OutputContext {
                    account: self.account.clone(),
                    region: self.region.clone(),
                    now,
                    update: updates.contains(&f.id),
                };
                (f.id.clone(), to_asff(f, &ctx))
            })
            .collect()
    }

    /// Imports ASFF documents (finding id, document). A call that fails whole marks its
    /// findings failed; the other calls still go out.
    pub async fn import(&self, docs: Vec<(String, Value)>) -> BatchOutcome {
        let mut outcome = BatchOutcome::default();
        let mut batches: Vec<Vec<(String, AwsSecurityFinding)>> = Vec::new();
        let mut size = 0;
        for (id, doc) in docs {
            let bytes = doc.to_string().len();
            let typed = from_asff(&doc)
                .with_context(|| format!("finding {id}: the ASFF document is invalid"));
            let f = match typed {
                Ok((f, unmapped)) => {
                    if !unmapped.is_empty() {
                        tracing::warn!(finding = %id, fields = ?unmapped, "ASFF fields not sent to Security Hub");
                    }
                    f
                }
                Err(e) => {
                    outcome.failed.push((id, format!("{e:#}")));
                    continue;
                }
            };
            if batches
                .last()
                .is_none_or(|b| b.len() >= MAX_BATCH || size + bytes > MAX_CALL_BYTES)
            {
                batches.push(Vec::new());
                size = 0;
            }
            size += bytes;
            batches.last_mut().expect("just pushed").push((id, f));
        }
        for batch in batches {
            // Security Hub reports failures by the ASFF `Id`, which is the finding id.
            let ids: Vec<String> = batch.iter().map(|(id, _)| id.clone()).collect();
            let findings = batch.into_iter().map(|(_, f)| f).collect();
            // Boxed: the SDK's request future for these large types would crowd the stack.
            let sent = Box::pin(
                self.client
                    .batch_import_findings()
                    .set_findings(Some(findings))
                    .send(),
            )
            .await;
            match sent {
                Ok(out) => {
                    let failed: HashMap<&str, String> = out
                        .failed_findings()
                        .iter()
                        .filter_map(|e| {
                            e.id().map(|id| {
                                (
                                    id,
                                    format!(
                                        "{}: {}",
                                        e.error_code().unwrap_or("Failed"),
                                        e.error_message().unwrap_or("")
                                    ),
                                )
                            })
                        })
                        .collect();
                    for id in ids {
                        match failed.get(id.as_str()) {
                            Some(why) => outcome.failed.push((id, why.clone())),
                            None => outcome.accepted.push(id),
                        }
                    }
                }
                Err(e) => {
                    let hint = match e.code() {
                        Some("InvalidAccessException") => {
                            "; Security Hub is not enabled in this account and region: enable it, or set TRAILHOUND_SECURITYHUB=false"
                        }
                        Some("AccessDeniedException") => {
                            "; allow securityhub:BatchImportFindings on the account's default product in the function's role"
                        }
                        _ => "; the event will be retried",
                    };
                    let why = format!(
                        "Security Hub BatchImportFindings failed: {}{hint}",
                        DisplayErrorContext(&e)
                    );
                    outcome
                        .failed
                        .extend(ids.into_iter().map(|id| (id, why.clone())));
                }
            }
        }
        outcome
    }
}

/// The product ARN of the account's own findings (`product/<account>/default`).
pub fn product_arn(partition: &str, region: &str, account: &str) -> String {
    format!("arn:{partition}:securityhub:{region}:{account}:product/{account}/default")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn asff_json_converts_field_by_field_and_names_what_it_cannot_map() {
        let doc = json!({
            "SchemaVersion": "2018-10-08",
            "Id": "f1",
            "ProductArn": product_arn("aws", "us-east-1", "111122223333"),
            "GeneratorId": "invoke-spike",
            "AwsAccountId": "111122223333",
            "Types": ["TTPs/Impact"],
            "CreatedAt": "2026-10-01T00:00:00Z",
            "UpdatedAt": "2026-10-01T00:05:00Z",
            "Severity": {"Label": "HIGH", "Normalized": 75, "Original": "7.5"},
            "Title": "t",
            "Description": "d",
            "Resources": [{"Type": "AwsIamRole", "Id": "arn:aws:iam::111122223333:role/r", "Partition": "aws", "Region": "us-east-1", "Details": {"Other": {"k": "v"}}}],
            "Network": {"Direction": "IN", "SourceIpV4": "198.51.100.7"},
            "ProductFields": {"trailhound/count": "3", "n": 4},
            "Made": "up"
        });
        let (f, unmapped) = from_asff(&doc).unwrap();
        assert_eq!(unmapped, ["Made"]);
        assert_eq!(f.id(), Some("f1"));
        assert_eq!(f.types(), ["TTPs/Impact"]);
        let sev = f.severity().unwrap();
        assert_eq!(sev.label(), Some(&SeverityLabel::High));
        assert_eq!(sev.normalized(), Some(75));
        assert_eq!(f.resources()[0].r#type(), Some("AwsIamRole"));
        assert_eq!(f.network().unwrap().source_ipv4(), Some("198.51.100.7"));
        assert_eq!(f.product_fields().unwrap()["n"], "4");
        let mut missing = doc.clone();
        missing.as_object_mut().unwrap().remove("Resources");
        let e = from_asff(&missing).unwrap_err().to_string();
        assert!(e.contains("Resources"), "{e}");
    }
}
