//! The server binary: parse configuration, set up logging, hand over to the library.

use std::process::ExitCode;

use clap::Parser;
use tickertalk::config::{Command, Config};
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
            for (method, path) in tickertalk::http::ROUTES {
                println!("{method} {path}");
            }
        }
        Command::BrokerCleanup => {
            config.validate(false)?;
            tickertalk::broker::Topology::new(&config.broker_prefix)
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
            store::rooms::ensure(&db, &["General", "Random"]).await?;
            tracing::info!("default rooms present: General, Random");
        }
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
