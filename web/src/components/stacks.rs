//! Every stack of the world side by side, high addresses at the top, the one RSP is on
//! marked: a switch shows as the RSP arrow leaving one column for another.

use crate::components::search::{write_buttons, write_click};
use crate::components::{hex, reveal, word};
use crate::state::Action;
use session::StackColumn;
use session::Target;
use std::rc::Rc;
use web_sys::Element;
use yew::prelude::*;

/// The stack columns.
#[derive(Properties, PartialEq)]
pub struct StacksProps {
    /// One per stack, in the world's order.
    pub stacks: Rc<Vec<StackColumn>>,
    /// The step of the signal the thread stopped at, if it did: a fault brings the live
    /// column into view.
    pub fault_step: Option<u64>,
    /// Presenter mode (its type size moves the columns).
    pub presenter: bool,
    /// A run is in progress: the columns are not scrolled until it stops (reading their
    /// boxes at every frame forces a layout per frame, which halved run mode's speed).
    #[prop_or_default]
    pub running: bool,
    /// Where "who wrote this word?" goes.
    pub on_action: Callback<Action>,
}

/// The stacks pane.
#[component]
pub fn Stacks(props: &StacksProps) -> Html {
    let columns = use_node_ref();
    let live = props.stacks.iter().find(|c| c.live).map(|c| c.name.clone());
    let sp_row = props.stacks.iter().find(|c| c.live).and_then(|c| {
        c.rows
            .iter()
            .position(|r| r.marks.iter().any(|m| m == "RSP"))
    });
    {
        // When RSP changes column (a switch) or a fault arrives, the live column comes
        // into view, and in it the RSP row; plain steps leave the scroll alone.
        let columns = columns.clone();
        use_effect_with(
            (
                live.clone(),
                props.fault_step,
                props.presenter,
                props.running,
            ),
            move |(_, _, _, running)| {
                if *running {
                    return;
                }
                if let Some(outer) = columns.cast::<Element>() {
                    if let Ok(Some(col)) = outer.query_selector(".stack.live") {
                        reveal(&outer, &col, true);
                    }
                }
            },
        );
    }
    {
        let columns = columns.clone();
        use_effect_with(
            (
                live,
                sp_row,
                props.fault_step,
                props.presenter,
                props.running,
            ),
            move |(_, _, _, _, running)| {
                if *running {
                    return;
                }
                if let Some(outer) = columns.cast::<Element>() {
                    if let (Ok(Some(rows)), Ok(Some(row))) = (
                        outer.query_selector(".stack.live .rows"),
                        outer.query_selector(".stack.live tr.sp"),
                    ) {
                        reveal(&rows, &row, false);
                    }
                }
            },
        );
    }
    let onclick = {
        let cb = props.on_action.clone();
        Callback::from(move |e: MouseEvent| {
            if let Some(a) = write_click(&e) {
                cb.emit(a);
            }
        })
    };
    html! {
        <section class="panel stacks" id="stacks">
            <h2>{"Stacks"}<span class="hint">{"high addresses at the top; ▶ marks where a register points; Tab reaches each column"}</span></h2>
            <div class="columns" ref={columns} onclick={onclick}>
                { for props.stacks.iter().map(|c| html! { <Column key={c.name.clone()} column={c.clone()} /> }) }
            </div>
        </section>
    }
}

/// One column's content: a step re-renders only the columns it changed (usually the live
/// one).
#[derive(Properties, PartialEq)]
struct ColumnProps {
    column: StackColumn,
}

/// A stack as a column.
#[component]
fn Column(props: &ColumnProps) -> Html {
    let c = &props.column;
    let status = if c.live {
        "RSP is here".to_string()
    } else if !c.others.is_empty() {
        format!("SP of {} is here", c.others.join(", "))
    } else if let Some(sp) = c.saved_sp {
        format!("not running; {}.sched.sp = hi-{:#x}", c.g, c.hi - sp)
    } else {
        "not running".to_string()
    };
    html! {
        <div class={classes!("stack", c.live.then_some("live"), (!c.others.is_empty()).then_some("other-sp"))} data-stack={c.name.clone()}
             tabindex="0" role="region" aria-label={format!("{}{}", c.name, if c.live { ", live: RSP is here" } else { "" })}>
            <header>
                <span class="name">{&c.name}</span>
                if c.live { <span class="badge">{"live"}</span> }
                <div class="range">{format!("owner {} · hi {} · lo {}", c.g, hex(c.hi), hex(c.lo))}</div>
                <div class="status">{status}</div>
            </header>
            <div class="rows">
            <table>
                <tbody>
                if c.more_above { <tr class="elided"><td colspan="5">{"⋮ hi"}</td></tr> }
                { for c.rows.iter().map(|r| html! {
                    <tr class={classes!(
                            r.free.then_some("free"),
                            r.written.then_some("written"),
                            (!r.marks.is_empty()).then_some("marked"),
                            r.reading.as_deref().is_some_and(|t| t.starts_with('↩')).then_some("ret"),
                            r.marks.iter().any(|m| m == "RSP").then_some("sp"))}>
                        <td class="marks">
                            if !r.marks.is_empty() {
                                <span class="mark">{format!("{} ▶", r.marks.join(", "))}</span>
                            }
                        </td>
                        <td class="offset" title={hex(r.addr)}>{format!("hi-{:#x}", r.offset_from_hi)}</td>
                        <td class="value">{word(r.value)}</td>
                        <td class="reading">
                            if let Some(slot) = &r.slot { <span class="slot">{slot}</span>{" "} }
                            {r.reading.clone().unwrap_or_default()}
                        </td>
                        <td class="search">{write_buttons(&format!("the word at {}", hex(r.addr)), &Target::Memory { addr: r.addr, size: 8 })}</td>
                    </tr>
                }) }
                if c.more_below { <tr class="elided"><td colspan="5">{"⋮ lo"}</td></tr> }
                if c.guard_below { <tr class="guard"><td colspan="5">{"guard page below lo: unmapped, an overflow faults here"}</td></tr> }
                </tbody>
            </table>
            </div>
        </div>
    }
}
