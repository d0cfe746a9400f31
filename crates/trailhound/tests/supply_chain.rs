//! The supply-chain policy `supply-chain/policy.toml`, checked offline: this project's
//! equivalent of `cargo deny check licenses bans advisories` (issue 10). Licenses come from
//! `cargo metadata --locked --offline`; bans and advisories are checked on Cargo.lock, the
//! advisories against the vendored RustSec snapshot `supply-chain/advisories/` (refreshed by
//! `scripts/advisories.sh`, source and commit in its SOURCE.md).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use semver::{Version, VersionReq};
use serde::Deserialize;

const POLICY: &str = "supply-chain/policy.toml";
const SNAPSHOT: &str = "supply-chain/advisories";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

// ---------------------------------------------------------------------------------------
// The policy file

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Policy {
    licenses: Licenses,
    bans: Bans,
    advisories: Advisories,
}
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Licenses {
    allow: Vec<String>,
    #[serde(default)]
    exceptions: Vec<Exception>,
}
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Exception {
    name: String,
    version: Option<String>,
    allow: Vec<String>,
    reason: String,
}
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Bans {
    #[serde(default)]
    deny: Vec<Ban>,
}
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ban {
    name: String,
    version: Option<String>,
    reason: String,
}
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advisories {
    #[serde(default)]
    ignore: Vec<Ignore>,
}
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ignore {
    id: String,
    reason: String,
}

/// The policy, with every `reason` present and every `version` a valid requirement.
fn policy() -> Policy {
    let path = root().join(POLICY);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{POLICY}: {e}"));
    let policy: Policy = toml::from_str(&text).unwrap_or_else(|e| panic!("{POLICY}: {e}"));
    let mut problems = Vec::new();
    let mut check = |table: &str, name: &str, reason: &str, version: &Option<String>| {
        if reason.trim().is_empty() {
            problems.push(format!("{table} {name}: empty `reason`"));
        }
        if let Some(Err(e)) = version.as_deref().map(VersionReq::parse) {
            problems.push(format!("{table} {name}: version {version:?}: {e}"));
        }
    };
    for e in &policy.licenses.exceptions {
        check("[licenses] exceptions", &e.name, &e.reason, &e.version);
    }
    for b in &policy.bans.deny {
        check("[bans] deny", &b.name, &b.reason, &b.version);
    }
    for i in &policy.advisories.ignore {
        check("[advisories] ignore", &i.id, &i.reason, &None);
    }
    let report = problems.join("\n  ");
    assert!(problems.is_empty(), "{POLICY}:\n  {report}");
    policy
}

/// `None` (no requirement) matches every version.
fn req_matches(req: Option<&String>, version: &Version) -> bool {
    req.is_none_or(|r| VersionReq::parse(r).is_ok_and(|r| r.matches(version)))
}

/// The `[[package]]` names and versions of Cargo.lock.
fn lock_packages() -> Vec<(String, Version)> {
    #[derive(Deserialize)]
    struct Lock {
        package: Vec<Package>,
    }
    #[derive(Deserialize)]
    struct Package {
        name: String,
        version: String,
    }
    let text = fs::read_to_string(root().join("Cargo.lock")).expect("Cargo.lock");
    let lock: Lock = toml::from_str(&text).expect("Cargo.lock parses");
    let packages: Vec<_> = lock
        .package
        .into_iter()
        .map(|p| {
            let v = Version::parse(&p.version)
                .unwrap_or_else(|e| panic!("Cargo.lock: {} {}: {e}", p.name, p.version));
            (p.name, v)
        })
        .collect();
    let n = packages.len();
    assert!(n > 100, "Cargo.lock: {n} packages");
    packages
}

// ---------------------------------------------------------------------------------------
// Licenses

/// Whether the SPDX expression `expr` can be satisfied with the ids `allowed` accepts:
/// `OR` (and the legacy `/`) needs one side, `AND` both, `X WITH exception` needs X.
/// Precedence WITH > AND > OR; parentheses group. Operators match in any case.
fn spdx_satisfied(expr: &str, allowed: &dyn Fn(&str) -> bool) -> Result<bool, String> {
    let spaced = expr.replace('(', " ( ").replace(')', " ) ");
    let spaced = spaced.replace('/', " / ");
    let mut p = Spdx {
        toks: spaced.split_whitespace().collect(),
        pos: 0,
        allowed,
    };
    let v = p.or()?;
    match p.toks.get(p.pos) {
        None => Ok(v),
        Some(t) => Err(format!("unexpected {t:?} in {expr:?}")),
    }
}

