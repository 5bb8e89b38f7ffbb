//! placeholder, written by the allowlist helper
