//! Every stack of the world side by side, high addresses at the top, the one RSP is on
//! marked: a switch shows as the RSP arrow leaving one column for another.

use crate::components::{hex, word};
use session::StackColumn;
use std::rc::Rc;
use yew::prelude::*;

/// The stack columns.
#[derive(Properties, PartialEq)]
pub struct StacksProps {
    /// One per stack, in the world's order.
    pub stacks: Rc<Vec<StackColumn>>,
}

/// The stacks pane.
#[component]
pub fn Stacks(props: &StacksProps) -> Html {
    html! {
        <section class="panel stacks">
            <h2>{"Stacks"}<span class="hint">{"high addresses at the top; ▶ marks where a register points"}</span></h2>
            <div class="columns">
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
        <div class={classes!("stack", c.live.then_some("live"), (!c.others.is_empty()).then_some("other-sp"))} data-stack={c.name.clone()}>
            <header>
                <span class="name">{&c.name}</span>
                if c.live { <span class="badge">{"live"}</span> }
                <div class="range">{format!("owner {} · hi {} · lo {}", c.g, hex(c.hi), hex(c.lo))}</div>
                <div class="status">{status}</div>
            </header>
            <table>
                <tbody>
                if c.more_above { <tr class="elided"><td colspan="4">{"⋮ hi"}</td></tr> }
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
                    </tr>
                }) }
                if c.more_below { <tr class="elided"><td colspan="4">{"⋮ lo"}</td></tr> }
                if c.guard_below { <tr class="guard"><td colspan="4">{"guard page below lo: unmapped, an overflow faults here"}</td></tr> }
                </tbody>
            </table>
        </div>
    }
}
