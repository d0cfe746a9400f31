//! A local AWS API for the tests: moto, installed into `<repo>/.venv` by the harness itself
//! (nothing by hand, also on a fresh CI machine) and started once per test binary.
//!
//! - Install: `python3 -m venv .venv` if missing, then `pip install "moto[server]==MOTO"` if
//!   `.venv/bin/moto_server` is missing, under a file lock so parallel test processes
//!   (nextest runs each test in its own) install once.
//! - Start: `.venv/bin/python -c SERVER`, which serves moto's app (the one `moto_server`
//!   runs) on 127.0.0.1 with a port the OS picks and prints it. Requests are handled one at a
//!   time: moto's own threaded server is not atomic for DynamoDB transactions (it checks and
//!   writes item by item and rolls back by restoring a copy of the whole table), so concurrent
//!   commits could lose updates inside moto and the concurrency test would measure moto's race,
//!   not ours. Clients still run concurrently: loads and commits of different tasks interleave.
//! - Stop: the server exits when its stdin closes. The test process holds the pipe's write
//!   end in a static and never closes it, so the OS closes it when the process exits, however
//!   it exits (panic, abort, SIGKILL): no server outlives its tests, and no pid files.
//!
//! `TRAILHOUND_MOTO_URL=http://127.0.0.1:5000` uses a server you started instead.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The moto version the tests are written against.
pub const MOTO: &str = "5.2.1";

const SERVER: &str = r#"
import os, sys, threading
from werkzeug.serving import make_server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()

def serialized(environ, start_response):
    with lock:
        return list(app(environ, start_response))

def watchdog():
    sys.stdin.read()  # returns when the test process is gone
    os._exit(0)

threading.Thread(target=watchdog, daemon=True).start()
srv = make_server("127.0.0.1", 0, serialized, threaded=True)
print(srv.server_port, flush=True)
srv.serve_forever()
"#;

struct Server {
    endpoint: String,
    _child: Mutex<Child>,
    _stdin: Mutex<Option<ChildStdin>>,
}

static SERVER_ONCE: OnceLock<Server> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The repository's root (the workspace).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Creates `.venv` and installs moto into it when missing. Returns the venv's python.
fn install(repo: &Path) -> PathBuf {
    let venv = repo.join(".venv");
    let python = venv.join("bin/python");
    std::fs::create_dir_all(repo.join("target")).expect("target dir");
    let lock = std::fs::File::create(repo.join("target/.moto-install.lock")).expect("lock file");
    lock.lock().expect("lock the moto install");
    if !python.exists() {
        eprintln!("moto harness: creating {}", venv.display());
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv .venv (install python3-venv if this fails)",
        );
    }
    if !venv.join("bin/moto_server").exists() {
        eprintln!("moto harness: installing moto[server]=={MOTO} into .venv");
        run(
            Command::new(&python).args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--quiet",
                &format!("moto[server]=={MOTO}"),
            ]),
            "pip install moto[server] into .venv",
        );
    }
    let _ = lock.unlock();
    python
}

fn start() -> Server {
    if let Ok(url) = std::env::var("TRAILHOUND_MOTO_URL") {
        return Server {
            endpoint: url,
            _child: Mutex::new(Command::new("true").spawn().expect("true")),
            _stdin: Mutex::new(None),
        };
    }
    let repo = repo();
    let python = install(&repo);
    let log = repo.join(format!("target/moto-{}.log", std::process::id()));
    let mut child = Command::new(&python)
        .args(["-c", SERVER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("moto log file"))
        .spawn()
        .unwrap_or_else(|e| panic!("could not start moto with {}: {e}", python.display()));
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let port: u16 = match rx.recv_timeout(Duration::from_secs(90)) {
        Ok(line) if !line.trim().is_empty() => line.trim().parse().expect("moto printed its port"),
        _ => panic!(
            "moto did not start; its log ({}):\n{}",
            log.display(),
            std::fs::read_to_string(&log).unwrap_or_default()
        ),
    };
    let endpoint = format!("http://127.0.0.1:{port}");
    let until = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "moto at {endpoint} does not answer");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        endpoint,
        _child: Mutex::new(child),
        _stdin: Mutex::new(stdin),
    }
}

/// The endpoint of this test binary's moto server (started on first use).
pub fn endpoint() -> &'static str {
    &SERVER_ONCE.get_or_init(start).endpoint
}

/// A unique, S3-safe name: `<test>-<pid>-<n>`.
pub fn unique(test: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let clean: String = test
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    format!("{clean}-{}-{n}", std::process::id())
}

/// SDK configuration for moto: its endpoint, us-east-1, dummy static credentials.
pub async fn sdk_config() -> aws_config::SdkConfig {
    sdk_config_at(endpoint()).await
}

/// The same for any endpoint (a dead one makes a failing client).
pub async fn sdk_config_at(url: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
        .load()
        .await
}

pub fn s3(conf: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(conf)
            .force_path_style(true)
            .build(),
    )
}
