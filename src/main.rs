//! The `zrm` binary: parse the command line, run, map errors to exit codes
//! (0 ok, 1 failed, 2 usage or configuration), and log the outcome (`log_file`).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;

fn main() {
    let started = std::time::Instant::now();
    let args: Vec<OsString> = std::env::args_os().collect();
    let argv: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let (code, error, config) = run(&args);
    let config = config.or_else(|| zrm::logfile::config_arg(&argv));
    zrm::logfile::record_outcome(
        &argv,
        config.as_deref(),
        code,
        started.elapsed(),
        error.as_deref(),
    );
    std::process::exit(code);
}

/// Parse and run: the exit code, the error on failure, and the `--config` given (when the
/// command line could be parsed).
fn run(args: &[OsString]) -> (i32, Option<String>, Option<PathBuf>) {
    // Invoked as `mysql-zrm`: ZRM's command line, translated (src/cli/compat.rs).
    let mut around = zrm::cli::compat::Around::default();
    let parsed = if zrm::cli::compat::invoked_as_mysql_zrm(args) {
        zrm::cli::compat::command_line(args)
            .map(|(cli, a)| {
                around = a;
                cli
            })
            .map_err(|d| (d.code, d.error))
    } else {
        zrm::cli::Cli::try_parse_from(args).map_err(|e| {
            let _ = e.print();
            let code = e.exit_code();
            let error = e.to_string();
            (
                code,
                (code != 0).then(|| error.trim_start_matches("error: ").to_string()),
            )
        })
    };
    let cli = match parsed {
        Ok(cli) => cli,
        Err((code, error)) => return (code, error, None),
    };
    let config = cli.global.config.clone();
    if let Some(tmpdir) = &around.tmpdir {
        // ZRM's `tmpdir`: set before any thread starts.
        std::env::set_var("TMPDIR", tmpdir);
    }
    init_logging(cli.global.quiet, cli.global.verbose);
    let json = cli.global.format == zrm::output::Format::Json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let error = format!("cannot start the async runtime: {e}");
            eprintln!("zrm: error: {error}");
            return (1, Some(error), config);
        }
    };
    // The command runs as a task of its own, so that an interruption is seen at once even
    // while the command blocks; a panic still gets its outcome line.
    let ran = runtime.block_on(async {
        let command = tokio::spawn(zrm::cli::run(cli));
        tokio::select! {
            // A command that ends while a signal is handled (often failing because of it) ends
            // as the interruption does, once its clean-up is done.
            r = command => if zrm::cleanup::interrupted() {
                Err(zrm::cleanup::until_interrupted().await)
            } else {
                Ok(r)
            },
            interrupted = zrm::cleanup::until_interrupted() => Err(interrupted),
        }
    });
    let outcome = match ran {
        Err((code, message)) => (code, Some(message), config),
        Ok(Ok(Ok(code))) => (code, None, config),
        Ok(Ok(Err(e))) => {
            eprintln!("zrm: error: {e}");
            if json {
                zrm::output::emit_json(
                    &serde_json::json!({ "error": e.to_string(), "exit_code": e.exit_code() }),
                );
            }
            (e.exit_code(), Some(e.to_string()), config)
        }
        Ok(Err(join)) => {
            let what = join
                .try_into_panic()
                .ok()
                .and_then(|p| {
                    p.downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| p.downcast_ref::<String>().cloned())
                })
                .unwrap_or_default();
            (101, Some(format!("zrm panicked: {what}")), config)
        }
    };
    runtime.shutdown_background();
    around.finish(outcome.0, outcome.1.as_deref());
    outcome
}

fn init_logging(quiet: bool, verbose: u8) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ZRM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("zrm={level}")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(zrm::logfile::writer)
        .with_target(false)
        .with_ansi(
            std::env::var_os("NO_COLOR").is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        )
        .init();
}
