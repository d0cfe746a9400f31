use serde_json::json;
use trailhound_core::activity::{Activity, Source};
use trailhound_core::time;

use super::*;

const ROLE: &str = "arn:aws:sts::111122223333:assumed-role/support-bot-role/s1";
const KEY: &str = "arn:aws:iam::111122223333:role/support-bot-role";
const MODEL: &str = "anthropic.claude-3-haiku-20240307-v1:0";

fn finding(id: &str, detector: &str, first: &str, evidence: Value) -> Finding {
    Finding {
        schema_version: 1,
        id: id.into(),
        detector: detector.into(),
        finding_type: "Impact:Bedrock/InvokeModelSpike".into(),
        severity: 7.5,
        severity_label: "High".into(),
        title: format!("{detector} <b>fired</b>"),
        description: "a & b".into(),
        subject: String::new(),
        account: "111122223333".into(),
        region: "us-east-1".into(),
        principal: ROLE.into(),
        principal_key: KEY.into(),
        principal_type: "AssumedRole".into(),
        first_seen: first.into(),
        last_seen: first.into(),
        count: 1,
        evidence: evidence.as_object().unwrap().clone(),
        sources: vec![],
        attack: vec!["T1496.004".into(), "T1496.A007".into(), "<x>".into()],
        atlas: vec!["AML.T0034".into()],
    }
}

fn invoke(t: i64) -> Activity {
    Activity {
        event_source: "bedrock.amazonaws.com".into(),
        event_name: "InvokeModel".into(),
        model_id: Some(MODEL.into()),
        ..Activity::new(t, Source::Cloudtrail, ROLE)
    }
}

fn page(findings: &[Finding], recorder: &Recorder, engine: &Engine) -> String {
    let stats = Stats::default();
    let geo = Geo::none();
    render(&Report {
        findings,
        stats: &stats,
        engine,
        geo: &geo,
        series: recorder,
    })
}

#[test]
fn the_recorder_sums_what_the_detector_counts_per_window() {
    let engine = Engine::defaults(7 * 86_400).unwrap();
    let mut rec = Recorder::new(&engine);
    let t0 = time::parse("2026-10-09T03:00:00Z").unwrap();
    // 3 calls in the first quarter hour, 5 in the third; one call to another model; one
    // CloudTrail call that invoke-spike does not match.
    let mut acts: Vec<Activity> = (0..3).map(|i| invoke(t0 + i)).collect();
    acts.extend((0..5).map(|i| invoke(t0 + 1800 + i)));
    acts.push(Activity {
        model_id: Some("other".into()),
        ..invoke(t0)
    });
    acts.push(Activity {
        event_name: "ListFoundationModels".into(),
        ..invoke(t0)
    });
    rec.observe(&acts);
    let layout = rec.layout("invoke-spike").unwrap();
    assert_eq!(layout.group_key, Some("model_id"));
    assert_eq!((layout.window, layout.bucket), (3600, 900));
    let sums = rec
        .window_sums("invoke-spike", KEY, MODEL, t0, t0 + 4 * 900)
        .unwrap();
    let values: Vec<u64> = sums.iter().map(|p| p.1).collect();
    // One-hour windows ending every 15 minutes.
    assert_eq!(values, vec![3, 3, 8, 8, 5]);
    assert_eq!(sums[0].0, t0 + 900);
    assert_eq!(
        rec.window_sums("invoke-spike", KEY, "other", t0, t0)
            .unwrap(),
        vec![(t0 + 900, 1)]
    );
    assert_eq!(
        (rec.first_event, rec.last_event),
        (Some(t0), Some(t0 + 1804))
    );
    assert!(rec.layout("unusual-geo").is_none());
    assert!(rec.window_sums("unusual-geo", KEY, "", t0, t0).is_none());
}

