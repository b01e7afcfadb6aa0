//! The bot binary: configuration, logging, signals; the work is in the library.

use std::process::ExitCode;

use clap::Parser;
use tickertalk_bot::{BotConfig, worker};
use tokio::sync::watch;

fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cfg = match BotConfig::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            eprintln!(
                "tickertalk-bot: {}",
                e.to_string().lines().next().unwrap_or("invalid configuration")
            );
            return ExitCode::from(1);
        }
    };
    if let Err(e) = cfg.validate() {
        eprintln!("tickertalk-bot: error: {e}");
        return ExitCode::from(1);
    }
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    if cfg.command == Some(tickertalk_bot::BotCommand::Healthcheck) {
        return match runtime.block_on(tickertalk_bot::healthcheck(&cfg)) {
            Ok(()) => {
                println!("ready");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("tickertalk-bot: not ready: {e}");
                ExitCode::from(1)
            }
        };
    }
    tickertalk_wire::telemetry::init("info");
    runtime.block_on(async move {
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("signal received; finishing");
            stop_tx.send_replace(true);
        });
        tracing::info!(config = ?cfg, "bot starting");
        tickertalk_wire::prometheus::install();
        tickertalk_bot::describe_metrics();
        if !cfg.metrics_addr.is_empty() {
            match tickertalk_bot::metrics_http::bind(&cfg.metrics_addr).await {
                Ok(listener) => {
                    tokio::spawn(tickertalk_bot::metrics_http::serve(listener, stop_rx.clone()));
                }
                Err(e) => {
                    eprintln!("tickertalk-bot: error: {e}");
                    return ExitCode::from(1);
                }
            }
        }
        match worker::run(cfg, stop_rx).await {
            Ok(()) => {
                tracing::info!("bot stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("tickertalk-bot: error: {e}");
                ExitCode::from(1)
            }
        }
    })
}

async fn shutdown_signal() {
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
