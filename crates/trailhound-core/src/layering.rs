//! The data flow as a test: each module of this crate may name only modules at its own
//! rank or below (`crate::<module>` anywhere in its sources, doc links included). An import
//! back up (say, `state` naming `alert`) fails here with the file and line.

/// Modules by rank; a module may use modules of a lower or equal rank.
const RANKS: &[(&str, u8)] = &[
    ("centroids", 0),
    ("concat", 0),
    ("finding", 0),
    ("geo", 0),
    ("time", 0),
    ("test_rng", 0), // the unit tests' random inputs (test builds only)
    ("ingest", 1),
    ("record", 2),
    ("activity", 3),
    ("prices", 3),
    ("state", 4),
    ("detect", 5),
    ("alert", 6),
    ("events", 7),
    ("pipeline", 7),
];

fn rank(module: &str) -> Option<u8> {
    RANKS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn modules_import_only_downstream_of_the_data_flow() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut violations = Vec::new();
    let mut checked = 0;
    for f in files {
        let rel = f
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let module = rel.split('/').next().unwrap().trim_end_matches(".rs");
        let Some(own) = rank(module) else {
            assert!(
                matches!(module, "lib" | "layering"),
                "{rel}: module `{module}` has no rank in layering.rs: give it one"
            );
            continue;
        };
        checked += 1;
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            for (i, _) in line.match_indices("crate::") {
                let name: String = line[i + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if let Some(r) = rank(&name)
                    && r > own
                {
                    violations.push(format!("{rel}:{}: `{module}` uses `{name}`", n + 1));
                }
            }
        }
    }
    assert!(checked > 20, "only {checked} files checked");
    assert!(
        violations.is_empty(),
        "imports against the data flow:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_check_sees_an_import_back_up() {
    assert!(rank("alert") > rank("state"));
    assert!(rank("activity") > rank("record"));
}
