//! `spinflow`: run the Spin app with our wasmtime host (`up`), build its
//! components (`build`, `preinit`), or train and log the Iris model (`train`).

mod preinit;
mod up;

use clap::{Parser, Subcommand};

/// jemalloc instead of glibc's malloc: every tokio worker builds and drops request
/// stores, and glibc's arena locks make the workers contend on `malloc`/`free`.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "spinflow",
    version,
    about = "Run the spinflow Spin app on a wasmtime host"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the application's HTTP trigger, as `spin up` does.
    Up(Box<up::UpArgs>),
    /// Run every component's build command from the manifest, as `spin build` does.
    Build(up::BuildArgs),
    /// Snapshot a component after its initialisation export ran (wasmtime's wizer),
    /// so that every instance starts initialised.
    Preinit(preinit::PreinitArgs),
    /// Train the Iris model and log it to an MLflow tracking server.
    Train(trainer::TrainArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(args) => up::run(*args),
        Command::Build(args) => host::builder::build(&args.from, &args.component_id),
        Command::Preinit(args) => preinit::run(&args),
        Command::Train(args) => trainer::run(&args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