#[test]
fn rate_findings_get_a_chart_and_sequences_their_chain() {
    let engine = Engine::defaults(7 * 86_400).unwrap();
    let mut rec = Recorder::new(&engine);
    let t0 = time::parse("2026-10-09T03:00:00Z").unwrap();
    rec.observe(&(0..50).map(|i| invoke(t0 + i)).collect::<Vec<_>>());
    let spike = finding(
        "aaa1",
        "invoke-spike",
        "2026-10-09T03:00:00Z",
        json!({"model_id": MODEL, "observed": 50, "threshold": 40, "measure": "calls",
               "baseline": {"p50": 2, "p99": 9}, "seasonal": {"usual_high": 4, "slot": "weekday 03:00-04:00 UTC"}}),
    );
    let geo_f = finding(
        "bbb2",
        "unusual-geo",
        "2026-10-09T04:00:00Z",
        json!({"countries": ["RU"]}),
    );
    let seq = finding(
        "ccc3",
        "ai-attack-sequence",
        "2026-10-09T05:00:00Z",
        json!({"chain": [{"finding_id": "bbb2", "stage": "access"}, {"finding_id": "aaa1"},
                         {"finding_id": "gone", "detector": "<old>"}]}),
    );
    let html = page(&[spike, geo_f, seq], &rec, &engine);
    let section = |id: &str| {
        let start = html
            .find(&format!("<section class=\"finding\" data-id=\"{id}\""))
            .unwrap();
        let end = html[start..].find("</section>").unwrap() + start;
        html[start..end].to_string()
    };
    let spike = section("aaa1");
    assert_eq!(spike.matches("<svg class=\"series-chart\"").count(), 1);
    assert!(spike.contains("threshold: 40") && spike.contains("peak: 50"));
    assert!(spike.contains("weekday 03:00-04:00 UTC"));
    assert!(!section("bbb2").contains("series-chart"));
    // The chain, in order, linked to the members; a member not in the report is named.
    let seq = section("ccc3");
    let a = seq.find("<a href=\"#f-bbb2\">unusual-geo: unusual-geo &lt;b&gt;fired&lt;/b&gt;</a> <span class=\"step\">stage access</span>");
    let b = seq.find("<a href=\"#f-aaa1\">");
    let c = seq.find("&lt;old&gt; <span class=\"note\">(not in this report)</span>");
    assert!(a.is_some() && b.is_some() && c.is_some(), "{seq}");
    assert!(a < b && b < c);
    assert!(!seq.contains("<th scope=\"row\">chain</th>"));
    // Techniques link to their catalogues; unknown shapes stay text; titles are escaped.
    assert!(html.contains("href=\"https://attack.mitre.org/techniques/T1496/004/\""));
    assert!(html.contains("threat-technique-catalog-for-aws/Techniques/T1496.A007.html"));
    assert!(html.contains("href=\"https://atlas.mitre.org/techniques/AML.T0034\""));
    assert!(html.contains("<span class=\"technique\">&lt;x&gt;</span>"));
    assert!(!html.contains("<b>fired"));
    assert!(html.contains("<p class=\"description\">a &amp; b</p>"));
    // Nothing is loaded from anywhere.
    assert!(html.contains("default-src 'none'"));
    assert!(!html.contains("<script") && !html.contains("src=\"http"));
}

#[test]
fn caps_bound_the_recorder() {
    let engine = Engine::defaults(7 * 86_400).unwrap();
    let mut rec = Recorder::new(&engine).with_caps(2, 100);
    // One bucket per 15 minutes: 110 buckets of one series, then a second and a third
    // series (models) of one bucket each.
    let mut acts: Vec<Activity> = (0..110).map(|i| invoke(i * 900)).collect();
    for model in ["m2", "m3"] {
        acts.push(Activity {
            model_id: Some(model.into()),
            ..invoke(0)
        });
    }
    rec.observe(&acts);
    // 10 buckets over the bucket cap, the second series' new bucket too, the third series.
    assert_eq!(rec.dropped, 12);
    let sums = rec
        .window_sums("invoke-spike", KEY, MODEL, 0, 200 * 900)
        .unwrap();
    assert_eq!(sums.iter().map(|p| p.1).max(), Some(4));
    assert_eq!(sums.last().unwrap().1, 0);
    let html = page(&[], &rec, &engine);
    assert!(html.contains("12 time buckets were not recorded"));
    assert!(html.contains("<p class=\"none\">No findings.</p>"));
}
