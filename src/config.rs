//! Process configuration: command-line flags, environment variables and `.env`, in that order of
//! precedence (clap reads the environment; `main` loads `.env` into it first).
//!
//! Layer 0: read by everything above, uses nothing of this crate.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tickertalk_wire::redact_url;

/// Everything the server reads at start-up. Secrets are kept out of `Debug` (see the manual impl).
#[derive(Parser, Clone)]
#[command(name = "tickertalk", version, about = "tickertalk chat server")]
pub struct Config {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// HTTP/WebSocket listen address.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8080", global = true)]
    pub listen_addr: SocketAddr,

    /// PostgreSQL URL. Contains a password, so it is never logged as is.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://tickertalk:tickertalk@127.0.0.1:5432/tickertalk",
        hide_env_values = true,
        global = true
    )]
    pub database_url: String,

    /// RabbitMQ URL, or a comma-separated list of cluster node URLs (each process connects to
    /// one, and moves on to the next when it is lost). Contains passwords: never logged as is.
    #[arg(
        long,
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f",
        hide_env_values = true,
        global = true
    )]
    pub amqp_url: String,

    /// HS256 signing key for access tokens. Required to serve; at least 16 characters.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true, global = true)]
    pub jwt_secret: Option<String>,

    /// Create the default rooms (General, Random) at start-up when missing; for deployments
    /// that have no separate `tickertalk seed` step (docker compose).
    #[arg(long, env = "SEED_ROOMS", default_value_t = false, global = true)]
    pub seed_rooms: bool,

    /// Test-only routes under `/v1/qa` for QA's Postman runs: an access token that has already
    /// expired, and deleting the caller's account with everything it created. Off (404) unless
    /// set; never set it on a server real people use.
    #[arg(long, env = "QA_ROUTES", default_value_t = false, global = true)]
    pub qa_routes: bool,

    /// Comma-separated further WebSocket `Origin`s; a page on the server's own address (the
    /// request's host) is always accepted.
    #[arg(long, env = "ALLOWED_ORIGINS", value_delimiter = ',', global = true)]
    pub allowed_origins: Vec<String>,

    /// Prefix of every exchange and queue name, so tests and tenants can share one broker.
    #[arg(long, env = "BROKER_PREFIX", default_value = "tickertalk", global = true)]
    pub broker_prefix: String,

    /// Access-token lifetime in seconds.
    #[arg(long, env = "ACCESS_TOKEN_TTL_SECS", default_value_t = 900, global = true)]
    pub access_token_ttl_secs: u64,

    /// Refresh-token (session) lifetime in seconds.
    #[arg(long, env = "REFRESH_TOKEN_TTL_SECS", default_value_t = 30 * 24 * 3600, global = true)]
    pub refresh_token_ttl_secs: u64,

    /// Messages a user may post per rate window (WebSocket and HTTP together).
    #[arg(long, env = "RATE_LIMIT_MESSAGES", default_value_t = 20, global = true)]
    pub rate_limit_messages: u32,

    /// Length of the rate window in seconds.
    #[arg(long, env = "RATE_LIMIT_WINDOW_SECS", default_value_t = 10, global = true)]
    pub rate_limit_window_secs: u64,

    /// Frames buffered per socket before a client that does not read is disconnected.
    #[arg(long, env = "WS_SEND_BUFFER", default_value_t = 256, global = true)]
    pub ws_send_buffer: usize,

    /// Seconds between server pings.
    #[arg(long, env = "WS_PING_SECS", default_value_t = 20, global = true)]
    pub ws_ping_secs: u64,

    /// A socket silent (no frame, no pong) for this many seconds is closed.
    #[arg(long, env = "WS_IDLE_SECS", default_value_t = 60, global = true)]
    pub ws_idle_secs: u64,

    /// Seconds an HTTP connection may take to send a complete request head, counted from when
    /// the server starts waiting for one: a slow sender and an idle keep-alive connection are
    /// both closed after it.
    #[arg(long, env = "HTTP_HEADER_TIMEOUT_SECS", default_value_t = 10, global = true)]
    pub http_header_timeout_secs: u64,

    /// Seconds a request body may take to arrive once its head is in; a body that stalls is
    /// answered 408 and its connection closed, so a client cannot hold a connection (and a
    /// request) open by sending a few bytes and then nothing.
    #[arg(long, env = "HTTP_BODY_TIMEOUT_SECS", default_value_t = 10, global = true)]
    pub http_body_timeout_secs: u64,

    /// Connections (HTTP and WebSocket) one client address may hold on this instance; more get
    /// 429 and are closed. 0: no cap (behind a load balancer every client has its address).
    #[arg(
        long,
        env = "MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 256,
        global = true
    )]
    pub max_connections_per_address: usize,

    /// Connections this instance holds at most; 0 (the default): the open-file limit less 256
    /// kept for the database, the broker and files. At the cap the longest-idle HTTP
    /// connection is closed for a new one, or the new one gets 503 when none is idle.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 0, global = true)]
    pub max_connections: usize,

    /// Login attempts per account from one client address in 15 minutes; one address may make
    /// twice as many over all accounts in 15 minutes, and one account may get twenty times as
    /// many from all addresses in 5 minutes (docs/security.md). Beyond a budget: 429 with
    /// `Retry-After`, before any hashing. 0 turns login throttling off (the login benchmark
    /// measures hashing with it off).
    #[arg(long, env = "LOGIN_FREE_FAILURES", default_value_t = 10, global = true)]
    pub login_free_failures: u32,

    /// Where `GET /metrics` (Prometheus) is served: its own listener, never the public one, so
    /// counts such as throttled logins stay with the operator. Loopback by default; empty:
    /// nowhere.
    #[arg(long, env = "METRICS_ADDR", default_value = "127.0.0.1:9101", global = true)]
    pub metrics_addr: String,

    /// Rooms one user may create per hour (attempts with a taken name included); more get 429
    /// with `Retry-After`. 0: no limit.
    #[arg(long, env = "ROOMS_PER_USER", default_value_t = 20, global = true)]
    pub rooms_per_user: u32,

    /// Quotes one user may ask for per minute: each `/stock` symbol, each cashtag answered,
    /// each `/watch` and `/alert`. Over it, `/stock` gets 429 and cashtags go unanswered.
    /// 0: no limit.
    #[arg(long, env = "QUOTES_PER_MINUTE", default_value_t = 30, global = true)]
    pub quotes_per_minute: u32,

    /// Seconds between price refreshes of every watched or alerted symbol (ticker strips,
    /// alerts); 0: no scheduled refreshes.
    #[arg(long, env = "WATCH_REFRESH_SECS", default_value_t = 60, global = true)]
    pub watch_refresh_secs: u64,

    /// Sign-ups one client address may attempt per hour (taken names included); more get 429
    /// with `Retry-After`. 0: no limit.
    #[arg(long, env = "SIGNUPS_PER_ADDRESS", default_value_t = 20, global = true)]
    pub signups_per_address: u32,

    /// Addresses of reverse proxies / load balancers in front of this server, comma-separated.
    /// For a connection from one of them, the client's address (login throttling) is the last
    /// entry of `X-Forwarded-For`; otherwise the header is ignored (anyone can send it).
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "", global = true)]
    pub trusted_proxies: String,

    /// WebSockets one user may have open on this instance; one more is refused with 429.
    /// 0: no cap.
    #[arg(long, env = "MAX_SOCKETS_PER_USER", default_value_t = 32, global = true)]
    pub max_sockets_per_user: usize,

    /// Seconds an instance trusts a session it found active without asking PostgreSQL again
    /// (revocations heard from the broker drop it at once; 0 disables the cache).
    #[arg(long, env = "SESSION_CACHE_SECS", default_value_t = 5, global = true)]
    pub session_cache_secs: u64,

    /// Size of the PostgreSQL connection pool. Small on purpose: more connections than the
    /// database has cores only queue inside PostgreSQL instead of here (with 20 on this 2-core
    /// machine, history reads had stalls of a second; with 8, none over 0.25 s: BENCHMARKS.md).
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 8, global = true)]
    pub db_max_connections: u32,
}

