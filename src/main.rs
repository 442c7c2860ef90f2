//! `mdbook-docktest`: a thin shell over the library; the exit code says how the run went.

use clap::Parser;
use mdbook_docktest::cli::{self, Cli, Outcome};

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap exits 0 for --help/--version and 2 for usage errors, as docktest does.
            std::process::exit(if e.use_stderr() {
                Outcome::Error as i32
            } else {
                0
            });
        }
    };
    let code = match cli::run(cli) {
        Ok(outcome) => outcome as i32,
        Err(fatal) => {
            // One line, causes included: the first thing a user reads must say what failed and why.
            let causes: Vec<String> = fatal.error.chain().map(|c| c.to_string()).collect();
            eprintln!("error: {}", causes.join(": "));
            if let Some(hint) = fatal.hint {
                eprintln!("hint: {hint}");
            }
            Outcome::Error as i32
        }
    };
    std::process::exit(code);
}
