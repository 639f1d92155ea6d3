//! TLS for the tests of the provider's dependencies: a private certificate authority made with
//! the `openssl` command, and local Redis servers and sentinels (Debian's `redis-server`, built
//! with TLS) on free ports, stopped when dropped.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use crate::{eventually, free_port};

/// A private CA, a server certificate for 127.0.0.1 and localhost (also usable as a client
/// certificate, as Redis replicas and sentinels present it to each other), and a client
/// certificate. PEM files in a temporary folder.
pub struct TestPki {
    dir: tempfile::TempDir,
}

impl TestPki {
    /// Makes the CA and its certificates (EC P-256, valid one day).
    pub fn generate() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = Self { dir };
        pki.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=EFP Connect test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        pki.issue(
            "server",
            "/CN=localhost",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n",
        );
        pki.issue("client", "/CN=idp-client", "extendedKeyUsage=clientAuth\n");
        pki
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("the openssl command runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn issue(&self, name: &str, subject: &str, extensions: &str) {
        let ext = format!("{name}.ext");
        std::fs::write(self.dir.path().join(&ext), extensions).expect("write extensions");
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        self.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            subject,
        ]);
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &ext,
            "-out",
            &pem,
        ]);
    }

    /// The CA certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The server certificate and its key.
    pub fn server(&self) -> (PathBuf, PathBuf) {
        (
            self.dir.path().join("server.pem"),
            self.dir.path().join("server.key"),
        )
    }

    /// The client certificate and its key.
    pub fn client(&self) -> (PathBuf, PathBuf) {
        (
            self.dir.path().join("client.pem"),
            self.dir.path().join("client.key"),
        )
    }

    /// Sets the provider's Redis certificates: this CA and the client certificate.
    pub fn configure_redis(&self, config: &mut idp::config::Config) {
        let (cert, key) = self.client();
        config.redis.ca_file = Some(self.ca());
        config.redis.client_cert_file = Some(cert);
        config.redis.client_key_file = Some(key);
    }

    /// The TLS options of a `redis-server` (or sentinel) of this CA: TLS only, clients must
    /// present a certificate of this CA, replication and sentinel links in TLS too.
    fn redis_tls_args(&self, port: u16) -> Vec<String> {
        let (cert, key) = self.server();
        let path = |p: &Path| p.display().to_string();
        [
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--tls-cert-file",
            &path(&cert),
            "--tls-key-file",
            &path(&key),
            "--tls-ca-cert-file",
            &path(&self.ca()),
            "--tls-auth-clients",
            "yes",
            "--tls-replication",
            "yes",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }
}

/// One `redis-server` process (a server or a sentinel), killed when dropped.
pub struct RedisProcess {
    /// Its TLS port on 127.0.0.1.
    pub port: u16,
    child: std::process::Child,
    dir: tempfile::TempDir,
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RedisProcess {
    /// A Redis server in TLS only with `pki`'s certificates, no persistence; `replica_of`: a
    /// replica of the server on that port.
    pub async fn server(pki: &TestPki, replica_of: Option<u16>) -> Self {
        let mut args = Vec::new();
        args.extend(
            [
                "--save",
                "",
                "--appendonly",
                "no",
                "--bind",
                "127.0.0.1",
                // The replica syncs at once instead of after the default 5 s.
                "--repl-diskless-sync-delay",
                "0",
            ]
            .map(String::from),
        );
        if let Some(master) = replica_of {
            args.extend(["--replicaof".into(), "127.0.0.1".into(), master.to_string()]);
        }
        Self::start(pki, None, args).await
    }

    /// A sentinel in TLS watching the master on `master_port` as `service`, quick to act:
    /// down after 1 s, quorum 2.
    pub async fn sentinel(pki: &TestPki, service: &str, master_port: u16) -> Self {
        let config = format!(
            "sentinel monitor {service} 127.0.0.1 {master_port} 2\n\
             sentinel down-after-milliseconds {service} 1000\n\
             sentinel failover-timeout {service} 10000\n\
             sentinel parallel-syncs {service} 1\n"
        );
        Self::start(pki, Some(config), vec!["--sentinel".into()]).await
    }

    async fn start(pki: &TestPki, sentinel_config: Option<String>, extra: Vec<String>) -> Self {
        // A free port may be taken again before the server binds it: try a few.
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("temp dir");
            let port = free_port();
            let mut args = Vec::new();
            if let Some(config) = &sentinel_config {
                // A sentinel rewrites its configuration file: it must be its own.
                let file = dir.path().join("sentinel.conf");
                std::fs::write(&file, config).expect("sentinel.conf");
                args.push(file.display().to_string());
            }
            args.extend(pki.redis_tls_args(port));
            args.extend(extra.iter().cloned());
            args.extend(["--dir".into(), dir.path().display().to_string()]);
            let log = std::fs::File::create(dir.path().join("redis.log")).expect("log file");
            let child = Command::new("redis-server")
                .args(&args)
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server runs (Debian package redis-server)");
            let mut process = Self { port, child, dir };
            let up = eventually(Duration::from_secs(5), || async move {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            })
            .await;
            if up && process.child.try_wait().ok().flatten().is_none() {
                return process;
            }
            eprintln!("redis-server on {port} did not start:\n{}", process.log());
        }
        panic!("redis-server did not start (5 attempts)");
    }

