//! Shared helpers for stackswitch's integration and differential tests.
