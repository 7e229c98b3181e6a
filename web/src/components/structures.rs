//! The runtime's structures as a diagram (SVG): each thread's TLS slot pointing at its g,
//! each m pointing at its g0, curg and gsignal, each g pointing back at its m, and every
//! g's `stack.lo`/`stack.hi` and `sched.sp` drawn as pointers into a bar for its stack,
//! with each thread's RSP marked on the bar it is on.

use session::{GBox, Structures};
use std::rc::Rc;
use yew::prelude::*;

const ROW: f64 = 15.0;
const HEAD: f64 = 18.0;
const GAP: f64 = 12.0;
const TLS_X: f64 = 8.0;
const TLS_W: f64 = 170.0;
const M_X: f64 = 220.0;
const M_W: f64 = 170.0;
const G_X: f64 = 440.0;
const G_W: f64 = 220.0;
const BAR_X: f64 = 730.0;
const BAR_W: f64 = 22.0;
const WIDTH: f64 = 900.0;

/// The diagram's content.
#[derive(Properties, PartialEq)]
pub struct StructuresProps {
    /// TLS, m and g.
    pub structures: Rc<Structures>,
}

fn short(v: u64) -> String {
    if v == 0 {
        "nil".to_string()
    } else {
        format!("{v:#x}")
    }
}

/// A curve from a field's right edge to a box's left edge (or back).
fn arrow(x1: f64, y1: f64, x2: f64, y2: f64, class: &'static str) -> Html {
    let dx = ((x2 - x1).abs() / 2.0).max(30.0);
    let (c1, c2) = if x2 >= x1 {
        (x1 + dx, x2 - dx)
    } else {
        (x1 - dx, x2 + dx)
    };
    let d = format!("M{x1:.1},{y1:.1} C{c1:.1},{y1:.1} {c2:.1},{y2:.1} {x2:.1},{y2:.1}");
    html! { <path class={classes!("arrow", class)} d={d} marker-end="url(#head)" /> }
}

fn field_row(x: f64, y: f64, w: f64, name: &str, value: String) -> Html {
    html! {
        <>
            <text class="field" x={format!("{:.1}", x + 6.0)} y={format!("{:.1}", y + 11.0)}>{name.to_string()}</text>
            <text class="value" x={format!("{:.1}", x + w - 6.0)} y={format!("{:.1}", y + 11.0)} text-anchor="end">{value}</text>
        </>
    }
}

fn boxed(
    x: f64,
    y: f64,
    w: f64,
    rows: usize,
    title: String,
    class: &'static str,
    shown: bool,
) -> Html {
    let h = HEAD + rows as f64 * ROW + 4.0;
    html! {
        <g class={classes!("box", class, shown.then_some("shown"))}>
            <rect x={format!("{x:.1}")} y={format!("{y:.1}")} width={format!("{w:.1}")} height={format!("{h:.1}")} rx="4" />
            <text class="title" x={format!("{:.1}", x + 6.0)} y={format!("{:.1}", y + 13.0)}>{title}</text>
        </g>
    }
}

const G_H: f64 = HEAD + 5.0 * ROW + 4.0;
const M_H: f64 = HEAD + 3.0 * ROW + 4.0;
const T_H: f64 = HEAD + 2.0 * ROW + 4.0;

fn g_y(i: usize) -> f64 {
    8.0 + i as f64 * (G_H + GAP)
}
fn m_y(i: usize) -> f64 {
    8.0 + i as f64 * (M_H + GAP)
}
fn t_y(i: usize) -> f64 {
    8.0 + i as f64 * (T_H + GAP)
}

/// The reading of a field the release's layout does not have.
fn not_in_release() -> String {
    "(not in this release)".to_string()
}

/// The gs drawn: those with a stack (an extra M's g0 has none until needm).
fn drawn(s: &Structures) -> Vec<&GBox> {
    s.gs.iter().filter(|g| g.lo < g.hi).collect()
}

