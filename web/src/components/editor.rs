//! The playground: edit a source file, assemble it and run it again. An assembler error
//! shows at its line and column: the line number marked in the gutter, the message with
//! the line and a caret under the column, and the text cursor put there.

use session::{Files, LoadError, SourceFile};
use crate::state::Action;
use std::collections::HashMap;
use std::rc::Rc;
use web_sys::{Element, HtmlTextAreaElement};
use yew::prelude::*;

/// What the editor needs.
#[derive(Properties, PartialEq)]
pub struct EditorProps {
    /// The session's files (the editable ones are the lesson's own).
    pub files: Rc<Files>,
    /// The file holding RIP, opened first.
    pub current_file: Option<String>,
    /// Texts that failed to assemble, shown instead of the session's.
    pub drafts: Rc<Vec<(String, String)>>,
    /// The last assembler error.
    pub error: Option<LoadError>,
    /// Where actions go.
    pub on_action: Callback<Action>,
}

/// The text of a file as the session has it.
fn file_text(f: &SourceFile) -> String {
    let mut text: String = f
        .lines
        .iter()
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    text.push('\n');
    text
}

/// The offset, in UTF-16 units as a textarea counts, of a 1-based line and column.
fn utf16_offset(text: &str, line: u32, col: u32) -> u32 {
    let mut offset = 0;
    for (i, l) in text.split('\n').enumerate() {
        if i + 1 == line as usize {
            let prefix: String = l.chars().take(col.saturating_sub(1) as usize).collect();
            return offset + prefix.encode_utf16().count() as u32;
        }
        offset += l.encode_utf16().count() as u32 + 1;
    }
    offset
}

/// The editor pane.
#[component]
pub fn Editor(props: &EditorProps) -> Html {
    let error_file = props
        .error
        .as_ref()
        .filter(|e| e.line > 0)
        .map(|e| e.file.clone());
    let picked = use_state(|| {
        error_file
            .clone()
            .or_else(|| props.drafts.first().map(|(f, _)| f.clone()))
            .or_else(|| {
                props
                    .current_file
                    .clone()
                    .filter(|c| props.files.iter().any(|f| f.editable && &f.name == c))
            })
            .or_else(|| {
                props
                    .files
                    .iter()
                    .find(|f| f.editable)
                    .map(|f| f.name.clone())
            })
    });
    // The text typed so far per file, starting from the draft or the session's text.
    let texts = use_mut_ref(HashMap::<String, String>::new);
    let version = use_state(|| 0u32);
    let area = use_node_ref();
    let gutter = use_node_ref();
    let shown = (*picked).clone().unwrap_or_default();
    let text = texts.borrow().get(&shown).cloned().unwrap_or_else(|| {
        props
            .drafts
            .iter()
            .find(|(f, _)| *f == shown)
            .map(|(_, t)| t.clone())
            .or_else(|| props.files.iter().find(|f| f.name == shown).map(file_text))
            .unwrap_or_default()
    });
    let error_here = props
        .error
        .as_ref()
        .filter(|e| e.line > 0 && e.file == shown)
        .cloned();
    {
        // Put the text cursor at the error, so typing fixes it.
        let area = area.clone();
        let text = text.clone();
        use_effect_with(props.error.clone(), move |e| {
            if let (Some(e), Some(a)) = (e, area.cast::<HtmlTextAreaElement>()) {
                if e.line > 0 {
                    let at = utf16_offset(&text, e.line, e.col);
                    let _ = a.focus();
                    let _ = a.set_selection_range(at, at);
                }
            }
        });
    }
    let on_input = {
        let texts = texts.clone();
        let shown = shown.clone();
        let version = version.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(a) = e.target_dyn_into::<HtmlTextAreaElement>() {
                texts.borrow_mut().insert(shown.clone(), a.value());
                version.set(*version + 1);
            }
        })
    };
    let on_scroll = {
        let gutter = gutter.clone();
        Callback::from(move |e: Event| {
            if let (Some(a), Some(g)) = (
                e.target_dyn_into::<HtmlTextAreaElement>(),
                gutter.cast::<Element>(),
            ) {
                g.set_scroll_top(a.scroll_top());
            }
        })
    };
    let assemble = {
        let cb = props.on_action.clone();
        let area = area.clone();
        let shown = shown.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(a) = area.cast::<HtmlTextAreaElement>() {
                cb.emit(Action::Assemble(shown.clone(), a.value()));
            }
        })
    };
    let snippet = {
        let cb = props.on_action.clone();
        Callback::from(move |_: MouseEvent| cb.emit(Action::NewSnippet))
    };
    let revert = {
        let cb = props.on_action.clone();
        let texts = texts.clone();
        Callback::from(move |_: MouseEvent| {
            texts.borrow_mut().clear();
            cb.emit(Action::Revert);
        })
    };
    let close = {
        let cb = props.on_action.clone();
        Callback::from(move |_: MouseEvent| cb.emit(Action::Edit(false)))
    };
    let tabs = props.files.iter().filter(|f| f.editable).map(|f| {
        let name = f.name.clone();
        let onclick = {
            let picked = picked.clone();
            Callback::from(move |_: MouseEvent| picked.set(Some(name.clone())))
        };
        html! {
            <button class={classes!("tab", (f.name == shown).then_some("on"))} {onclick}>{&f.name}</button>
        }
    });
    let line_count = text.split('\n').count();
    let error_line = error_here.as_ref().map(|e| e.line as usize);
    html! {
        <section class="panel source editor">
            <h2>{"Playground"}<span class="tabs">{ for tabs }</span>
                <span class="hint">{"edit, then assemble and run; step back works as before"}</span></h2>
            <div class="edit-area">
                <pre class="edit-gutter" ref={gutter} aria-hidden="true">
                    { for (1..=line_count).map(|n| html! {
                        <div class={classes!((Some(n) == error_line).then_some("error-line"))}>{n}</div>
                    }) }
                </pre>
                <textarea id="editor" ref={area} spellcheck="false" value={text}
                          oninput={on_input} onscroll={on_scroll} />
            </div>
            if let Some(e) = &props.error {
                <div id="asm-error" class="asm-error" role="alert"
                     data-file={e.file.clone()} data-line={e.line.to_string()} data-col={e.col.to_string()}>
                    if e.line > 0 {
                        <div class="where">{format!("{}: line {}, column {}", e.file, e.line, e.col)}</div>
                    }
                    <div class="message">{&e.message}</div>
                    <pre class="caret">{&e.rendered}</pre>
                </div>
            }
            <div class="edit-buttons">
                <button id="assemble" onclick={assemble}>{"Assemble and run"}</button>
                <button id="new-snippet" onclick={snippet}
                        title="Replace the harness with a small loop to start from">{"New snippet"}</button>
                <button id="revert" onclick={revert}>{"Revert to the lesson's source"}</button>
                <button id="edit-close" onclick={close}>{"Close"}</button>
            </div>
        </section>
    }
}
