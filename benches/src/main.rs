//! `ufom`: evaluate hypergradients, the paper's closed forms, data sets and benchmarks.

mod cli;
mod config;
mod data_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Hypergradient estimators for approximate bi-level optimisation: UFOM, FOM, exact.
#[derive(Parser)]
#[command(name = "ufom", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// More log output on stderr (-v: progress details, -vv: debug). Warnings show by default.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    verbose: u8,
    /// Errors only on stderr (no warnings).
    #[arg(short, long, global = true)]
    quiet: bool,
}

/// Logs to stderr: `RUST_LOG` (`log_filter`) when set, else warnings (or what -v/-q ask for);
/// colours only on a terminal.
fn init_logging(verbose: u8, quiet: bool, log_filter: Option<&str>) {
    use std::io::IsTerminal;
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::new(log_filter.unwrap_or(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate one hypergradient of M^(r) at θ with a chosen estimator.
    Hypergrad(cli::hypergrad::HypergradArgs),
    /// Print b2 and A of the Theorem-2 counterexample for a bias level D.
    Counterexample(cli::theory::CounterexampleArgs),
    /// Print the optimal q* (eq. 21) and whether eq. 20 holds.
    Qstar(cli::theory::QstarArgs),
    /// Inspect, verify or fetch data sets.
    Data(data_cmd::DataArgs),
    /// Run benchmark experiments under matched function-call budgets and write reports.
    Bench(cli::bench::BenchArgs),
    /// Map every estimator setting's bias², variance and cost on four problems (map.json,
    /// map.md, one SVG per problem).
    Map(cli::map::MapArgs),
    /// Run cells of a planned bench (`ufom bench --plan DIR`), e.g. as a SLURM array task.
    Cell(cli::cluster::CellArgs),
    /// Write a SLURM job array (sbatch script) over a plan's unfinished cells.
    Slurm(cli::cluster::SlurmArgs),
    /// Say what this build finds (cuda feature, CUDA libraries, device) and check the device's
    /// gradients and HVPs against the CPU on every built-in problem.
    Doctor(cli::doctor::DoctorArgs),
    /// Re-render Markdown, SVG and dashboard files from a folder's experiment JSON reports.
    Report(cli::report::ReportArgs),
    /// Write the report schemas (generated from the report types) into reports/schema/.
    Schema(cli::schema::SchemaArgs),
}

fn main() -> ExitCode {
    ufom_bench::process::configure();
    // The environment is read here, once (every variable: `config`'s table).
    let config = config::Config::from_env();
    let cli = match Cli::try_parse() {
        Ok(cli) => {
            init_logging(cli.verbose, cli.quiet, config.log_filter.as_deref());
            cli
        }
        // --help and --version print as usual.
        Err(e) if !e.use_stderr() => e.exit(),
        // A command without its subcommand: its help, as help is printed (on stderr, exit 2).
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return ExitCode::from(2);
        }
        // Argument errors: one line on stderr, exit code 2.
        Err(e) => {
            let text = e.to_string();
            let lines: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
                .collect();
            eprintln!("{}", lines.join("; "));
            return ExitCode::from(2);
        }
    };
    let result = match &cli.command {
        Command::Hypergrad(a) => cli::hypergrad::run(a),
        Command::Counterexample(a) => cli::theory::counterexample(a),
        Command::Qstar(a) => cli::theory::qstar(a),
        Command::Data(a) => data_cmd::run(a, &config),
        Command::Bench(a) => cli::bench::run(a, &config),
        Command::Report(a) => cli::report::run(a, &config),
        Command::Map(a) => cli::map::run(a),
        Command::Doctor(a) => cli::doctor::run(a, &config),
        Command::Cell(a) => cli::cluster::cell(a, &config),
        Command::Slurm(a) => cli::cluster::slurm(a, &config),
        Command::Schema(a) => cli::schema::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", cli::one_line(&e));
            ExitCode::from(cli::exit_code(&e))
        }
    }
}