/// Where an address of a g's stack is on its bar: the bar spans the g's box, hi at the top.
fn bar_y(i: usize, g: &GBox, a: u64) -> f64 {
    let (top, bottom) = (g_y(i) + 4.0, g_y(i) + G_H - 4.0);
    bottom - (a - g.lo) as f64 / (g.hi - g.lo) as f64 * (bottom - top)
}

/// The structure diagram.
#[component]
pub fn StructureDiagram(props: &StructuresProps) -> Html {
    let s = &props.structures;
    let height = [g_y(drawn(s).len()), m_y(s.ms.len()), t_y(s.tls.len())]
        .into_iter()
        .fold(60.0, f64::max);
    html! {
        <section class="panel structures" id="structures">
            <h2>{"Structures"}<span class="hint">{"TLS → g → m → g0 / curg / gsignal; each g's stack bounds and saved SP point into its stack"}</span></h2>
            <div class="scroll">
                <svg xmlns="http://www.w3.org/2000/svg" viewBox={format!("0 0 {WIDTH} {height:.0}")}
                     width={format!("{WIDTH}")} height={format!("{height:.0}")} role="img"
                     aria-label="TLS, g and m structures with their pointers">
                    <defs>
                        <marker id="head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                            <path d="M0,0 L10,5 L0,10 z" />
                        </marker>
                    </defs>
                    <Frame structures={s.clone()} />
                    <Marks structures={s.clone()} />
                </svg>
            </div>
        </section>
    }
}

/// The boxes and arrows: they change when a pointer does, not when RSP moves, so a
/// step that only pushes leaves them alone.
#[derive(Properties)]
struct FrameProps {
    structures: Rc<Structures>,
}

impl PartialEq for FrameProps {
    fn eq(&self, o: &FrameProps) -> bool {
        let (a, b) = (&self.structures, &o.structures);
        Rc::ptr_eq(a, b)
            || (a.ms == b.ms
                && a.gs == b.gs
                && a.names == b.names
                && a.tls.len() == b.tls.len()
                && a.tls.iter().zip(&b.tls).all(|(x, y)| {
                    (&x.thread, x.fs_base, x.g, x.shown) == (&y.thread, y.fs_base, y.g, y.shown)
                }))
    }
}

/// Each thread's RSP on the bar of the stack it is on.
#[derive(Properties, PartialEq)]
struct MarksProps {
    structures: Rc<Structures>,
}

#[component]
fn Marks(props: &MarksProps) -> Html {
    let s = &props.structures;
    let mut out = Vec::new();
    for (i, g) in drawn(s).into_iter().enumerate() {
        for (k, t) in s.tls.iter().enumerate() {
            if t.running && (g.lo..g.hi).contains(&t.rsp) {
                let ty = bar_y(i, g, t.rsp);
                let label = if t.shown {
                    "RSP".to_string()
                } else {
                    format!("SP of {}", t.thread)
                };
                out.push(html! {
                    <g class={classes!("rsp", t.shown.then_some("shown"))} data-thread={k.to_string()}>
                        <path d={format!("M{:.1},{ty:.1} l10,-5 l0,10 z", BAR_X + BAR_W)} />
                        <text x={format!("{:.1}", BAR_X + BAR_W + 13.0)} y={format!("{:.1}", ty + 4.0)}>{label}</text>
                    </g>
                });
            }
        }
    }
    html! { <g class="marks">{ for out.into_iter() }</g> }
}

