//! Runs pages against the engine and judges each block.