/// Sub-commands of the server binary.
#[derive(Subcommand, Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Apply migrations, then serve HTTP and WebSocket (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Apply migrations and create the default rooms (General, Random) if missing.
    Seed,
    /// Print every HTTP route the server answers, one `METHOD /path` per line.
    Routes,
    /// Ask the server at LISTEN_ADDR whether it is ready (`GET /readyz`): exit 0 if it is, 1 if
    /// not. For container health checks (the image has no curl).
    Healthcheck,
    /// Delete the durable queues and exchanges of BROKER_PREFIX (tear down a tenant or test run).
    BrokerCleanup,
    /// Database chores on the server of DATABASE_URL (the role needs CREATEDB).
    #[command(subcommand)]
    Db(DbCommand),
}

/// `tickertalk db ...`: the scripts and the Makefile call these instead of rewriting URLs.
#[derive(Subcommand, Clone, Debug, PartialEq, Eq)]
pub enum DbCommand {
    /// Create database NAME (default: DATABASE_URL's) unless it exists.
    Create { name: Option<String> },
    /// Drop database NAME if it exists, ending the sessions still using it.
    Drop { name: String },
    /// Drop and recreate DATABASE_URL's database, then apply the migrations.
    Reset,
    /// Print DATABASE_URL with its database name replaced by NAME.
    Url { name: String },
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen_addr", &self.listen_addr)
            .field("database_url", &redact_url(&self.database_url))
            .field("amqp_url", &tickertalk_wire::nodes::redact_list(&self.amqp_url))
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "<redacted>"))
            .field("allowed_origins", &self.allowed_origins)
            .field("broker_prefix", &self.broker_prefix)
            .finish_non_exhaustive()
    }
}

