//! The source as written, one file at a time, with the current line marked and the machine
//! instructions each line became beside it. A click on a line number sets or clears a
//! breakpoint; a click on a line puts the cursor there (for "run to line").
//!
//! Each line is its own component with plain props, so a step re-renders the two lines
//! whose marks changed, not the hundreds of lines of a runtime file; and a file is cut
//! into chunks the browser lays out only when they come into view.

use crate::components::hex;
use crate::state::Action;
use session::{Files, SourceLine, Syntax};
use std::rc::Rc;
use wasm_bindgen::JsCast;
use web_sys::Element;
use yew::prelude::*;

/// The files and where RIP is.
#[derive(Properties, PartialEq)]
pub struct SourceProps {
    /// Every source file.
    pub files: Rc<Files>,
    /// The instruction at RIP.
    pub current_addr: Option<u64>,
    /// The instruction of the last signal.
    pub fault_addr: Option<u64>,
    /// Lines with a breakpoint.
    pub breakpoints: Rc<Vec<(String, u32)>>,
    /// The file holding RIP's instruction.
    pub current_file: Option<String>,
    /// The line holding it.
    pub current_line: Option<u32>,
    /// The syntax of the instruction column.
    pub syntax: Syntax,
    /// The line under the cursor.
    pub cursor: Option<(String, u32)>,
    /// Presenter mode: a change of type size must bring the current line back into view.
    pub presenter: bool,
    /// A run is in progress: the current line is brought into view when it stops, not at
    /// every frame (see [`crate::components::stacks::StacksProps::running`]).
    #[prop_or_default]
    pub running: bool,
    /// Where breakpoint and cursor clicks go.
    pub on_action: Callback<Action>,
}

/// The source pane.
#[component]
pub fn SourceView(props: &SourceProps) -> Html {
    // A file the user picked; following RIP into another file forgets the choice.
    let picked = use_state(|| None::<String>);
    {
        let picked = picked.clone();
        use_effect_with(props.current_file.clone(), move |_| picked.set(None));
    }
    let shown = (*picked)
        .clone()
        .or_else(|| props.current_file.clone())
        .or_else(|| props.files.first().map(|f| f.name.clone()));
    let current_row = use_node_ref();
    {
        // Keep the current line in view as RIP moves, scrolling only the pane.
        let current_row = current_row.clone();
        use_effect_with(
            (
                shown.clone(),
                props.current_line,
                props.presenter,
                props.running,
            ),
            move |(_, _, _, running)| {
                if *running {
                    return;
                }
                if let Some(row) = current_row.cast::<Element>() {
                    crate::components::reveal_in_pane(&row, ".scroll");
                }
            },
        );
    }
    let tabs = props.files.iter().map(|f| {
        let name = f.name.clone();
        let is_shown = shown.as_deref() == Some(f.name.as_str());
        let has_rip = props.current_file.as_deref() == Some(f.name.as_str());
        let onclick = {
            let picked = picked.clone();
            Callback::from(move |_: MouseEvent| picked.set(Some(name.clone())))
        };
        html! {
            <button class={classes!("tab", is_shown.then_some("on"))} {onclick}>
                {&f.name}{if has_rip { " ●" } else { "" }}
            </button>
        }
    });
    // Every file stays mounted, the ones not shown hidden: following RIP into another file
    // only flips which table shows, and a step re-renders just the file(s) whose marks
    // moved.
    let tables = props.files.iter().map(|f| {
        let here = |a: Option<u64>| {
            a.filter(|a| f.lines.iter().any(|l| l.instructions.iter().any(|i| i.addr == *a)))
        };
        let current = props
            .current_file
            .as_deref()
            .filter(|c| *c == f.name)
            .and(props.current_addr);
        html! {
            <FileTable key={f.name.clone()} files={props.files.clone()} name={f.name.clone()}
                       shown={shown.as_deref() == Some(f.name.as_str())}
                       {current} faulted={here(props.fault_addr)}
                       breakpoints={Rc::new(props.breakpoints.iter().filter(|(bf, _)| *bf == f.name).map(|(_, l)| *l).collect::<Vec<u32>>())}
                       cursor={props.cursor.as_ref().filter(|(cf, _)| *cf == f.name).map(|(_, l)| *l)}
                       syntax={props.syntax} row={current.map(|_| current_row.clone())}
                       on_action={props.on_action.clone()} />
        }
    });
    html! {
        <section class="panel source">
            <h2>
                {"Source"}<span class="tabs">{ for tabs }</span>
                <span class="hint">{match props.syntax {
                    Syntax::Go => "beside each line: the bytes it became",
                    Syntax::Intel => "beside each line: its instructions, Intel syntax",
                    Syntax::Att => "beside each line: its instructions, AT&T syntax",
                }}</span>
            </h2>
            <div class="scroll">
                { for tables }
            </div>
        </section>
    }
}

