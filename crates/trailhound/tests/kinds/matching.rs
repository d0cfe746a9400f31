//! `[match]`: error codes, globs, access key kinds, flags, and predicates on request
//! parameters and response elements, down to what decode extracts.

use super::*;

/// Whether a `rule` with this `[match]` body fires on `a`.
fn fires(matcher: &str, a: Activity) -> bool {
    let mut run = Run::new(&file("rule", "x", &format!("[match]\n{matcher}")));
    !run.apply(vec![a]).is_empty()
}

#[test]
fn match_error_codes_any_none_list_and_the_old_errors_flag() {
    let ok = act(T0, "InvokeModel");
    let denied = Activity {
        error_code: Some("AccessDenied".into()),
        ..act(T0, "InvokeModel")
    };
    let invalid = Activity {
        error_code: Some("ValidationException".into()),
        ..act(T0, "InvokeModel")
    };
    for (m, want) in [
        ("error_codes = \"any\"", [false, true, true]),
        ("error_codes = \"none\"", [true, false, false]),
        ("error_codes = [\"Access*\"]", [false, true, false]),
        (
            "error_codes = [\"ValidationException\", \"Throttling\"]",
            [false, false, true],
        ),
        ("errors = true", [false, true, true]),
        ("errors = false", [true, false, false]),
        ("", [true, true, true]),
    ] {
        let got = [&ok, &denied, &invalid].map(|a| fires(m, a.clone()));
        assert_eq!(got, want, "{m}");
    }
}

#[test]
fn match_globs_on_regions_principals_user_agents_models_and_event_names() {
    let a = Activity {
        region: "eu-west-1".into(),
        model_id: Some("anthropic.claude-3-haiku-20240307-v1:0".into()),
        user_agent: Some("Boto3/1.34 md/kali-linux".into()),
        ..Activity::new(T0, Source::Cloudtrail, BOT)
    };
    let a = Activity {
        event_name: "ListFoundationModels".into(),
        ..a
    };
    for (m, want) in [
        ("regions = [\"eu-*\"]", true),
        ("regions = [\"us-east-1\"]", false),
        // The principal key (the role) or the ARN as logged.
        ("principals = [\"arn:aws:iam::*:role/support-*\"]", true),
        ("principals = [\"*:assumed-role/*/botocore-*\"]", true),
        ("principals = [\"arn:aws:iam::*:user/*\"]", false),
        ("user_agents = [\"*kali*\"]", true),
        ("user_agents = [\"aws-cli/*\"]", false),
        ("model_ids = [\"anthropic.*\"]", true),
        ("model_ids = [\"amazon.titan-*\", \"meta.*\"]", false),
        ("event_names = [\"List*\"]", true),
        ("event_names = [\"ListFoundationModel\"]", false),
        ("principal_types = [\"AssumedRole\"]", true),
        ("principal_types = [\"IAMUser\", \"Root\"]", false),
    ] {
        assert_eq!(fires(m, a.clone()), want, "{m}");
    }
    // A glob on a value the activity does not have never matches.
    let bare = Activity::new(T0, Source::Invocation, ALICE);
    assert!(!fires("user_agents = [\"*\"]", bare.clone()));
    assert!(fires("principal_types = [\"IAMUser\"]", bare));
}

#[test]
fn match_access_key_kinds() {
    let with = |key: Option<&str>, principal: &str, bearer: bool| Activity {
        access_key_id: key.map(Into::into),
        bearer_token: bearer,
        ..Activity::new(T0, Source::Cloudtrail, principal)
    };
    let long = with(Some("AKIAIOSFODNN7EXAMPLE"), ALICE, false);
    let temp = with(Some("ASIAIOSFODNN7EXAMPLE"), BOT, false);
    // A short-term Bedrock API key signs with the session's key: the bearer flag decides.
    let short_api = with(Some("ASIAIOSFODNN7EXAMPLE"), BOT, true);
    let long_api = with(
        Some("AKIAIOSFODNN7EXAMPLE"),
        "arn:aws:iam::111122223333:user/BedrockAPIKey-826f",
        false,
    );
    let absk = with(Some("ABSKQmVkcm9ja0FQSUtleS0"), ALICE, false);
    let none = with(None, ALICE, false);
    let all = [&long, &temp, &short_api, &long_api, &absk, &none];
    for (m, want) in [
        (
            "access_keys = [\"long-term\"]",
            [true, false, false, false, false, false],
        ),
        (
            "access_keys = [\"temporary\"]",
            [false, true, false, false, false, false],
        ),
        (
            "access_keys = [\"bedrock-api-key\"]",
            [false, false, true, true, true, false],
        ),
        (
            "access_keys = [\"long-term\", \"bedrock-api-key\"]",
            [true, false, true, true, true, false],
        ),
    ] {
        assert_eq!(all.map(|a| fires(m, a.clone())), want, "{m}");
    }
    let (field, _) = load_error(&file("rule", "x", "[match]\naccess_keys = [\"root\"]"));
    assert!(field.contains("access_keys"), "{field}");
}

