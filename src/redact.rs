//! Normalization and consistent numbered placeholders for volatile values.