/// One line's marks.
#[derive(Properties, PartialEq)]
struct LineProps {
    line: Rc<SourceLine>,
    /// The instruction at RIP, when it is on this line.
    current: Option<u64>,
    /// The faulting instruction, when it is on this line.
    faulted: Option<u64>,
    breakpoint: bool,
    cursor: bool,
    syntax: Syntax,
    /// The current line's ref, for scrolling it into view.
    row: Option<NodeRef>,
}

/// A source line with its instructions.
#[component]
fn Line(props: &LineProps) -> Html {
    let line = &props.line;
    let has_code = !line.instructions.is_empty();
    html! {
        <tr class={classes!("line", props.current.is_some().then_some("current"), props.faulted.is_some().then_some("faulted"),
                            props.breakpoint.then_some("breakpoint"), props.cursor.then_some("cursor"))}
            ref={props.row.clone().unwrap_or_default()} data-line={line.number.to_string()}>
            <td class={classes!("gutter", has_code.then_some("has-code"))}
                title={if has_code { "set or clear a breakpoint" } else { "" }}>
                <span class="bp">{if props.breakpoint { "●" } else { "" }}</span>{line.number}
            </td>
            <td class="text"><pre>{&line.text}</pre></td>
            <td class="machine">
                { for line.instructions.iter().map(|i| html! {
                    <div class={classes!("ins", (props.current == Some(i.addr)).then_some("current"),
                                         (props.faulted == Some(i.addr)).then_some("faulted"))}
                         title={i.intel.clone()}>
                        <span class="addr">{hex(i.addr)}</span>
                        <span class={classes!("asm", (props.syntax == Syntax::Go).then_some("bytes"))}>
                            {i.text(props.syntax)}
                        </span>
                    </div>
                }) }
            </td>
        </tr>
    }
}

/// One file's props: the files by identity, the marks that fall in this file.
#[derive(Properties)]
struct FileProps {
    files: Rc<Files>,
    name: String,
    shown: bool,
    /// The instruction at RIP, when it is in this file.
    current: Option<u64>,
    /// The faulting instruction, when it is in this file.
    faulted: Option<u64>,
    /// Lines of this file with a breakpoint.
    breakpoints: Rc<Vec<u32>>,
    /// The cursor's line, when it is in this file.
    cursor: Option<u32>,
    syntax: Syntax,
    row: Option<NodeRef>,
    on_action: Callback<Action>,
}

impl PartialEq for FileProps {
    fn eq(&self, o: &FileProps) -> bool {
        // on_action only dispatches to the page's reducer: any two are the same.
        Rc::ptr_eq(&self.files, &o.files)
            && (&self.name, self.shown, self.current, self.faulted)
                == (&o.name, o.shown, o.current, o.faulted)
            && self.breakpoints == o.breakpoints
            && (self.cursor, self.syntax) == (o.cursor, o.syntax)
            && self.row == o.row
    }
}

