//! Expected output (with `...` and `[..]`) against what really ran, through consistent redaction.
