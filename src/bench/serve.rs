//! `polaris serve` start-to-ready time and idle memory: starts this executable as the
//! custom handler on a free loopback port and waits until it accepts a connection.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct ServeRun {
    pub start_to_ready: Duration,
    pub idle_rss_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeBenchError {
    #[error("cannot start `polaris serve`: {0}")]
    Spawn(#[from] std::io::Error),
    #[error("`polaris serve` did not accept a connection within {0:?}")]
    NotReady(Duration),
}

fn rss_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or_default();
    let kb: u64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    kb * 1024
}

pub fn run() -> Result<ServeRun, ServeBenchError> {
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port();
    let exe = std::env::current_exe()?;
    let started = Instant::now();
    let mut child = Command::new(exe)
        .arg("serve")
        .env(crate::settings::PORT_SETTING, port.to_string())
        .env("POLARIS_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;

    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let limit = Duration::from_secs(10);
    let ready = loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(50)).is_ok() {
            break Some(started.elapsed());
        }
        if started.elapsed() > limit {
            break None;
        }
        std::thread::sleep(Duration::from_micros(500));
    };
    // Idle: ready and no invocation yet.
    std::thread::sleep(Duration::from_millis(500));
    let idle_rss_bytes = rss_of(child.id());
    // Only the child this benchmark started is stopped, by its own handle.
    let _ = child.kill();
    let _ = child.wait();
    let start_to_ready = ready.ok_or(ServeBenchError::NotReady(limit))?;
    Ok(ServeRun { start_to_ready, idle_rss_bytes })
}
