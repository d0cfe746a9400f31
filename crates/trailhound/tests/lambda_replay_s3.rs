//! `replay s3://bucket/prefix` against moto: the listing is ordered by key time and streamed,
//! and gives the same findings and counts as replaying the same objects from a folder.
//! One test in this binary: it sets the standard AWS environment variables.

use crate::support::*;
use trailhound::replay::{Options, run};

async fn error(opts: &Options) -> String {
    match run(opts).await {
        Ok(_) => panic!("{:?} should fail", opts.paths),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_from_s3_matches_replay_from_a_folder() {
    let env = Env::new("replay-s3", false).await;
    // SAFETY: the only test in this process; set before replay reads them.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL", moto::endpoint());
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var(trailhound_aws::s3::PATH_STYLE_ENV, "1");
    }
    let objs = fixtures::archive();
    let mut uploads: Vec<fixtures::Obj> = objs
        .iter()
        .rev()
        .map(|o| fixtures::Obj {
            key: o.key.clone(),
            body: o.body.clone(),
        })
        .collect();
    uploads.push(fixtures::Obj {
        key: "AWSLogs/README.md".into(),
        body: b"not a log".to_vec(),
    });
    env.upload(&uploads).await;
    let dir = tempfile::tempdir().unwrap();
    fixtures::write_dir(&objs, dir.path());

    let local = replay(dir.path(), 0).await;
    let opts = Options {
        paths: vec![format!("s3://{}/AWSLogs/", env.bucket)],
        geoip: Some(geoip()),
        learning: 0,
        ..Default::default()
    };
    let remote = run(&opts).await.unwrap();
    assert!(!local.findings.is_empty());
    assert!(
        remote
            .findings
            .iter()
            .all(|f| f.sources.iter().all(|s| s.bucket == env.bucket))
    );
    let remote_findings: Vec<_> = remote.findings.into_iter().map(local_sources).collect();
    assert_eq!(remote_findings, local.findings);
    let (mut a, mut b) = (remote.stats, local.stats);
    assert_eq!(a.bytes_in, b.bytes_in);
    a.bytes_in = 0;
    b.bytes_in = 0;
    assert_eq!(a, b);

    // Mixing sources, or a bucket that does not exist, is an error that says so.
    let mixed = Options {
        paths: vec![opts.paths[0].clone(), dir.path().display().to_string()],
        ..opts.clone()
    };
    assert!(error(&mixed).await.contains("not both"));
    let missing = Options {
        paths: vec!["s3://no-such-bucket-trailhound/x/".into()],
        ..opts
    };
    let err = error(&missing).await;
    assert!(
        err.contains("could not list s3://no-such-bucket-trailhound/x/")
            && err.contains("NoSuchBucket"),
        "{err}"
    );
}
