//! One insta-format `.snap` per runnable block.
