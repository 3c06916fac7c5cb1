//! `moto_server` on 127.0.0.1: a real EC2/S3 API endpoint for tests (PyPI `moto[server]`),
//! plus a `python3`/boto3 helper to arrange and inspect its state.
#![allow(dead_code)]

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::{ci, free_port, spawn_tied, which};

pub const ACCESS_KEY: &str = "testing";
pub const SECRET_KEY: &str = "testing";

pub struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// A fresh moto_server; `None` (after printing why) when moto is not installed, a panic
    /// under CI. `env`: extra environment (e.g. `INITIAL_NO_AUTH_ACTION_COUNT`).
    pub fn start(env: &[(&str, &str)]) -> Option<Moto> {
        let Some(bin) = which("moto_server") else {
            let why = "moto_server not found (pip install 'moto[server]')";
            assert!(!ci(), "CI=true but {why}");
            eprintln!("SKIP: {why}");
            return None;
        };
        let port = free_port();
        let mut cmd = Command::new(bin);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = spawn_tied(cmd).expect("start moto_server");
        let moto = Moto { child, port };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not listen on port {port} within 30 s"
            );
            thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Environment for a zrm child talking to this moto (static test credentials, no instance
    /// metadata lookups).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", "/nonexistent".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".into()),
        ]
    }

    /// Runs a python3 script with boto3 against this moto; `ec2(region)` and `iam()` are
    /// defined for it. Returns stdout (trimmed); panics with stderr on failure.
    pub fn python(&self, script: &str) -> String {
        let prelude = format!(
            "import boto3, json\n\
             def _kw(region='us-east-1'):\n    return dict(endpoint_url='{}', region_name=region, aws_access_key_id='{ACCESS_KEY}', aws_secret_access_key='{SECRET_KEY}')\n\
             def ec2(region='us-east-1'):\n    return boto3.client('ec2', **_kw(region))\n\
             def iam():\n    return boto3.client('iam', **_kw())\n",
            self.url()
        );
        let out = Command::new("python3")
            .arg("-c")
            .arg(format!("{prelude}{script}"))
            .output()
            .expect("run python3");
        assert!(
            out.status.success(),
            "python failed:\n{script}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
