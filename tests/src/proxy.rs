//! A real reverse proxy in front of a test provider: Debian's nginx (installed by
//! `scripts/test.sh`), started by the test on a free port with its own configuration, pid and
//! logs in a temporary folder, and stopped when dropped.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use crate::{Browser, free_port};

/// A running nginx that proxies to one provider.
pub struct Nginx {
    /// Its base URL, `http://127.0.0.1:<port>`.
    pub base: String,
    child: Child,
    dir: tempfile::TempDir,
}

/// nginx on `PATH`, or where Debian puts it (`/usr/sbin` is not on every user's `PATH`).
fn nginx_binary() -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("nginx is not installed: bash scripts/test.sh installs it (apt-get install nginx-light)")
        })
}

impl Nginx {
    /// nginx on a free loopback port in front of the provider at `upstream`, with the settings
    /// docs/operations.md gives operators: the client's address appended to
    /// `X-Forwarded-For`, the scheme in `X-Forwarded-Proto`, any `Forwarded` a client sent
    /// removed.
    pub async fn start(upstream: std::net::SocketAddr) -> Self {
        let dir = tempfile::tempdir().expect("nginx folder");
        // Started as root, nginx's workers run as `nobody`: they must reach their temp folders.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("nginx folder mode");
        let port = free_port();
        let d = dir.path().display();
        let conf = format!(
            r#"daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://{upstream};
            proxy_max_temp_file_size 0;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Forwarded "";
        }}
    }}
}}
"#
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("nginx.conf");
        let mut child = Command::new(nginx_binary())
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nginx starts");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Self {
                    base: format!("http://127.0.0.1:{port}"),
                    child,
                    dir,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("nginx stopped ({status}): {}", error_log(dir.path()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        panic!("nginx does not listen: {}", error_log(dir.path()));
    }

    /// What nginx logged (for a failing test's message).
    pub fn error_log(&self) -> String {
        error_log(self.dir.path())
    }
}

fn error_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    /// The absolute URL of `path` on this browser's base.
    pub fn url(&self, path: &str) -> String {
        self.absolute(path)
    }
}
