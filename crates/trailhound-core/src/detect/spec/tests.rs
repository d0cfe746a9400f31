use super::*;

const MIN: &str = "id = \"x\"\ntype = \"A:B/C\"\nseverity = 5.0\nkind = \"new-value\"\ntitle = \"{principal_name} from {value}\"\ndescription = \"d\"\n";

fn field(text: &str) -> (String, String) {
    let e = Spec::parse("x.toml", text).unwrap_err();
    (e.field, e.reason)
}

#[test]
fn technique_ids_and_placeholders() {
    for ok in ["T1496", "T1496.004", "T1496.A007"] {
        assert!(attack_id(ok), "{ok}");
    }
    for bad in [
        "T149",
        "T14960",
        "T1496.4",
        "T1496.B007",
        "t1496",
        "AML.T0034",
        "T1496.",
    ] {
        assert!(!attack_id(bad), "{bad}");
    }
    assert!(atlas_id("AML.T0034") && atlas_id("AML.T0024.002"));
    assert!(!atlas_id("AML.TA0002") && !atlas_id("T0034") && !atlas_id("AML.T0024.2"));
    let found: Vec<&str> = placeholders("{a} {b_1} {not one} {{c}} {} { d").collect();
    assert_eq!(found, ["a", "b_1"]);
}

#[test]
fn errors_name_the_key_they_are_about() {
    assert_eq!(field(&MIN.replace("5.0", "\"high\"")).0, "severity");
    assert_eq!(
        field(&format!("{MIN}[match]\nsourcez = [\"x\"]\n")).0,
        "match.sourcez"
    );
    assert_eq!(field(&MIN.replace("kind = \"new-value\"\n", "")).0, "kind");
    let (f, r) = field(&MIN.replace("{value}", "{valu}"));
    assert_eq!(
        (f.as_str(), r.as_str()),
        (
            "title",
            "unknown placeholder {valu} (known: principal_name, field, value, known)"
        )
    );
    let long = format!("{MIN}subject = \"{}\"\n", "x".repeat(90));
    assert_eq!(field(&long).0, "subject");
    let ok = format!("{MIN}subject = \"{{principal_name}} {}\"\n", "x".repeat(70));
    assert!(Spec::parse("x.toml", &ok).is_ok());
    let (f, _) = field(&format!("{MIN}[[test]]\nname = \"n\"\nexpect = 3\n"));
    assert_eq!(f, "test[0].expect");
}

#[test]
fn suppressions_need_a_reason_and_expire_by_event_time() {
    let sup = |body: &str| format!("{MIN}[[suppress]]\n{body}\n");
    assert_eq!(
        field(&sup("principals = [\"*\"]")),
        (
            "suppress[0].reason".to_string(),
            "missing field `reason` (line 6)".to_string()
        )
    );
    assert_eq!(
        field(&sup("reason = \" \"\nprincipals = [\"*\"]")).0,
        "suppress[0].reason"
    );
    let (f, r) = field(&sup(
        "reason = \"r\"\nprincipals = [\"*\"]\nexpires = \"soon\"",
    ));
    assert_eq!(f, "suppress[0].expires");
    assert!(r.contains("`soon` is not an RFC 3339 date"), "{r}");
    let spec = Spec::parse(
        "x.toml",
        &sup("reason = \"r\"\nprincipals = [\"*\"]\nexpires = \"2026-10-02\""),
    )
    .unwrap();
    let s = CompiledSuppression::compile(&spec.suppress[0]).unwrap();
    let at = |t: &str| {
        Activity::new(
            crate::time::parse(t).unwrap(),
            crate::activity::Source::Cloudtrail,
            "arn:aws:iam::111122223333:user/a",
        )
    };
    assert!(s.matches(&at("2026-10-01T23:59:59Z")));
    assert!(!s.matches(&at("2026-10-02T00:00:00Z")));
    let dt = Spec::parse(
        "x.toml",
        &sup("reason = \"r\"\nprincipals = [\"*\"]\nexpires = \"2026-10-02T12:00:00Z\""),
    )
    .unwrap();
    let s = CompiledSuppression::compile(&dt.suppress[0]).unwrap();
    assert!(s.matches(&at("2026-10-02T11:00:00Z")) && !s.matches(&at("2026-10-02T12:00:00Z")));
}

/// Loading to run cuts the file before its tests only when nothing but test tables follow,
/// and reads the same rule either way; a bad case fails `parse`, not `parse_rule`.
#[test]
fn rules_load_without_their_tests() {
    let case = "[[test]]\nname = \"n\"\nexpect = \"quiet\"\nevents = [{ at = \"+1h\" }]\n[test.template]\neventName = \"X\"\n";
    let file = format!("{MIN}{case}");
    assert_eq!(before_tests(&file), Some(MIN));
    // A table after the tests belongs to the rule: the whole file is read.
    let later = format!("{file}[match]\nevent_names = [\"X\"]\n");
    assert_eq!(before_tests(&later), None);
    let spec = Spec::parse_rule("x.toml", &later).unwrap();
    assert_eq!(
        format!("{:?}", spec.filter),
        format!("{:?}", Spec::parse("x.toml", &later).unwrap().filter)
    );
    assert!(format!("{:?}", spec.filter).contains("\"X\""));
    assert!(spec.tests.is_empty());
    // An array continued on a line of its own after the tests: the whole file too.
    assert_eq!(before_tests(&format!("{file}x = [\n[1],\n]\n")), None);
    // A `[[test]]` line inside a multi-line string: the cut text does not parse, and the
    // whole file is read.
    let quoted = MIN.replace(
        "description = \"d\"",
        "description = \"\"\"d\n[[test]]\n\"\"\"",
    );
    assert!(
        Spec::parse_rule("x.toml", &quoted)
            .unwrap()
            .description
            .contains("[[test]]")
    );
    // A case that does not parse: the rule loads, the full parse names the case.
    let bad = format!("{MIN}[[test]]\nname = \"n\"\nexpect = \"sometimes\"\n");
    assert!(Spec::parse_rule("x.toml", &bad).is_ok());
    assert!(
        Spec::parse("x.toml", &bad)
            .unwrap_err()
            .field
            .starts_with("test")
    );
    assert_eq!(Spec::parse("x.toml", &file).unwrap().tests.len(), 1);
}