/// Lines per chunk: each chunk is its own table in a box the browser may skip laying out
/// while it is off screen (`content-visibility: auto`, style.css), so arriving in a long
/// runtime file, or a mark moving inside it, lays out a screenful, not the whole file.
const CHUNK_LINES: usize = 32;

/// The width a line takes in a monospace `<pre>`: tabs to the next multiple of 8 (the
/// default `tab-size`), every other character one column.
fn columns(text: &str) -> usize {
    text.chars().fold(
        0,
        |col, c| if c == '\t' { col / 8 * 8 + 8 } else { col + 1 },
    )
}

/// A file as a table of lines.
///
/// Its rows are built the first time the file is shown, not when the page opens: a
/// release's runtime files are thousands of lines, most never visited in a lesson.
#[component]
fn FileTable(props: &FileProps) -> Html {
    let ever_shown = use_mut_ref(|| false);
    if props.shown {
        *ever_shown.borrow_mut() = true;
    }
    let Some(file) = props.files.iter().find(|f| f.name == props.name) else {
        return html! {};
    };
    if !*ever_shown.borrow() {
        return html! {
            <div class="code" hidden=true data-file={props.name.clone()}></div>
        };
    }
    // One listener for the whole table (not two per line, which would make every render
    // of a long file slower): the row says which line, the cell whether it was the gutter.
    let on_click = {
        let cb = props.on_action.clone();
        let file_name = props.name.clone();
        Callback::from(move |e: MouseEvent| {
            let Some(cell) = e
                .target()
                .and_then(|t| t.dyn_into::<Element>().ok())
                .and_then(|el| el.closest("td").ok().flatten())
            else {
                return;
            };
            let Some(line) = cell
                .closest("tr")
                .ok()
                .flatten()
                .and_then(|tr| tr.get_attribute("data-line"))
                .and_then(|l| l.parse::<u32>().ok())
            else {
                return;
            };
            if cell.class_name().split(' ').any(|c| c == "gutter") {
                cb.emit(Action::ToggleBreakpoint(file_name.clone(), line));
            } else if cell.class_name().split(' ').any(|c| c == "text") {
                cb.emit(Action::SetCursor(file_name.clone(), line));
            }
        })
    };
    let row = |line: &Rc<SourceLine>| {
        let has = |a: Option<u64>| a.filter(|a| line.instructions.iter().any(|i| i.addr == *a));
        let current = has(props.current);
        html! {
            <Line key={line.number} line={line.clone()} {current} faulted={has(props.faulted)}
                  breakpoint={props.breakpoints.contains(&line.number)}
                  cursor={props.cursor == Some(line.number)} syntax={props.syntax}
                  row={current.and(props.row.clone())} />
        }
    };
    // The chunks are tables of fixed layout sharing their column widths (set here from
    // the file's longest line and line count, capped in style.css), so they line up as
    // one table would.
    let widest = file
        .lines
        .iter()
        .map(|l| columns(&l.text))
        .max()
        .unwrap_or(0);
    let digits = file.lines.len().max(1).to_string().len();
    let chunks = file.lines.chunks(CHUNK_LINES).map(|lines| {
        // Its height in text rows before it is first laid out: a line is as tall as its
        // instructions (one per row), at least one row.
        let rows: usize = lines.iter().map(|l| l.instructions.len().max(1)).sum();
        html! {
            <div class="chunk" key={lines[0].number} style={format!("--rows: {rows}")}>
                <table>
                    <colgroup><col class="gutter-col" /><col class="text-col" /><col /></colgroup>
                    <tbody>{ for lines.iter().map(row) }</tbody>
                </table>
            </div>
        }
    });
    html! {
        <div class={classes!("code", props.shown.then_some("shown"))} hidden={!props.shown}
             data-file={props.name.clone()} onclick={on_click}
             style={format!("--text-ch: {widest}; --digits: {digits}")}>
            { for chunks }
        </div>
    }
}