struct Spdx<'a> {
    toks: Vec<&'a str>,
    pos: usize,
    allowed: &'a dyn Fn(&str) -> bool,
}

type Operand<'a> = fn(&mut Spdx<'a>) -> Result<bool, String>;

impl<'a> Spdx<'a> {
    fn at(&self, op: &str) -> bool {
        self.toks
            .get(self.pos)
            .is_some_and(|t| t.eq_ignore_ascii_case(op))
    }

    /// `a OP b OP …` for OP in `ops`, operands parsed by `operand`; `any`: OR, else AND.
    fn list(&mut self, ops: &[&str], operand: Operand<'a>, any: bool) -> Result<bool, String> {
        let mut v = operand(self)?;
        while ops.iter().any(|o| self.at(o)) {
            self.pos += 1;
            let rhs = operand(self)?;
            v = if any { v || rhs } else { v && rhs };
        }
        Ok(v)
    }

    fn or(&mut self) -> Result<bool, String> {
        self.list(&["OR", "/"], Self::and, true)
    }

    fn and(&mut self) -> Result<bool, String> {
        self.list(&["AND"], Self::with, false)
    }

    fn with(&mut self) -> Result<bool, String> {
        let v = self.primary()?;
        if self.at("WITH") {
            self.pos += 1;
            self.id()?; // the exception: acceptable whenever the license is
        }
        Ok(v)
    }

    fn primary(&mut self) -> Result<bool, String> {
        if self.at("(") {
            self.pos += 1;
            let v = self.or()?;
            if !self.at(")") {
                return Err("unbalanced parenthesis".into());
            }
            self.pos += 1;
            return Ok(v);
        }
        let id = self.id()?;
        Ok((self.allowed)(id))
    }

    fn id(&mut self) -> Result<&'a str, String> {
        let t = *self.toks.get(self.pos).ok_or("expression ends early")?;
        let is_op = |o: &&str| t.eq_ignore_ascii_case(o);
        let id_char = |c: char| c.is_ascii_alphanumeric() || "-.+:".contains(c);
        if ["(", ")", "/", "AND", "OR", "WITH"].iter().any(is_op) || !t.chars().all(id_char) {
            return Err(format!("expected a license id, found {t:?}"));
        }
        self.pos += 1;
        Ok(t)
    }
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<MetaPackage>,
}

#[derive(Deserialize)]
struct MetaPackage {
    name: String,
    version: String,
    license: Option<String>,
    license_file: Option<String>,
}

