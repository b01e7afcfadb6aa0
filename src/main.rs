//! The server binary: parse configuration, set up logging, hand over to the library.

use std::process::ExitCode;

use clap::Parser;
use tickertalk::config::{Command, Config, DbCommand};
use tickertalk::store::admin;
use tickertalk::{Application, startup, store, telemetry};

fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let config = match Config::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            let text = e.to_string();
            let line = text.lines().next().unwrap_or("invalid configuration");
            eprintln!("tickertalk: {line}");
            return ExitCode::from(1);
        }
    };
    telemetry::init("info");
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tickertalk: error: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    match config.command.clone().unwrap_or(Command::Serve) {
        Command::Routes => {
            for route in tickertalk::http::routes::all() {
                println!("{} {}", route.method, route.template());
            }
        }
        Command::Db(db) => {
            config.validate(false)?;
            run_db(&config.database_url, db).await?;
        }
        Command::BrokerCleanup => {
            config.validate(false)?;
            tickertalk_wire::Topology::new(&config.broker_prefix)
                .delete_at(&config.amqp_url)
                .await
                .map_err(|e| format!("AMQP_URL: cannot delete the topology ({e})"))?;
            tracing::info!(prefix = %config.broker_prefix, "broker topology deleted");
        }
        Command::Migrate => {
            config.validate(false)?;
            startup::open_database(&config).await?;
            tracing::info!("migrations applied");
        }
        Command::Seed => {
            config.validate(false)?;
            let db = startup::open_database(&config).await?;
            startup::seed_rooms(&db).await?;
        }
        Command::Healthcheck => healthcheck(config.listen_addr).await?,
        Command::Serve => {
            config.validate(true)?;
            let listener = tokio::net::TcpListener::bind(config.listen_addr)
                .await
                .map_err(|e| format!("LISTEN_ADDR: cannot listen on {} ({e})", config.listen_addr))?;
            let app = Application::build(config, listener).await?;
            app.run(shutdown_signal()).await;
        }
    }
    Ok(())
}

/// `GET /readyz` on this machine's LISTEN_ADDR (a wildcard address is asked on loopback), with
/// a 3 s limit, by hand: one request does not need an HTTP client.
async fn healthcheck(addr: std::net::SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut target = addr;
    if target.ip().is_unspecified() {
        target.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let ask = async {
        let mut stream = tokio::net::TcpStream::connect(target).await?;
        let request = format!("GET /readyz HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut head = vec![0u8; 64];
        let n = stream.read(&mut head).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&head[..n]).into_owned())
    };
    let reply = tokio::time::timeout(std::time::Duration::from_secs(3), ask)
        .await
        .map_err(|_| format!("LISTEN_ADDR: {target} did not answer within 3 s"))?
        .map_err(|e| format!("LISTEN_ADDR: cannot reach {target} ({e})"))?;
    let status = reply.split_whitespace().nth(1).unwrap_or("");
    if status == "200" {
        println!("ready");
        Ok(())
    } else {
        Err(format!("not ready: GET /readyz answered {status}").into())
    }
}

/// `tickertalk db ...`. Errors name DATABASE_URL with its password redacted.
async fn run_db(url: &str, command: DbCommand) -> Result<(), Box<dyn std::error::Error>> {
    let shown = tickertalk_wire::redact_url(url);
    let fail = |what: &str, e: store::StoreError| format!("DATABASE_URL: cannot {what} via {shown} ({e})");
    let name = |n: Option<String>| -> Result<String, String> {
        let n = match n {
            Some(n) => n,
            None => admin::db_name(url).map_err(|e| format!("DATABASE_URL: {e}"))?,
        };
        admin::check_name(&n)?;
        Ok(n)
    };
    match command {
        DbCommand::Url { name: n } => {
            let n = name(Some(n))?;
            println!(
                "{}",
                admin::url_with_db(url, &n).map_err(|e| format!("DATABASE_URL: {e}"))?
            );
        }
        DbCommand::Create { name: n } => {
            let n = name(n)?;
            let created = admin::create(url, &n)
                .await
                .map_err(|e| fail("create a database", e))?;
            tracing::info!(database = %n, created, "database present");
        }
        DbCommand::Drop { name: n } => {
            let n = name(Some(n))?;
            admin::drop(url, &n)
                .await
                .map_err(|e| fail("drop a database", e))?;
            tracing::info!(database = %n, "database dropped (if it existed)");
        }
        DbCommand::Reset => {
            let n = name(None)?;
            admin::drop(url, &n)
                .await
                .map_err(|e| fail("drop a database", e))?;
            admin::create(url, &n)
                .await
                .map_err(|e| fail("create a database", e))?;
            let db = store::connect(url, 2)
                .await
                .map_err(|e| fail("connect", e.into()))?;
            store::migrate(&db)
                .await
                .map_err(|e| format!("migrations failed ({e})"))?;
            tracing::info!(database = %n, "database reset and migrated");
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