/// A configuration problem, reported as one line naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl Config {
    /// Checks what clap cannot: the secret, URL syntax and the origin list.
    pub fn validate(&self, serving: bool) -> Result<(), ConfigError> {
        if serving {
            match self.jwt_secret.as_deref() {
                None | Some("") => {
                    return Err(ConfigError {
                        variable: "JWT_SECRET",
                        message: "not set; the server refuses to start without a signing key \
                                  (make run writes a random one into .env)"
                            .into(),
                    });
                }
                Some(s) if s.len() < 16 => {
                    return Err(ConfigError {
                        variable: "JWT_SECRET",
                        message: "too short; use at least 16 characters".into(),
                    });
                }
                _ => {}
            }
        }
        let database = url::Url::parse(&self.database_url).map_err(|e| ConfigError {
            variable: "DATABASE_URL",
            message: format!("not a valid URL ({e})"),
        })?;
        if !matches!(database.scheme(), "postgres" | "postgresql") {
            return Err(ConfigError {
                variable: "DATABASE_URL",
                message: "scheme must be one of [\"postgres\", \"postgresql\"]".into(),
            });
        }
        // One URL or a comma-separated list of cluster nodes.
        tickertalk_wire::Nodes::parse_in_order(&self.amqp_url).map_err(|message| ConfigError {
            variable: "AMQP_URL",
            message,
        })?;
        self.proxies()?;
        for origin in &self.allowed_origins {
            if url::Url::parse(origin).is_err() {
                return Err(ConfigError {
                    variable: "ALLOWED_ORIGINS",
                    message: format!("{origin:?} is not an origin like http://host:port"),
                });
            }
        }
        Ok(())
    }

    /// `TRUSTED_PROXIES` as addresses.
    pub fn proxies(&self) -> Result<Vec<std::net::IpAddr>, ConfigError> {
        self.trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse().map_err(|_| ConfigError {
                    variable: "TRUSTED_PROXIES",
                    message: format!("{p:?} is not an IP address"),
                })
            })
            .collect()
    }

    /// `ALLOWED_ORIGINS`, normalised: the origins accepted besides the server's own address
    /// (`http::origin`).
    pub fn origins(&self) -> Vec<String> {
        self.allowed_origins
            .iter()
            .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
            .filter(|o| !o.is_empty())
            .collect()
    }

    pub fn access_token_ttl(&self) -> Duration {
        Duration::from_secs(self.access_token_ttl_secs)
    }

    pub fn refresh_token_ttl(&self) -> Duration {
        Duration::from_secs(self.refresh_token_ttl_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Config {
        let mut all = vec!["tickertalk"];
        all.extend_from_slice(args);
        Config::try_parse_from(all).unwrap()
    }

    #[test]
    fn a_missing_secret_is_refused_only_when_serving() {
        let cfg = parse(&["--jwt-secret", ""]);
        assert_eq!(cfg.validate(true).unwrap_err().variable, "JWT_SECRET");
        assert!(cfg.validate(false).is_ok());
    }

    #[test]
    fn a_malformed_database_url_names_the_variable() {
        let cfg = parse(&["--jwt-secret", "0123456789abcdef", "--database-url", "nope"]);
        assert_eq!(cfg.validate(true).unwrap_err().variable, "DATABASE_URL");
    }

    #[test]
    fn debug_output_hides_secrets() {
        let cfg = parse(&[
            "--jwt-secret",
            "supersecretvalue123",
            "--database-url",
            "postgres://u:pw123@h/db",
        ]);
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("supersecretvalue123"));
        assert!(!shown.contains("pw123"));
    }

    #[test]
    fn allowed_origins_are_only_the_extra_ones_normalised() {
        let cfg = parse(&["--listen-addr", "127.0.0.1:9000"]);
        assert!(
            cfg.origins().is_empty(),
            "the server's own address needs no entry"
        );
        let cfg = parse(&["--allowed-origins", "https://App.Example.com/, ,http://x:1"]);
        assert_eq!(cfg.origins(), ["https://app.example.com", "http://x:1"]);
    }
}