#[test]
fn licenses_are_allowed() {
    let policy = policy();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .current_dir(root())
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata --locked --offline failed (Cargo.lock out of date, or a crate not \
         downloaded: run `cargo fetch`):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Metadata = serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
    let n = meta.packages.len();
    assert!(n > 100, "cargo metadata: {n} packages");

    let mut bad = Vec::new();
    for p in &meta.packages {
        let version = Version::parse(&p.version).expect("cargo metadata: a semver version");
        let exceptions: Vec<&Exception> = (policy.licenses.exceptions.iter())
            .filter(|e| e.name == p.name && req_matches(e.version.as_ref(), &version))
            .collect();
        let Some(expr) = &p.license else {
            if exceptions.is_empty() {
                let file = p.license_file.as_deref().unwrap_or("none either");
                bad.push(format!(
                    "{} {}: no SPDX `license` field (license-file: {file})",
                    p.name, p.version
                ));
            }
            continue;
        };
        let allowed = |id: &str| {
            let ok = |a: &String| a.eq_ignore_ascii_case(id);
            policy.licenses.allow.iter().any(ok)
                || exceptions.iter().any(|e| e.allow.iter().any(ok))
        };
        match spdx_satisfied(expr, &allowed) {
            Ok(true) => {}
            Ok(false) => bad.push(format!("{} {}: {expr}", p.name, p.version)),
            Err(e) => bad.push(format!("{} {}: unparsable license: {e}", p.name, p.version)),
        }
    }
    for e in &policy.licenses.exceptions {
        if meta.packages.iter().all(|p| p.name != e.name) {
            eprintln!("warning: {POLICY}: unused exception {}", e.name);
        }
    }
    assert!(
        bad.is_empty(),
        "{} crates have a license {POLICY} does not accept:\n  {}\nFix: replace the crate, \
         or, after reading its license, add the SPDX id to [licenses] allow (with a comment \
         saying why and which crates need it) or add a per-crate entry to [licenses] \
         exceptions with a `reason`.",
        bad.len(),
        bad.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------
// Bans

#[test]
fn banned_crates_are_absent() {
    let policy = policy();
    let mut hits = Vec::new();
    for (name, version) in lock_packages() {
        for ban in policy.bans.deny.iter().filter(|b| b.name == name) {
            if req_matches(ban.version.as_ref(), &version) {
                let range = ban.version.as_deref().unwrap_or("any version");
                let reason = &ban.reason;
                hits.push(format!("{name} {version} (banned: {range}): {reason}"));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "Cargo.lock holds crates {POLICY} bans:\n  {}\nSee what pulls one in with \
         `cargo tree -i NAME@VERSION --workspace -e all` and remove it.",
        hits.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------
// Advisories

/// One vendored advisory, its version requirements parsed.
#[derive(Debug)]
struct Advisory {
    file: String,
    id: String,
    package: String,
    informational: Option<String>,
    withdrawn: bool,
    title: String,
    patched: Vec<(String, VersionReq)>,
    unaffected: Vec<VersionReq>,
}

impl Advisory {
    /// Affected: matched by no `patched` and no `unaffected` requirement (so an advisory
    /// with neither affects every version).
    fn affects(&self, v: &Version) -> bool {
        !self.patched.iter().any(|(_, r)| r.matches(v))
            && !self.unaffected.iter().any(|r| r.matches(v))
    }
}

/// Parses a RustSec advisory (markdown, a ```toml front-matter block first, then the
/// `# title`). Every version requirement must parse; errors name the file.
fn parse_advisory(file: &str, text: &str) -> Result<Advisory, String> {
    #[derive(Deserialize)]
    struct Front {
        advisory: Meta,
        #[serde(default)]
        versions: Versions,
    }
    #[derive(Deserialize)]
    struct Meta {
        id: String,
        package: String,
        informational: Option<String>,
        withdrawn: Option<toml::Value>,
    }
    #[derive(Default, Deserialize)]
    struct Versions {
        #[serde(default)]
        patched: Vec<String>,
        #[serde(default)]
        unaffected: Vec<String>,
    }
    let mut lines = text.lines();
    if !lines.by_ref().any(|l| l.trim() == "```toml") {
        return Err(format!("{file}: no ```toml front matter"));
    }
    let front: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
    let title = lines
        .find_map(|l| l.strip_prefix("# "))
        .unwrap_or("(untitled)");
    let front: Front = toml::from_str(&front.join("\n")).map_err(|e| format!("{file}: {e}"))?;
    let parse = |r: &String| {
        VersionReq::parse(r).map_err(|e| format!("{file}: version requirement {r:?}: {e}"))
    };
    let patched = (front.versions.patched.iter())
        .map(|r| Ok((r.clone(), parse(r)?)))
        .collect::<Result<_, String>>()?;
    let unaffected = front.versions.unaffected.iter().map(parse);
    let unaffected = unaffected.collect::<Result<_, _>>()?;
    Ok(Advisory {
        file: file.to_string(),
        id: front.advisory.id,
        package: front.advisory.package,
        informational: front.advisory.informational,
        withdrawn: front.advisory.withdrawn.is_some(),
        title: title.trim().to_string(),
        patched,
        unaffected,
    })
}

/// Every advisory of the snapshot, and the problems found reading it.
fn snapshot() -> (Vec<Advisory>, Vec<String>) {
    let crates = root().join(SNAPSHOT).join("crates");
    let (mut advisories, mut problems) = (Vec::new(), Vec::new());
    let dirs = fs::read_dir(&crates).unwrap_or_else(|e| panic!("{SNAPSHOT}/crates: {e}"));
    for dir in dirs.map(|d| d.unwrap().path()) {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        for path in fs::read_dir(&dir).unwrap().map(|f| f.unwrap().path()) {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let file = format!("{SNAPSHOT}/crates/{name}/{stem}.md");
            if path.extension().is_none_or(|e| e != "md") {
                problems.push(format!("{file}: not an advisory (.md)"));
                continue;
            }
            let text = fs::read_to_string(&path).unwrap();
            match parse_advisory(&file, &text) {
                Ok(a) if a.id != stem || a.package != name => problems.push(format!(
                    "{file}: its front matter says {} for {}",
                    a.id, a.package
                )),
                Ok(a) => advisories.push(a),
                Err(e) => problems.push(e),
            }
        }
    }
    advisories.sort_by(|a, b| a.file.cmp(&b.file));
    (advisories, problems)
}

#[test]
fn no_known_advisories() {
    let policy = policy();
    let lock = lock_packages();
    let (advisories, mut problems) = snapshot();

    // The snapshot holds advisories only for the crate names Cargo.lock had when it was
    // taken: a crate added since then would pass unchecked.
    let covered = fs::read_to_string(root().join(SNAPSHOT).join("lock-crates.txt"))
        .unwrap_or_else(|e| panic!("{SNAPSHOT}/lock-crates.txt: {e}"));
    let covered: BTreeSet<&str> = covered.lines().collect();
    let uncovered: BTreeSet<&str> = (lock.iter().map(|(n, _)| n.as_str()))
        .filter(|n| !covered.contains(n))
        .collect();
    if !uncovered.is_empty() {
        problems.push(format!(
            "Cargo.lock names crates the advisory snapshot was not taken for: {uncovered:?}; \
             refresh it: bash scripts/advisories.sh PATH-TO-ADVISORY-DB (see {SNAPSHOT}/SOURCE.md)"
        ));
    }
    for i in &policy.advisories.ignore {
        if !advisories.iter().any(|a| a.id == i.id) {
            problems.push(format!("{POLICY}: ignored {} is not in the snapshot", i.id));
        }
    }

    let mut failures = Vec::new();
    let mut used = BTreeSet::new();
    for (name, version) in &lock {
        for a in advisories.iter().filter(|a| &a.package == name) {
            if a.withdrawn || !a.affects(version) {
                continue;
            }
            if let Some(i) = policy.advisories.ignore.iter().find(|i| i.id == a.id) {
                eprintln!("ignored: {} {name} {version}: {}", a.id, i.reason);
                used.insert(i.id.as_str());
                continue;
            }
            let patched: Vec<&str> = a.patched.iter().map(|(s, _)| s.as_str()).collect();
            let patched = match patched.is_empty() {
                true => "none (no fixed release)".to_string(),
                false => patched.join(" | "),
            };
            let (id, title) = (&a.id, &a.title);
            let line = format!("{id} {name} {version}: {title} (patched: {patched})");
            match a.informational.as_deref() {
                None | Some("unsound") => failures.push(line),
                Some(kind) => eprintln!("warning: {kind}: {line}"),
            }
        }
    }
    for i in &policy.advisories.ignore {
        if !used.contains(i.id.as_str()) {
            let id = &i.id;
            eprintln!("warning: {POLICY}: ignored {id} matches nothing in Cargo.lock");
        }
    }
    failures.extend(problems);
    let report = failures.join("\n  ");
    assert!(
        failures.is_empty(),
        "RustSec advisories ({SNAPSHOT}) against Cargo.lock:\n  {report}\nFix an advisory: \
         upgrade the crate (`cargo update -p NAME`), or, when it does not apply, add it to \
         [advisories] ignore in {POLICY} with the precise reason."
    );
}

// ---------------------------------------------------------------------------------------
// The checkers themselves

#[test]
fn spdx_expressions() {
    let allow = |id: &str| ["MIT", "Apache-2.0", "Unicode-3.0"].contains(&id);
    for (expr, want) in [
        ("MIT", true),
        ("MIT OR Apache-2.0", true),
        ("GPL-3.0", false),
        ("GPL-3.0 OR MIT", true),
        ("(MIT OR Apache-2.0) AND Unicode-3.0", true),
        ("(MIT OR GPL-3.0) AND (GPL-2.0 OR Apache-2.0)", true),
        ("Apache-2.0 WITH LLVM-exception", true),
        ("GPL-2.0 WITH Classpath-exception-2.0", false),
        ("Apache-2.0 WITH LLVM-exception OR Apache-2.0 OR MIT", true),
        ("MIT/Apache-2.0", true),
        ("Apache-2.0 / MIT", true),
        ("GPL-3.0/LGPL-3.0", false),
        ("MIT AND GPL-2.0", false),
        ("MIT AND Apache-2.0", true),
        ("GPL-2.0 OR MIT AND LGPL-2.1", false), // AND binds tighter: GPL-2.0 OR (MIT AND LGPL-2.1)
        ("MIT and Apache-2.0 or GPL-3.0", true),
    ] {
        assert_eq!(spdx_satisfied(expr, &allow), Ok(want), "{expr}");
    }
    // Each between `|`: the empty expression, a dangling operator, unbalanced parentheses…
    for b in "|MIT OR|(MIT|MIT)|MIT Apache-2.0|AND MIT|MIT WITH|M!T|()".split('|') {
        assert!(spdx_satisfied(b, &allow).is_err(), "{b:?} should not parse");
    }
}

#[test]
fn advisory_matcher() {
    let text = "```toml\n[advisory]\nid = \"RUSTSEC-2099-0001\"\npackage = \"demo\"\n\
                date = \"2099-01-01\"\n\n[affected.functions]\n\"demo::f\" = [\"< 1.2.3\"]\n\n\
                [versions]\npatched = [\">= 1.2.3\"]\nunaffected = [\"< 1.0\"]\n```\n\n\
                # Demo flaw in `f`\n\nBody.\n";
    let a = parse_advisory("demo.md", text).unwrap();
    assert_eq!(
        (a.id.as_str(), a.package.as_str()),
        ("RUSTSEC-2099-0001", "demo")
    );
    assert_eq!(a.title, "Demo flaw in `f`");
    assert!(!a.withdrawn && a.informational.is_none());
    let v = |s: &str| Version::parse(s).unwrap();
    assert!(a.affects(&v("1.2.2")) && a.affects(&v("1.0.0")));
    assert!(!a.affects(&v("1.2.3")) && !a.affects(&v("2.0.0")) && !a.affects(&v("0.9.0")));

    // No patched and no unaffected: every version is affected.
    let all = text.replace("patched = [\">= 1.2.3\"]\nunaffected = [\"< 1.0\"]", "");
    let all = parse_advisory("all.md", &all).unwrap();
    assert!(all.affects(&v("0.0.1")) && all.affects(&v("99.0.0")));

    let extra = "withdrawn = \"2099-02-01\"\ninformational = \"unsound\"\ndate =";
    let withdrawn = text.replace("date =", extra);
    let withdrawn = parse_advisory("w.md", &withdrawn).unwrap();
    assert!(withdrawn.withdrawn && withdrawn.informational.as_deref() == Some("unsound"));

    // A requirement that does not parse is an error naming the file, never skipped.
    let broken = text.replace(">= 1.2.3\"]", ">= 1.2.3 < 1.3\"]");
    let file = "crates/demo/RUSTSEC-2099-0001.md";
    let e = parse_advisory(file, &broken).unwrap_err();
    assert!(e.contains(file) && e.contains(">= 1.2.3 < 1.3"), "{e}");
    assert!(parse_advisory("none.md", "# no front matter\n").is_err());

    // The forms the database uses: a space after the operator, comma-separated ranges,
    // carets, bare versions (= caret), exact versions, pre-release bounds.
    let m = |r: &str, v: &str| {
        let req = VersionReq::parse(r).unwrap_or_else(|e| panic!("{r:?}: {e}"));
        req.matches(&Version::parse(v).unwrap())
    };
    assert!(m(">= 1.2.3, < 1.3", "1.2.3") && !m(">= 1.2.3, < 1.3", "1.3.0"));
    assert!(m(">= 1.2.3", "1.2.3") && !m(">= 1.2.3", "1.2.2"));
    assert!(m("^0.4.6", "0.4.9") && !m("^0.4.6", "0.5.0"));
    assert!(m("< 0.1.0-alpha", "0.0.9") && !m("< 0.1.0-alpha", "0.1.0"));
    assert!(m("0.54.2", "0.54.3") && !m("0.54.2", "0.55.0"));
    assert!(m("=0.2.0", "0.2.0") && !m("=0.2.0", "0.2.1"));
    assert!(m(">=0.4.20", "0.4.45") && m(">= 0", "0.0.1"));
}

#[test]
fn snapshot_is_vendored() {
    let (advisories, problems) = snapshot();
    assert!(problems.is_empty(), "{problems:?}");
    let n = advisories.len();
    assert!(n >= 20, "{SNAPSHOT}: {n} advisories");
    let source = fs::read_to_string(root().join(SNAPSHOT).join("SOURCE.md")).unwrap();
    let repo = "https://github.com/rustsec/advisory-db";
    assert!(source.contains(repo), "SOURCE.md does not name {repo}");
    let commit = source
        .lines()
        .find_map(|l| l.strip_prefix("- Commit: `"))
        .and_then(|l| l.strip_suffix('`'))
        .expect("SOURCE.md: no \"- Commit: `<id>`\" line");
    let full = commit.len() == 40 && commit.chars().all(|c| c.is_ascii_hexdigit());
    assert!(full, "SOURCE.md: commit {commit:?} is not a full id");
    assert!(source.contains("CC0-1.0"), "SOURCE.md: no CC0-1.0");
}
