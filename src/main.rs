//! `mdbook-docktest`: a thin shell over the library; the exit code says how the run went.

fn main() {
    std::process::exit(mdbook_docktest::cli::main());
}
