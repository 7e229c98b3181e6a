//! The page's components: each renders one part of a [`session::Snapshot`].

pub mod app;
pub mod controls;
pub mod editor;
pub mod help;
pub mod lesson;
pub mod memory;
pub mod registers;
pub mod search;
pub mod signal;
pub mod source;
pub mod stacks;
pub mod structures;
pub mod threads;
pub mod timeline;

/// An address as the page prints it: hex without leading zeros (the one formatter of
/// `machine::num`, so the page and the CLI print alike).
pub use session::machine::num::hex;

/// A 64-bit word at full width, so columns of words line up.
pub fn word(v: u64) -> String {
    format!("{v:016x}")
}

/// Scrolls `inner` into view inside `outer` only, never the page (which would jump at each
/// step on a small screen, where the panes follow each other down the page):
/// horizontally for a stack column, vertically (to the middle) for a row.
pub fn reveal(outer: &web_sys::Element, inner: &web_sys::Element, horizontal: bool) {
    let (o, i) = (
        outer.get_bounding_client_rect(),
        inner.get_bounding_client_rect(),
    );
    if horizontal {
        if i.left() < o.left() || i.right() > o.right() {
            let delta = if i.width() > o.width() || i.left() < o.left() {
                i.left() - o.left()
            } else {
                i.right() - o.right()
            };
            outer.set_scroll_left(outer.scroll_left() + delta as i32);
        }
    } else if i.top() < o.top() || i.bottom() > o.bottom() {
        let delta = i.top() - o.top() - (o.height() - i.height()) / 2.0;
        outer.set_scroll_top(outer.scroll_top() + delta as i32);
    }
}

/// [`reveal`] of `inner` in its closest ancestor matching `pane` (vertically).
pub fn reveal_in_pane(inner: &web_sys::Element, pane: &str) {
    if let Ok(Some(outer)) = inner.closest(pane) {
        reveal(&outer, inner, false);
    }
}
