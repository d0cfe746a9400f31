//! The `chatbot` SNS shape: the custom-notification schema of Amazon Q Developer in chat
//! applications (AWS Chatbot), so a topic mapped to a Slack or Teams channel renders a
//! readable alert: `version` "1.0", `source` "custom", `content` (`textType`
//! "client-markdown", `title`, `description`, `nextSteps`, `keywords`) and `metadata`
//! (`threadId` = the finding id, so updates of a finding thread under its first alert,
//! `summary`, `eventType`, `relatedResources`, `additionalContext`).
//!
//! Every text is bounded ([`MAX_TITLE`], [`MAX_DESCRIPTION`], …) and cleaned of control
//! characters; values that come from log records (principal names, evidence) are quoted as
//! inline code with backticks removed, so a crafted value cannot restyle the message.

use serde_json::{Value, json};
use trailhound_core::alert::render;
use trailhound_core::finding::Finding;

use super::fit::clean;

pub const MAX_TITLE: usize = 250;
pub const MAX_DESCRIPTION: usize = 4000;
pub const MAX_STEPS: usize = 5;
pub const MAX_KEYWORDS: usize = 10;
const MAX_VALUE: usize = 120;

/// A record-derived value as inline code: no backticks, no control characters, bounded.
fn code(s: &str) -> String {
    format!("`{}`", clean(&s.replace('`', "'"), MAX_VALUE))
}

/// The custom notification for a finding.
pub fn notification(f: &Finding) -> Value {
    let icon = match f.severity_label.as_str() {
        "Critical" | "High" => ":rotating_light:",
        "Medium" => ":warning:",
        _ => ":information_source:",
    };
    let title = clean(&format!("{icon} {}", render::subject(f)), MAX_TITLE);
    let mut d = String::new();
    d.push_str(&clean(&f.description, 1500));
    d.push_str(&format!(
        "\n\n*Severity:* {} ({:.1})\n*Detector:* {}\n*Principal:* {}\n*Account:* {} *Region:* {}\n*Seen:* {} to {} ({} events)\n*Finding id:* {}",
        f.severity_label,
        f.severity,
        code(&f.detector),
        code(&f.principal),
        code(&f.account),
        code(&f.region),
        code(&f.first_seen),
        code(&f.last_seen),
        f.count,
        code(&f.id),
    ));
    if !f.attack.is_empty() || !f.atlas.is_empty() {
        let ids: Vec<String> = f.attack.iter().chain(&f.atlas).map(|s| code(s)).collect();
        d.push_str(&format!("\n*Techniques:* {}", ids.join(", ")));
    }
    // Scalar evidence only (numbers, short strings): lists and large values stay in the
    // finding JSON.
    let mut shown = 0;
    for (k, v) in &f.evidence {
        let text = match v {
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::String(s) if s.len() <= MAX_VALUE => s.clone(),
            _ => continue,
        };
        if shown == 0 {
            d.push_str("\n\n*Evidence:*");
        }
        d.push_str(&format!("\n• {}: {}", clean(k, 60), code(&text)));
        shown += 1;
        if shown == 10 {
            break;
        }
    }
    let description = clean(&d, MAX_DESCRIPTION);
    let next_steps: Vec<String> = [
        format!(
            "Review the recent CloudTrail activity of {} in account {}.",
            code(&f.principal),
            code(&f.account)
        ),
        "If the activity is not expected, revoke the principal's sessions and rotate its access keys.".to_string(),
        format!(
            "The full finding (all evidence) is on the topic's SQS, Lambda and email-json subscriptions, id {}.",
            code(&f.id)
        ),
    ]
    .into_iter()
    .take(MAX_STEPS)
    .map(|s| clean(&s, 500))
    .collect();
    let keywords: Vec<String> = [
        f.severity_label.as_str(),
        f.detector.as_str(),
        f.account.as_str(),
        f.region.as_str(),
    ]
    .into_iter()
    .filter(|k| !k.is_empty())
    .take(MAX_KEYWORDS)
    .map(|k| clean(k, 75))
    .collect();
    let mut related = vec![clean(&f.principal, 1024)];
    related.extend(
        f.sources
            .iter()
            .take(4)
            .map(|s| clean(&format!("arn:aws:s3:::{}/{}", s.bucket, s.key), 1024)),
    );
    json!({
        "version": "1.0",
        "source": "custom",
        "id": f.id,
        "content": {
            "textType": "client-markdown",
            "title": title,
            "description": description,
            "nextSteps": next_steps,
            "keywords": keywords,
        },
        "metadata": {
            "threadId": f.id,
            "summary": clean(&render::subject(f), 200),
            "eventType": "trailhound.finding",
            "relatedResources": related,
            "additionalContext": {
                "finding_id": f.id,
                "detector": f.detector,
                "severity": format!("{}", f.severity),
                "type": f.finding_type,
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notification_follows_the_custom_schema_and_quotes_record_values() {
        let mut f = crate::sink::sns::tests::finding("0123456789abcdef0123456789abcdef", 1000);
        f.principal = "arn:aws:sts::111122223333:assumed-role/x/`*bold*`\nline".into();
        f.description = "d".repeat(10_000);
        let n = notification(&f);
        assert_eq!(n["version"], "1.0");
        assert_eq!(n["source"], "custom");
        let c = &n["content"];
        assert_eq!(c["textType"], "client-markdown");
        assert_eq!(
            c["title"],
            ":rotating_light: [High] invoke-spike: support-bot-role 41x usual Bedrock calls"
        );
        let d = c["description"].as_str().unwrap();
        assert!(d.len() <= MAX_DESCRIPTION, "{}", d.len());
        assert!(
            d.contains("*Principal:* `arn:aws:sts::111122223333:assumed-role/x/'*bold*' line`"),
            "{d}"
        );
        assert!(d.contains("• ratio: `41.0`"), "{d}");
        assert!(
            !d.contains('\u{7}') && !d.contains("xxxxxxxxxx"),
            "large evidence is left out"
        );
        assert_eq!(c["nextSteps"].as_array().unwrap().len(), 3);
        assert_eq!(
            c["keywords"],
            json!(["High", "invoke-spike", "111122223333", "us-east-1"])
        );
        assert_eq!(n["metadata"]["threadId"], f.id.as_str());
        assert!(serde_json::to_string(&n).unwrap().len() < 8 * 1024);
    }
}
