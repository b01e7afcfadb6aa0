//! A test's own RabbitMQ node and PostgreSQL server, run as child processes the test controls
//! (freeze with SIGSTOP, kill -9, crash-restart) without disturbing the shared services that
//! every other test uses. Each lives in a directory of its own under the temp dir, on ports of
//! its own, and is killed and removed when dropped, also when the test panics.
//!
//! Both need the Debian packages `make test` installs (`rabbitmq-server`, `postgresql-15`)
//! and root (PostgreSQL runs as the `postgres` user through `runuser`). Where they are missing,
//! `start` returns `None` and the test says SKIPPED.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (bound and released: another process could take it first, which a
/// start-up failure would then show).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn fresh_dir(kind: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tt-{kind}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("child service directory");
    dir
}

fn ok(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn signal(pid: u32, sig: &str) -> bool {
    ok(Command::new("kill").args([sig, &pid.to_string()]))
}

const RABBIT_BIN: &str = "/usr/lib/rabbitmq/bin";

/// A private RabbitMQ node (its own node name, ports, data and Erlang cookie).
pub struct ChildBroker {
    dir: PathBuf,
    pub node: String,
    pub port: u16,
    dist_port: u16,
    child: Option<Child>,
}

impl ChildBroker {
    /// Boots a fresh node and waits until it accepts AMQP connections; `None` where RabbitMQ
    /// is not installed here.
    pub async fn start() -> Option<ChildBroker> {
        if !Path::new(RABBIT_BIN).join("rabbitmq-server").exists() {
            return None;
        }
        let dir = fresh_dir("rabbit");
        let port = free_port();
        let node = format!("tt{}@localhost", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        std::fs::write(dir.join("enabled_plugins"), "[].\n").unwrap();
        std::fs::write(
            dir.join("rabbitmq.conf"),
            format!("listeners.tcp.1 = 127.0.0.1:{port}\n"),
        )
        .unwrap();
        let mut broker = ChildBroker {
            dir,
            node,
            port,
            dist_port: free_port(),
            child: None,
        };
        broker.boot().await;
        Some(broker)
    }

    pub fn amqp_url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(Path::new(RABBIT_BIN).join(program));
        cmd.env("HOME", &self.dir)
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_CONFIG_FILE", self.dir.join("rabbitmq.conf"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", self.dir.join("enabled_plugins"))
            .env("RABBITMQ_MNESIA_BASE", self.dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", self.dir.join("log"))
            .env("RABBITMQ_PID_FILE", self.dir.join("pid"))
            .env("RABBITMQ_CONF_ENV_FILE", self.dir.join("none.conf"))
            .current_dir(&self.dir);
        cmd
    }

    /// Starts the node (again, after a kill: same name, same data) and waits for AMQP.
    pub async fn boot(&mut self) {
        let _ = std::fs::remove_file(self.dir.join("pid"));
        let log = std::fs::File::create(self.dir.join("console.log")).unwrap();
        let child = self
            .command("rabbitmq-server")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start rabbitmq-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let up = lapin::Connection::connect(&self.amqp_url(), Default::default()).await;
            if let Ok(conn) = up {
                let _ = conn.close(200, "ready".into()).await;
                if self.pid().is_some() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the child RabbitMQ did not start; see {}",
                self.dir.join("console.log").display()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The Erlang VM's process id (the node writes it once it runs).
    pub fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.join("pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    pub fn freeze(&self) -> bool {
        self.pid().is_some_and(|p| signal(p, "-STOP"))
    }

    pub fn thaw(&self) -> bool {
        self.pid().is_some_and(|p| signal(p, "-CONT"))
    }

    /// SIGKILL to the VM: no goodbye to any client, as in a crash.
    pub fn kill(&mut self) {
        if let Some(p) = self.pid() {
            signal(p, "-CONT");
            signal(p, "-KILL");
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `rabbitmqctl` against this node (`stop_app`, `start_app`, ...).
    pub fn ctl(&self, args: &[&str]) -> bool {
        ok(self.command("rabbitmqctl").arg("-n").arg(&self.node).args(args))
    }
}

impl Drop for ChildBroker {
    fn drop(&mut self) {
        self.kill();
        keep_or_remove(&self.dir);
    }
}

/// Removes a child's directory, but keeps it (and says where) when the test failed: its logs
/// are what explains the failure.
fn keep_or_remove(dir: &Path) {
    if std::thread::panicking() {
        eprintln!(
            "test failed: the child service's files are kept in {}",
            dir.display()
        );
    } else {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A private PostgreSQL server (its own data directory, port and socket directory), with a
/// superuser `tickertalk` that logs in without a password from loopback.
pub struct ChildPostgres {
    dir: PathBuf,
    bin: PathBuf,
    pub port: u16,
}

impl ChildPostgres {
    /// `initdb` and start; `None` where PostgreSQL's programs or root are missing.
    pub fn start() -> Option<ChildPostgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("initdb").exists())
            .max()?;
        if !ok(Command::new("runuser").args(["-u", "postgres", "--", "true"])) {
            return None;
        }
        let dir = fresh_dir("pg");
        if !ok(Command::new("chown").args(["postgres:postgres"]).arg(&dir)) {
            return None;
        }
        let pg = ChildPostgres {
            bin,
            port: free_port(),
            dir,
        };
        let data = pg.dir.join("data");
        let init = pg
            .as_postgres("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "tickertalk", "-A", "trust", "-E", "UTF8", "--no-sync"])
            .output()
            .expect("run initdb");
        assert!(
            init.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        pg.pg_ctl_start();
        Some(pg)
    }

    fn as_postgres(&self, program: &str) -> Command {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"])
            .arg(self.bin.join(program))
            .current_dir(&self.dir);
        cmd
    }

    fn pg_ctl_start(&self) {
        let out = self
            .as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .arg("-o")
            .arg(format!(
                "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
                self.port,
                self.dir.display()
            ))
            .args(["-w", "-t", "60", "start"])
            .output()
            .expect("run pg_ctl start");
        assert!(
            out.status.success(),
            "pg_ctl start: {}; see {}",
            String::from_utf8_lossy(&out.stderr),
            self.dir.join("server.log").display()
        );
    }

    /// A URL to its `postgres` database, as `TestEnv::create_on` wants.
    pub fn admin_url(&self) -> String {
        format!("postgres://tickertalk@127.0.0.1:{}/postgres", self.port)
    }

    /// `pg_ctl stop -m immediate` (every backend killed, no checkpoint: crash recovery at the
    /// next start, which empties unlogged tables), then start again.
    pub fn crash_restart(&self) {
        self.stop_immediate();
        self.pg_ctl_start();
    }

    fn stop_immediate(&self) {
        let _ = self
            .as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for ChildPostgres {
    fn drop(&mut self) {
        self.stop_immediate();
        keep_or_remove(&self.dir);
    }
}
