//! The `bootstrap` binary as Lambda runs it: configuration errors fail the cold start with
//! one log line naming the variable, and a working configuration serves invocations from a
//! (fake, local) Lambda Runtime API against moto, logging JSON and printing EMF metrics.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::*;
use serde_json::Value;

fn bootstrap(env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bootstrap"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        c.env(k, v);
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

#[test]
fn a_bad_setting_fails_the_cold_start_with_one_line_naming_it() {
    let base = [
        ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9"),
        ("AWS_REGION", "us-east-1"),
        (
            "TRAILHOUND_TOPIC_ARN",
            "arn:aws:sns:us-east-1:111122223333:t",
        ),
        ("TRAILHOUND_TABLE", "trailhound"),
    ];
    for (var, value) in [
        ("TRAILHOUND_TOPIC_ARN", ""),
        ("TRAILHOUND_TABLE", ""),
        ("TRAILHOUND_MIN_SEVERITY", "11"),
        ("TRAILHOUND_LEARNING_DAYS", "a week"),
        ("TRAILHOUND_DETECTORS", "/nonexistent"),
        ("TRAILHOUND_GEOIP", "/nonexistent.mmdb"),
        ("RUST_LOG", "info,=[bad"),
    ] {
        let mut env: Vec<(&str, &str)> = base.iter().filter(|(k, _)| *k != var).copied().collect();
        env.push((var, value));
        let out = bootstrap(&env).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{var}={value}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 1, "{var}: {stdout}");
        let line: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(line["level"], "ERROR");
        assert_eq!(line["variable"], var);
        assert!(line["message"].as_str().unwrap().contains(var), "{line}");
    }
}

/// A minimal Lambda Runtime API: hands out `events`, reports each response or error.
fn runtime_api(events: Vec<Value>) -> (String, mpsc::Receiver<(String, Value)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    let queue = std::sync::Arc::new(std::sync::Mutex::new(events.into_iter().enumerate()));
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let (tx, queue) = (tx.clone(), queue.clone());
            std::thread::spawn(move || serve(conn, &tx, &queue));
        }
    });
    (addr, rx)
}

type Events = std::sync::Arc<std::sync::Mutex<std::iter::Enumerate<std::vec::IntoIter<Value>>>>;

fn serve(conn: TcpStream, tx: &mpsc::Sender<(String, Value)>, queue: &Events) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let len = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap())
            })
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
        if path.ends_with("/invocation/next") {
            let next = queue.lock().unwrap().next();
            let Some((i, event)) = next else {
                std::thread::sleep(Duration::from_secs(600));
                return;
            };
            let body = event.to_string();
            let deadline = chrono::Utc::now().timestamp_millis() + 300_000;
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: req-{i}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:trailhound\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            conn.write_all(resp.as_bytes()).unwrap();
        } else {
            let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let _ = tx.send((path, v));
            conn.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootstrap_binary_serves_invocations() {
    let env = Env::new("bootstrap", true).await;
    let up = env.upload(&fixtures::archive()).await;
    let mut events: Vec<Value> = up.iter().map(|(o, s)| s3_event(o, *s)).collect();
    events.push(sqs_event(&[("m1".into(), s3_event(&up[0].0, up[0].1))]));
    let n = events.len();
    let (api, responses) = runtime_api(events);
    let geo = geoip().display().to_string();
    let mut child = bootstrap(&[
        ("AWS_LAMBDA_RUNTIME_API", &api),
        ("AWS_LAMBDA_FUNCTION_NAME", "trailhound-test"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "test"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/trailhound-test"),
        ("AWS_ENDPOINT_URL", moto::endpoint()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("TRAILHOUND_S3_PATH_STYLE", "1"),
        ("TRAILHOUND_TOPIC_ARN", &env.topic_arn),
        ("TRAILHOUND_TABLE", &env.table),
        ("TRAILHOUND_GEOIP", &geo),
        ("TRAILHOUND_LEARNING_DAYS", "0"),
        ("TRAILHOUND_MIN_SEVERITY", "1"),
    ])
    .spawn()
    .unwrap();
    let mut got = Vec::new();
    for _ in 0..n {
        let mut waited = 0;
        let r = loop {
            if let Ok(r) = responses.recv_timeout(Duration::from_millis(200)) {
                break Some(r);
            }
            waited += 1;
            if waited > 300 || child.try_wait().unwrap().is_some() {
                break None;
            }
        };
        match r {
            Some(r) => got.push(r),
            None => {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "no response from bootstrap; stdout:\n{}\nstderr:\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    for (i, (path, body)) in got.iter().enumerate() {
        assert_eq!(
            path,
            &format!("/2018-06-01/runtime/invocation/req-{i}/response"),
            "{body}\n{stdout}"
        );
    }
    assert_eq!(got[n - 1].1, serde_json::json!({"batchItemFailures": []}));
    assert_eq!(got[1].1["published"], 3);
    // JSON logs and EMF metrics on stdout; no line carries record content.
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let emf: Vec<&Value> = lines.iter().filter(|l| l.get("_aws").is_some()).collect();
    assert!(emf.iter().any(|l| l["FunctionName"] == "trailhound-test"
        && l["Objects"] == 1.0
        && l["Records"].as_f64() > Some(0.0)));
    assert!(
        emf.iter()
            .any(|l| l["Detector"] == "invoke-spike" && l["Severity"] == "High")
    );
    assert!(lines.iter().any(|l| {
        l["message"] == "object processed"
            && l["object"]
                .as_str()
                .is_some_and(|o| o.contains(&env.bucket))
    }));
    assert!(
        !stdout.contains("anthropic.claude"),
        "request content leaked into logs"
    );
    assert_eq!(env.received().await.len(), 16);
}