#[component]
fn Frame(props: &FrameProps) -> Html {
    let s = &props.structures;
    let gs = drawn(s);
    let g_index = |a: u64| gs.iter().position(|g| g.addr == a);
    let m_index = |a: u64| s.ms.iter().position(|m| m.addr == a);
    let name = |a: u64| {
        s.name_of(a)
            .map(|n| format!("&{n}"))
            .unwrap_or_else(|| short(a))
    };

    let mut shapes = Vec::new();
    let mut arrows = Vec::new();
    for (i, t) in s.tls.iter().enumerate() {
        let y = t_y(i);
        shapes.push(boxed(
            TLS_X,
            y,
            TLS_W,
            2,
            format!("TLS of {}", t.thread),
            "tls",
            t.shown,
        ));
        shapes.push(field_row(
            TLS_X,
            y + HEAD,
            TLS_W,
            "FS base",
            short(t.fs_base),
        ));
        shapes.push(field_row(
            TLS_X,
            y + HEAD + ROW,
            TLS_W,
            "g (fs:-8)",
            name(t.g),
        ));
        if let Some(k) = g_index(t.g) {
            arrows.push(arrow(
                TLS_X + TLS_W,
                y + HEAD + ROW + 7.0,
                G_X,
                g_y(k) + 9.0,
                if t.shown { "tls-g shown" } else { "tls-g" },
            ));
        }
    }
    for (i, m) in s.ms.iter().enumerate() {
        let y = m_y(i);
        shapes.push(boxed(M_X, y, M_W, 3, m.name.clone(), "m", false));
        for (r, (field, v)) in [("g0", m.g0), ("curg", m.curg), ("gsignal", m.gsignal)]
            .into_iter()
            .enumerate()
        {
            let fy = y + HEAD + r as f64 * ROW;
            shapes.push(field_row(
                M_X,
                fy,
                M_W,
                field,
                v.map_or_else(not_in_release, name),
            ));
            if let Some(k) = v.and_then(g_index) {
                arrows.push(arrow(M_X + M_W, fy + 7.0, G_X, g_y(k) + 9.0, "m-g"));
            }
        }
    }
    for (i, g) in gs.iter().enumerate() {
        let y = g_y(i);
        let shown = s.tls.iter().any(|t| t.shown && t.g == g.addr);
        shapes.push(boxed(G_X, y, G_W, 5, g.name.clone(), "g", shown));
        let rows = [
            ("stack.hi", short(g.hi)),
            ("stack.lo", short(g.lo)),
            ("sched.sp", g.sched_sp.map_or_else(not_in_release, short)),
            (
                "sched.pc",
                g.sched_pc_reading
                    .clone()
                    .unwrap_or_else(|| g.sched_pc.map_or_else(not_in_release, short)),
            ),
            ("m", g.m.map_or_else(not_in_release, name)),
        ];
        for (r, (field, v)) in rows.into_iter().enumerate() {
            shapes.push(field_row(G_X, y + HEAD + r as f64 * ROW, G_W, field, v));
        }
        // The stack bar: hi at the top, lo at the bottom, beside the g.
        let top = y + 4.0;
        let bottom = y + G_H - 4.0;
        shapes.push(html! {
            <g class="bar">
                <rect x={format!("{BAR_X:.1}")} y={format!("{top:.1}")} width={format!("{BAR_W:.1}")}
                      height={format!("{:.1}", bottom - top)} />
                <text class="bar-label" x={format!("{:.1}", BAR_X + BAR_W + 4.0)} y={format!("{:.1}", bottom - 2.0)}>{format!("{} stack", g.name)}</text>
            </g>
        });
        let field_y = |r: usize| y + HEAD + r as f64 * ROW + 7.0;
        arrows.push(arrow(G_X + G_W, field_y(0), BAR_X, top, "to-stack"));
        arrows.push(arrow(G_X + G_W, field_y(1), BAR_X, bottom, "to-stack"));
        if let Some(sp) = g.sched_sp.filter(|sp| (g.lo..=g.hi).contains(sp)) {
            arrows.push(arrow(
                G_X + G_W,
                field_y(2),
                BAR_X,
                bar_y(i, g, sp),
                "sched",
            ));
        }
        if let Some(k) = g.m.and_then(m_index) {
            arrows.push(arrow(G_X, field_y(4), M_X + M_W, m_y(k) + 9.0, "g-m"));
        }
    }
    html! {
        <g class="frame">
            { for shapes.into_iter() }
            { for arrows.into_iter() }
        </g>
    }
}