#[test]
fn match_guardrail_and_secret_flags() {
    let plain = Activity::new(T0, Source::Invocation, ALICE);
    let blocked = Activity {
        guardrail_intervened: true,
        ..plain.clone()
    };
    let secret = Activity {
        secret: Some(("aws-access-key", "AKIA****************".into())),
        ..plain.clone()
    };
    let all = [&plain, &blocked, &secret];
    assert_eq!(
        all.map(|a| fires("guardrail_intervened = true", a.clone())),
        [false, true, false]
    );
    assert_eq!(
        all.map(|a| fires("guardrail_intervened = false", a.clone())),
        [true, false, true]
    );
    assert_eq!(
        all.map(|a| fires("secret_found = true", a.clone())),
        [false, false, true]
    );
    assert_eq!(
        all.map(|a| fires("sources = [\"cloudtrail\"]", a.clone())),
        [false; 3]
    );
}

#[test]
fn match_params_by_path_with_globs_values_wildcards_and_exclusions() {
    let run = |instance: &str| Activity {
        event_source: "ec2.amazonaws.com".into(),
        params: vec![param("requestParameters.instanceType", text(instance))],
        ..act(T0, "RunInstances")
    };
    let gpu = "[[match.params]]\npath = \"requestParameters.instanceType\"\nglob = \"p*.*\"";
    assert!(fires(gpu, run("p4d.24xlarge")));
    assert!(!fires(gpu, run("t3.micro")));
    assert!(!fires(gpu, act(T0, "RunInstances")), "no value at the path");
    let list =
        "[[match.params]]\npath = \"requestParameters.instanceType\"\nglob = [\"g5.*\", \"p5.*\"]";
    assert!(fires(list, run("g5.xlarge")) && !fires(list, run("p4d.24xlarge")));

    // `[*]`: any element satisfies; booleans and numbers compare as values.
    let path = "requestParameters.eventSelectors[*].includeManagementEvents";
    let selectors = |v: &[bool]| Activity {
        params: v.iter().map(|b| param(path, Scalar::Bool(*b))).collect(),
        ..act(T0, "PutEventSelectors")
    };
    let off = format!("[[match.params]]\npath = \"{path}\"\nequals = false");
    assert!(fires(&off, selectors(&[true, false])));
    assert!(!fires(&off, selectors(&[true, true])));
    let absent = format!("[[match.params]]\npath = \"{path}\"\nexists = false");
    assert!(fires(&absent, selectors(&[])) && !fires(&absent, selectors(&[true])));
    let count = Activity {
        params: vec![param("requestParameters.maxCount", Scalar::Num(8.0))],
        ..act(T0, "RunInstances")
    };
    assert!(fires(
        "[[match.params]]\npath = \"requestParameters.maxCount\"\nequals = 8",
        count.clone()
    ));
    assert!(!fires(
        "[[match.params]]\npath = \"requestParameters.maxCount\"\nequals = \"8\"",
        count
    ));

    // Every predicate must hold; `[match.exclude]` leaves out what it matches.
    let both =
        format!("{gpu}\n[[match.params]]\npath = \"requestParameters.region\"\nexists = true");
    assert!(!fires(&both, run("p4d.24xlarge")));
    let approved =
        "event_names = [\"InvokeModel\"]\n[match.exclude]\nmodel_ids = [\"anthropic.claude-3-*\"]";
    let invoke = |m: &str| Activity {
        model_id: Some(m.into()),
        ..act(T0, "InvokeModel")
    };
    assert!(fires(approved, invoke("deepseek.r1-v1:0")));
    assert!(!fires(
        approved,
        invoke("anthropic.claude-3-haiku-20240307-v1:0")
    ));
}

#[test]
fn match_errors_name_the_field() {
    for (matcher, field) in [
        ("error_codes = \"some\"", "match.error_codes"),
        ("error_codes = \"any\"\nerrors = true", "match.errors"),
        (
            "[[match.params]]\npath = \"instanceType\"\nglob = \"p*\"",
            "match.params.path",
        ),
        (
            "[[match.params]]\npath = \"requestParameters.a[0]\"\nexists = true",
            "match.params.path",
        ),
        (
            "[[match.params]]\npath = \"requestParameters.a\"\nglob = \"x\"\nequals = 1",
            "match.params",
        ),
        (
            "[[match.params]]\npath = \"requestParameters.a\"\nequals = [[1]]",
            "match.params",
        ),
        (
            "[match.exclude]\nerror_codes = \"all\"",
            "match.exclude.error_codes",
        ),
    ] {
        // The error names the `[match]` table; its reason, the field within it.
        let (got, reason) = load_error(&file("rule", "x", &format!("[match]\n{matcher}")));
        assert!(got.starts_with("match"), "{matcher}: {got}: {reason}");
        assert!(
            reason.contains(&format!("`{field}`")),
            "{matcher}: {reason}"
        );
    }
}

const CT_KEY: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/01/111122223333_CloudTrail_us-east-1_20261001T0000Z_abc.json.gz";

