//! docktest keeps a Docker networking guide true.
//!
//! The crate is shaped like its pipeline; each module is one stage:
//!
//! ```text
//! book/src/*.md ──markdown──▶ fenced blocks with spans ──snippet──▶ Page { blocks { steps } }
//!      ──engine──▶ transcript per block (output, exit status, timing), against a real Docker engine
//!      ──redact / matching──▶ verdict against the page's expected output
//!      ──snapshot──▶ snapshots/*.snap (insta format)
//!      ──runner / cli──▶ report and exit code
//! ```
//!
//! `engine` is the only module that talks to Docker or spawns terminals; every other stage is pure.

pub mod cli;
pub mod config;
pub mod engine;
pub mod markdown;
pub mod matching;
pub mod preprocessor;
pub mod redact;
pub mod report;
pub mod runner;
pub mod snapshot;
pub mod snippet;
pub mod update;
