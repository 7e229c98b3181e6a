//! The page's monotonic clock, for run budgets and run speeds.

/// Milliseconds from the page's `performance.now()`.
#[cfg(target_arch = "wasm32")]
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

/// On the host (tests), the session's own clock.
#[cfg(not(target_arch = "wasm32"))]
pub fn now_ms() -> f64 {
    session::default_clock()
}
