use super::*;

fn filter(toml_text: &str) -> Result<Filter, String> {
    let s: FilterSpec = toml::from_str(toml_text).map_err(|e| e.message().to_string())?;
    Filter::compile(&s, "match")
}

fn with(event: &str, path: &str, v: &str) -> Activity {
    let mut a = Activity::new(0, Source::Cloudtrail, "arn:aws:iam::111122223333:user/a");
    a.event_name = event.into();
    let id = JsonPath::parse(path).unwrap().id();
    a.params.push((id, Scalar::Str(v.into())));
    a
}

const TRAIN: &str = "requestParameters.trainingDataConfig.s3Uri";
const INPUT: &str = "requestParameters.inputDataConfig[*].dataSource.s3DataSource.s3Uri";

const ANY_OF: &str = r#"
event_sources = ["bedrock.amazonaws.com", "sagemaker.amazonaws.com"]
[[any_of]]
event_names = ["CreateModelCustomizationJob"]
params = [{ path = "requestParameters.trainingDataConfig.s3Uri", glob = "s3://*" }]
[[any_of]]
params = [{ path = "requestParameters.inputDataConfig[*].dataSource.s3DataSource.s3Uri", exists = true }]
"#;

#[test]
fn any_of_is_an_or_of_groups() {
    let f = filter(ANY_OF).unwrap();
    let src = |mut a: Activity, s: &str| {
        a.event_source = s.into();
        a
    };
    let bedrock = "bedrock.amazonaws.com";
    let train = src(
        with("CreateModelCustomizationJob", TRAIN, "s3://b/p/"),
        bedrock,
    );
    let input = src(
        with("CreateTrainingJob", INPUT, "s3://b/x"),
        "sagemaker.amazonaws.com",
    );
    // The first group names its event: the training path on another event is not it.
    let wrong_event = src(with("CreateTrainingJob", TRAIN, "s3://b/p/"), bedrock);
    let neither = src(
        with("CreateModelCustomizationJob", TRAIN, "file:///x"),
        bedrock,
    );
    let other_source = with("CreateModelCustomizationJob", TRAIN, "s3://b/p/");
    assert_eq!(
        [&train, &input, &wrong_event, &neither, &other_source].map(|a| f.matches(a)),
        [true, true, false, false, false]
    );
    // Paths: the named group's on its event, the unnamed group's on any.
    let declared: Vec<(String, Option<Vec<String>>)> = f
        .declared()
        .iter()
        .map(|(p, e)| (p.text.clone(), e.clone()))
        .collect();
    assert_eq!(
        declared,
        [
            (
                TRAIN.to_string(),
                Some(vec!["CreateModelCustomizationJob".to_string()])
            ),
            (INPUT.to_string(), None),
        ]
    );
}

#[test]
fn exclusion_paths_are_scoped_to_the_events_that_reach_them() {
    let f = filter(
        r#"
event_names = ["CreateTrainingJob"]
[exclude]
params = [{ path = "requestParameters.roleArn", glob = "*:role/trusted-*" }]
"#,
    )
    .unwrap();
    assert_eq!(
        f.declared()[0].1,
        Some(vec!["CreateTrainingJob".to_string()])
    );
    let trusted = with(
        "CreateTrainingJob",
        "requestParameters.roleArn",
        "arn:aws:iam::1:role/trusted-ml",
    );
    let other = with(
        "CreateTrainingJob",
        "requestParameters.roleArn",
        "arn:aws:iam::1:role/x",
    );
    assert_eq!([&trusted, &other].map(|a| f.matches(a)), [false, true]);
    // An exclusion that names its events is extracted only on them.
    let f = filter(
        r#"
[exclude]
event_names = ["GetObject"]
params = [{ path = "requestParameters.key", glob = "public/*" }]
"#,
    )
    .unwrap();
    assert_eq!(f.declared()[0].1, Some(vec!["GetObject".to_string()]));
}

#[test]
fn malformed_any_of_is_an_error_naming_the_field() {
    assert_eq!(
        filter("any_of = []").unwrap_err(),
        "`match.any_of`: an empty list matches nothing: remove it or add groups"
    );
    assert_eq!(
        filter("[[any_of]]\nevent_names = [\"A\"]\n[[any_of]]\n").unwrap_err(),
        "`match.any_of[1]`: the group has no condition, so it matches everything: give it fields or params"
    );
    let e = filter("[[any_of]]\nparams = [{ path = \"requestParameters.x\" }]").unwrap_err();
    assert_eq!(
        e,
        "`match.any_of[0].params`: `requestParameters.x`: give exactly one of equals, glob, exists"
    );
    assert!(
        filter("[[any_of]]\nevent_namez = [\"A\"]")
            .unwrap_err()
            .contains("event_namez")
    );
}

/// A memo keyed by addresses gives the answers the plain match gives, for the same `Arc`
/// seen again, for equal text behind another `Arc`, and inside `exclude` and `any_of`.
#[test]
fn memoized_pattern_results_equal_plain_ones() {
    let f = filter(
        r#"
user_agents = ["*kali*", "*TruffleHog*"]
principals = ["arn:*:iam::*:user/*"]
[exclude]
user_agents = ["*excluded*"]
"#,
    )
    .unwrap();
    let ua = |a: &mut Activity, s: &str| a.user_agent = Some(Arc::from(s));
    let mut acts = Vec::new();
    for s in [
        "aws-cli/2.15 md/distrib#kali.2024",
        "Boto3/1.34 Python/3.11",
        "TruffleHog",
        "kali excluded",
        "aws-cli/2.15 md/distrib#kali.2024",
    ] {
        let mut a = Activity::new(0, Source::Cloudtrail, "arn:aws:iam::111122223333:user/a");
        ua(&mut a, s);
        acts.push(a);
    }
    let mut role = Activity::new(0, Source::Cloudtrail, "arn:aws:iam::111122223333:role/r");
    ua(&mut role, "TruffleHog");
    acts.push(role);
    // The same Arc on two activities (as the normalizer interns it).
    let shared = acts[2].clone();
    acts.push(shared);
    let plain: Vec<bool> = acts.iter().map(|a| f.matches(a)).collect();
    assert_eq!(plain, [true, false, true, false, true, false, true]);
    let mut memo = Memo::new();
    for _ in 0..2 {
        let memoized: Vec<bool> = acts
            .iter()
            .map(|a| f.matches_given_kind(a, &mut memo))
            .collect();
        assert_eq!(memoized, plain);
    }
}