    /// Kills the process at once (SIGKILL): the crash of a server.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The process's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
    }

    /// `redis-cli` against this process over TLS with `pki`'s client certificate: its output.
    pub fn cli(&self, pki: &TestPki, args: &[&str]) -> String {
        let (cert, key) = pki.client();
        let out = Command::new("redis-cli")
            .args(["--tls", "--cacert"])
            .arg(pki.ca())
            .arg("--cert")
            .arg(cert)
            .arg("--key")
            .arg(key)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli runs (Debian package redis-tools)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// A PostgreSQL server of its own (Debian's binaries, `/usr/lib/postgresql/*/bin`) that accepts
/// TLS connections only, with `pki`'s server certificate; trust authentication, no durability.
/// Stopped (fast shutdown) when dropped.
pub struct PostgresProcess {
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for PostgresProcess {
    fn drop(&mut self) {
        // SIGINT: fast shutdown, the server's backends end with it.
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl PostgresProcess {
    /// The newest `bin` folder of Debian's PostgreSQL packages, if any.
    pub fn binaries() -> Option<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").exists())
            .collect();
        found.sort_by_key(|p| {
            p.parent()
                .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
        });
        found.pop()
    }

    /// Makes a cluster in a temporary folder and starts it on a free port. PostgreSQL refuses
    /// to run as root: as root, the server runs as the `postgres` user.
    pub async fn start(pki: &TestPki) -> Self {
        let bin =
            Self::binaries().expect("PostgreSQL's server binaries (Debian package postgresql)");
        let dir = tempfile::tempdir().expect("temp dir");
        let (cert, key) = pki.server();
        for (from, to) in [(&cert, "server.pem"), (&key, "server.key")] {
            std::fs::copy(from, dir.path().join(to)).expect("copy certificate");
        }
        let run = |program: &Path| {
            let mut command = if nix_is_root() {
                let mut c = Command::new("setpriv");
                c.args(["--reuid=postgres", "--regid=postgres", "--init-groups"])
                    .arg(program);
                c
            } else {
                Command::new(program)
            };
            command.stdin(Stdio::null());
            command
        };
        if nix_is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown the PostgreSQL folder");
        }
        let key_file = dir.path().join("server.key");
        std::fs::set_permissions(
            &key_file,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .expect("key mode");
        let data = dir.path().join("data");
        let out = run(&bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "-N", "-D"])
            .arg(&data)
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // TLS or nothing over TCP.
        std::fs::write(
            data.join("pg_hba.conf"),
            "hostssl all all 127.0.0.1/32 trust\nhostnossl all all 0.0.0.0/0 reject\n",
        )
        .expect("pg_hba.conf");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("postgres.log")).expect("log");
        let child = run(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(dir.path())
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "ssl=on",
                "-c",
                "fsync=off",
            ])
            .arg("-c")
            .arg(format!(
                "ssl_cert_file={}",
                dir.path().join("server.pem").display()
            ))
            .arg("-c")
            .arg(format!("ssl_key_file={}", key_file.display()))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("postgres runs");
        let mut process = Self {
            port,
            child,
            _dir: dir,
        };
        let ready = eventually(Duration::from_secs(10), || async move {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
        .await;
        assert!(
            ready && process.child.try_wait().ok().flatten().is_none(),
            "postgres did not start: {:?}",
            std::fs::read_to_string(process._dir.path().join("postgres.log"))
        );
        process
    }
}

fn nix_is_root() -> bool {
    // The owner of /proc/self is this process's effective user.
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").expect("/proc/self")) == 0
}
