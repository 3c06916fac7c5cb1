//! The `zrm` binary: parse the command line, run, map errors to exit codes
//! (0 ok, 1 failed, 2 usage or configuration).

use clap::Parser;

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Invoked as `mysql-zrm`: ZRM's command line, translated (src/cli/compat.rs).
    let cli = if zrm::cli::compat::invoked_as_mysql_zrm(&args) {
        match zrm::cli::compat::command_line(&args) {
            Ok(cli) => cli,
            Err(code) => std::process::exit(code),
        }
    } else {
        zrm::cli::Cli::parse_from(args)
    };
    init_logging(cli.global.quiet, cli.global.verbose);
    let json = cli.global.format == zrm::output::Format::Json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("zrm: error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = match runtime.block_on(zrm::cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("zrm: error: {e}");
            if json {
                zrm::output::emit_json(
                    &serde_json::json!({ "error": e.to_string(), "exit_code": e.exit_code() }),
                );
            }
            e.exit_code()
        }
    };
    runtime.shutdown_background();
    std::process::exit(code);
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