fn decode(text: &str, paths: Arc<Paths>) -> Vec<Activity> {
    let geo = Geo::none();
    let mut norm = Normalizer::new(&geo).with_paths(paths);
    let mut acts = Vec::new();
    let obj = ObjectRef::local(CT_KEY);
    decode_object(
        &obj,
        classify(CT_KEY),
        text.as_bytes(),
        &Limits::default(),
        &mut norm,
        &mut acts,
    )
    .unwrap();
    acts
}

fn ct_record(name: &str, params: &str, extra: &str) -> String {
    format!(
        r#"{{"eventTime":"2026-10-01T00:00:10Z","eventSource":"cloudtrail.amazonaws.com","eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"3.218.54.201","userIdentity":{{"type":"IAMUser","arn":"{ALICE}","accountId":"111122223333","accessKeyId":"{KEY}"}},"requestParameters":{params}{extra}}}"#
    )
}

#[test]
fn decode_extracts_the_declared_paths_only_for_the_events_that_need_them() {
    let text = file(
        "rule",
        "{principal_name} stopped logging on {param:requestParameters.name}",
        "[match]\nevent_names = [\"StopLogging\", \"PutEventSelectors\"]\n[[match.params]]\npath = \"requestParameters.eventSelectors[*].includeManagementEvents\"\nequals = false\n[match.exclude]\nevent_names = [\"PutEventSelectors\"]\n[[match.exclude.params]]\npath = \"responseElements.trailARN\"\nexists = false",
    );
    let mut run = Run::new(&text);
    let paths = declared_paths(run.engine.specs());
    assert_eq!(paths.len(), 3, "{paths:?}");
    assert!(paths.wants("StopLogging") && !paths.wants("InvokeModel"));
    let doc = format!(
        r#"{{"Records":[{},{},{}]}}"#,
        ct_record(
            "StopLogging",
            r#"{"name":"main","eventSelectors":[{"includeManagementEvents":false}],"other":{"deep":[1,2,3]}}"#,
            r#","responseElements":{"trailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/main"}"#
        ),
        ct_record("ListTrails", r#"{"name":"main"}"#, ""),
        ct_record(
            "StopLogging",
            r#"{"name":"audit","eventSelectors":[{"includeManagementEvents":true}]}"#,
            r#","additionalEventData":{"callWithBearerToken":true}"#
        ),
    );
    let acts = decode(&doc, paths.clone());
    assert_eq!(acts.len(), 3);
    let name = PathId::of("requestParameters.name");
    let first: Vec<String> = acts[0].param(name).map(|v| v.to_text()).collect();
    assert_eq!(first, ["main"]);
    assert_eq!(acts[0].params.len(), 3, "{:?}", acts[0].params);
    assert!(acts[1].params.is_empty(), "ListTrails needs no path");
    assert!(acts[2].bearer_token && !acts[0].bearer_token);
    // Without the engine's paths nothing is extracted.
    assert!(
        decode(&doc, Arc::default())
            .iter()
            .all(|a| a.params.is_empty())
    );

    let touched = run.apply(acts);
    assert_eq!(
        touched.len(),
        1,
        "only the trail whose management events were turned off"
    );
    let f = &touched[0];
    assert_eq!(f.title, "alice stopped logging on main");
    assert_eq!(
        f.evidence["params"]["requestParameters.name"],
        serde_json::json!(["main"])
    );
}

#[test]
fn paths_parse_extract_and_are_capped() {
    for bad in [
        "instanceType",
        "requestParameters..x",
        "requestParameters.a[0]",
        "requestParameters[*].a",
        "requestParameters.a b",
        "requestParameters.*",
    ] {
        assert!(JsonPath::parse(bad).is_err(), "{bad}");
    }
    let decl = |p: &str| (JsonPath::parse(p).unwrap(), None);
    let items: Vec<String> = (0..100).map(|i| format!("{{\"id\":\"i-{i}\"}}")).collect();
    let doc = format!(
        r#"{{"Records":[{}]}}"#,
        ct_record(
            "RunInstances",
            r#"{"e":"a\"b","n":8.5,"z":null,"o":{"k":1}}"#,
            &format!(
                r#","responseElements":{{"instancesSet":{{"items":[{}]}}}}"#,
                items.join(",")
            )
        )
    );
    let paths = Arc::new(Paths::new(
        [
            "responseElements.instancesSet.items[*].id",
            "requestParameters.e",
            "requestParameters.n",
            "requestParameters.z",
            "requestParameters.o",
        ]
        .map(decl),
    ));
    let acts = decode(&doc, paths);
    let got =
        |p: &str| -> Vec<String> { acts[0].param(PathId::of(p)).map(|v| v.to_text()).collect() };
    assert_eq!(got("requestParameters.e"), ["a\"b"]);
    assert_eq!(got("requestParameters.n"), ["8.5"]);
    assert_eq!(got("requestParameters.z"), ["null"]);
    assert_eq!(got("requestParameters.o"), ["(object)"]);
    let ids = got("responseElements.instancesSet.items[*].id");
    assert_eq!(acts[0].params.len(), 32, "capped per record");
    assert_eq!((ids.len(), ids[0].as_str()), (28, "i-0"));
}
