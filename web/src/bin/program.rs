//! The page's second program, `?program`: "Open a program", a real static Linux executable — one of the course's own, built by
//! `cargo xtask build` into `pkg/programs/`, or a file the user drops on the page — run at
//! full speed to a breakpoint on a symbol, then stepped, stepped over and stepped back,
//! with the views of [`session::program::ProgramSnapshot`]: threads, registers, the listing
//! with file:line, the goroutine, g0 and gsignal stacks, and g, m, p.
//!
//! A wasm of its own (`pkg/program.js`, which index.html loads for `?program`): the Linux
//! kernel and the binary readers it carries stay out of the lessons' download.

use gloo_events::{EventListener, EventListenerOptions};
use gloo_timers::callback::Interval;
use session::machine::num::hex;
use session::program::{
    ProgramConfig, ProgramError, ProgramSession, ProgramSnapshot, ProgramState, StackKind,
    StackView,
};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Element, HtmlInputElement, KeyboardEvent};
use yew::prelude::*;

/// Milliseconds of running per timer tick, leaving the rest of the frame to render.
const TICK_BUDGET_MS: f64 = 35.0;
/// Where `cargo xtask build` puts the programs and their index.
const PROGRAMS: &str = "./pkg/programs/";

/// One entry of `pkg/programs/index.json`.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
struct Bundled {
    name: String,
    summary: String,
    file: Option<String>,
    linking: String,
    go_version: Option<String>,
    left_out: Option<String>,
}

/// What the page shows besides the snapshot.
#[derive(Clone, Default)]
struct View {
    snapshot: Option<Rc<ProgramSnapshot>>,
    error: Option<String>,
    busy: bool,
    /// The last run's instructions and milliseconds.
    last_run: Option<(u64, f64)>,
    loading: Option<String>,
}

type Shared = Rc<RefCell<Option<ProgramSession>>>;

/// A run's start, for its figures.
#[derive(Clone, Copy, Default)]
struct RunStart {
    ms: f64,
    step: u64,
}

/// Milliseconds from the page's `performance.now()`.
fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

/// A 64-bit word at full width, as the lessons' page prints it.
fn word(v: u64) -> String {
    format!("{v:016x}")
}

fn main() {
    yew::Renderer::<ProgramApp>::new().render();
}

/// The commands of the page's buttons and keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmd {
    Run,
    Step,
    StepOver,
    Back,
    Stop,
}

fn key_cmd(key: &str) -> Option<Cmd> {
    Some(match key {
        "s" | "F11" | "ArrowRight" => Cmd::Step,
        "S" | "ArrowLeft" => Cmd::Back,
        "n" | "F10" => Cmd::StepOver,
        "c" | "r" => Cmd::Run,
        "Escape" => Cmd::Stop,
        _ => return None,
    })
}

/// The state of a view after the session did something.
fn refreshed(session: &Shared, mut v: View, error: Option<String>) -> View {
    let s = session.borrow();
    v.snapshot = s.as_ref().map(|s| Rc::new(s.snapshot()));
    v.busy = s.as_ref().is_some_and(|s| s.busy());
    v.error = error;
    v
}

/// Runs a command on the session.
fn command(
    session: &Shared,
    view: &UseStateHandle<View>,
    start: &Rc<RefCell<RunStart>>,
    cmd: Cmd,
    breakpoint: &str,
) {
    let result = {
        let mut guard = session.borrow_mut();
        let Some(s) = guard.as_mut() else {
            return;
        };
        *start.borrow_mut() = RunStart {
            ms: now_ms(),
            step: s.process().machine.step_count(),
        };
        match cmd {
            Cmd::Run => {
                let bp = breakpoint.trim();
                let set = if bp.is_empty() {
                    s.clear_breakpoint();
                    Ok(0)
                } else {
                    s.set_breakpoint(bp)
                };
                set.and_then(|_| s.run())
            }
            Cmd::Step => s.step(),
            Cmd::StepOver => s.step_over(),
            Cmd::Back => s.step_back(),
            Cmd::Stop => {
                s.stop();
                Ok(())
            }
        }
    };
    let error = result.err().map(|e: ProgramError| e.to_string());
    view.set(refreshed(session, (**view).clone(), error));
}

/// Opens an executable's bytes.
fn open(session: &Shared, view: &UseStateHandle<View>, name: String, bytes: Vec<u8>) {
    let opened = ProgramSession::open(ProgramConfig {
        argv: vec![name.clone()],
        name,
        elf: bytes,
        envp: vec!["GOTRACEBACK=single".into()],
        seed: 1,
    });
    let error = match opened {
        Ok(s) => {
            *session.borrow_mut() = Some(s);
            None
        }
        Err(e) => Some(e.to_string()),
    };
    let v = View {
        last_run: None,
        loading: None,
        ..(**view).clone()
    };
    view.set(refreshed(session, v, error));
}

async fn fetch_bytes(url: &str) -> Result<Vec<u8>, String> {
    let window = web_sys::window().ok_or("no window")?;
    let response = JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(|e| format!("{e:?}"))?;
    let response: web_sys::Response = response.dyn_into().map_err(|_| "not a response")?;
    if !response.ok() {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    let buffer = JsFuture::from(response.array_buffer().map_err(|e| format!("{e:?}"))?)
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

async fn blob_bytes(blob: web_sys::Blob) -> Result<Vec<u8>, String> {
    let buffer = JsFuture::from(blob.array_buffer())
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

fn state_text(s: &ProgramSnapshot) -> String {
    match &s.state {
        ProgramState::Loaded => "loaded: nothing has run yet".into(),
        ProgramState::Running => "running…".into(),
        ProgramState::AtBreakpoint { thread } => format!(
            "at the breakpoint {} on thread {}",
            s.breakpoint.as_ref().map_or("?", |b| b.symbol.as_str()),
            s.threads.get(*thread).map_or(0, |t| t.tid)
        ),
        ProgramState::Paused => "paused".into(),
        ProgramState::Ended { how, .. } => format!("the program {how}"),
    }
}

/// The real-program page.
#[component]
fn ProgramApp() -> Html {
    let session: Shared = (*use_memo((), |_| Rc::new(RefCell::new(None)))).clone();
    let start: Rc<RefCell<RunStart>> =
        (*use_memo((), |_| Rc::new(RefCell::new(RunStart::default())))).clone();
    let view = use_state(View::default);
    let bundled = use_state(Vec::<Bundled>::new);
    let breakpoint = use_state(|| "runtime.morestack".to_string());
    let suggestions = use_state(Vec::<String>::new);

    // The index of the bundled programs, once.
    {
        let bundled = bundled.clone();
        let view = view.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                match fetch_bytes(&format!("{PROGRAMS}index.json")).await {
                    Ok(bytes) => match serde_json::from_slice::<Vec<Bundled>>(&bytes) {
                        Ok(list) => bundled.set(list),
                        Err(e) => view.set(View {
                            error: Some(format!("pkg/programs/index.json: {e}")),
                            ..(*view).clone()
                        }),
                    },
                    Err(_) => view.set(View {
                        error: Some(
                            "no bundled programs: `cargo xtask build` builds them when a Go toolchain is installed"
                                .into(),
                        ),
                        ..(*view).clone()
                    }),
                }
            });
        });
    }

    // A run goes on in slices, one per timer tick.
    {
        let session = session.clone();
        let view = view.clone();
        let start = start.clone();
        use_effect_with(view.busy, move |&busy| {
            let ticks = busy.then(|| {
                Interval::new(0, move || {
                    let deadline = now_ms() + TICK_BUDGET_MS;
                    let goes_on = session
                        .borrow_mut()
                        .as_mut()
                        .is_some_and(|s| s.work(u64::MAX, &|| now_ms() >= deadline));
                    if !goes_on {
                        let step = session
                            .borrow()
                            .as_ref()
                            .map_or(0, |s| s.process().machine.step_count());
                        let st = *start.borrow();
                        let v = View {
                            last_run: Some((step.saturating_sub(st.step), now_ms() - st.ms)),
                            ..(*view).clone()
                        };
                        view.set(refreshed(&session, v, None));
                    } else {
                        // Show the step count as the run goes.
                        view.set(refreshed(&session, (*view).clone(), None));
                    }
                })
            });
            move || drop(ticks)
        });
    }

    let run_cmd = {
        let session = session.clone();
        let view = view.clone();
        let start = start.clone();
        let breakpoint = breakpoint.clone();
        Callback::from(move |cmd: Cmd| command(&session, &view, &start, cmd, &breakpoint))
    };

    // The debugger's keys, as in the lessons.
    {
        let run_cmd = run_cmd.clone();
        use_effect_with(run_cmd, move |run_cmd| {
            let run_cmd = run_cmd.clone();
            let window = web_sys::window().expect("a browser window");
            let options = EventListenerOptions::enable_prevent_default();
            let listener = EventListener::new_with_options(&window, "keydown", options, move |e| {
                let Some(key) = e.dyn_ref::<KeyboardEvent>() else {
                    return;
                };
                if key.ctrl_key() || key.meta_key() || key.alt_key() {
                    return;
                }
                let in_field = e
                    .target()
                    .and_then(|t| t.dyn_into::<Element>().ok())
                    .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "SELECT"));
                if in_field && key.key() != "Escape" {
                    return;
                }
                if let Some(cmd) = key_cmd(&key.key()) {
                    key.prevent_default();
                    run_cmd.emit(cmd);
                }
            });
            move || drop(listener)
        });
    }

    let open_bundled = {
        let session = session.clone();
        let view = view.clone();
        Callback::from(move |b: Bundled| {
            let Some(file) = b.file.clone() else { return };
            let session = session.clone();
            let view = view.clone();
            view.set(View {
                loading: Some(format!("loading {}…", b.name)),
                ..(*view).clone()
            });
            wasm_bindgen_futures::spawn_local(async move {
                match fetch_bytes(&format!("{PROGRAMS}{file}")).await {
                    Ok(bytes) => open(&session, &view, b.name.clone(), bytes),
                    Err(e) => view.set(View {
                        error: Some(e),
                        loading: None,
                        ..(*view).clone()
                    }),
                }
            });
        })
    };
    let open_blob = {
        let session = session.clone();
        let view = view.clone();
        Callback::from(move |file: web_sys::File| {
            let session = session.clone();
            let view = view.clone();
            let name = file.name();
            wasm_bindgen_futures::spawn_local(async move {
                match blob_bytes(file.into()).await {
                    Ok(bytes) => open(&session, &view, name, bytes),
                    Err(e) => view.set(View {
                        error: Some(format!("cannot read {name}: {e}")),
                        ..(*view).clone()
                    }),
                }
            });
        })
    };
    let on_file = {
        let open_blob = open_blob.clone();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            if let Some(f) = input.files().and_then(|l| l.get(0)) {
                open_blob.emit(f);
            }
        })
    };
    let on_drop = {
        let open_blob = open_blob.clone();
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            if let Some(f) = e
                .data_transfer()
                .and_then(|d| d.files())
                .and_then(|l| l.get(0))
            {
                open_blob.emit(f);
            }
        })
    };
    let on_drag_over = Callback::from(|e: DragEvent| e.prevent_default());
    let on_bp_input = {
        let breakpoint = breakpoint.clone();
        let suggestions = suggestions.clone();
        let session = session.clone();
        Callback::from(move |e: InputEvent| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let text = input.value();
            if let Some(s) = session.borrow().as_ref() {
                suggestions.set(s.suggestions(&text, 30));
            }
            breakpoint.set(text);
        })
    };
    let focus_field = {
        let suggestions = suggestions.clone();
        let session = session.clone();
        let breakpoint = breakpoint.clone();
        Callback::from(move |_: FocusEvent| {
            if let Some(s) = session.borrow().as_ref() {
                suggestions.set(s.suggestions(&breakpoint, 30));
            }
        })
    };

    let snap = view.snapshot.clone();
    let ended = snap
        .as_ref()
        .is_some_and(|s| matches!(s.state, ProgramState::Ended { .. }));
    let can_step = snap.is_some() && !view.busy && !ended;
    let can_back = can_step_back(snap.as_deref()) && !view.busy;
    let button = |id: &'static str,
                  label: &'static str,
                  title: &'static str,
                  cmd: Cmd,
                  enabled: bool| {
        let run_cmd = run_cmd.clone();
        html! {
            <button id={id} title={title} disabled={!enabled} onclick={Callback::from(move |_| run_cmd.emit(cmd))}>{label}</button>
        }
    };
    html! {
        <div class="app program-app" ondrop={on_drop} ondragover={on_drag_over}>
            <header class="top">
                <h1>{"stackswitch"}<span class="subtitle">{"a real Go program, step by step"}</span>
                    <a class="to-lessons" href="./">{"← the lessons"}</a>
                </h1>
                <section class="panel open-program" id="open-program">
                    <strong>{"Open a program: "}</strong>
                    { for bundled.iter().map(|b| {
                        let open_bundled = open_bundled.clone();
                        let entry = b.clone();
                        match &b.left_out {
                            None => html! {
                                <button class="program-open" data-name={b.name.clone()} title={format!("{} ({}, {})", b.summary, b.go_version.clone().unwrap_or_default(), b.linking)}
                                        disabled={view.busy}
                                        onclick={Callback::from(move |_| open_bundled.emit(entry.clone()))}>{&b.name}</button>
                            },
                            Some(why) => html! {
                                <span class="left-out" title={why.clone()}>{format!("{} (left out: {why})", b.name)}</span>
                            },
                        }
                    }) }
                    <label class="file">{" or a static linux/amd64 executable: "}
                        <input type="file" id="program-file" onchange={on_file} />
                    </label>
                    <span class="hint">{" (or drop one on the page)"}</span>
                </section>
                <div class="controls">
                    <label>{"Breakpoint "}
                        <input id="breakpoint" list="symbols" value={(*breakpoint).clone()} size="28"
                               oninput={on_bp_input} onfocus={focus_field} placeholder="symbol, e.g. runtime.morestack" />
                    </label>
                    <datalist id="symbols">
                        { for suggestions.iter().map(|s| html! { <option value={s.clone()} /> }) }
                    </datalist>
                    {button("program-run", "Run ▶", "run at full speed to the breakpoint (c)", Cmd::Run, can_step)}
                    {button("program-step", "Step", "one instruction (s, →)", Cmd::Step, can_step)}
                    {button("program-over", "Step over", "a CALL runs to its return on the same thread (n)", Cmd::StepOver, can_step)}
                    {button("program-back", "Back", "undo one step of the stepping window (S, ←)", Cmd::Back, can_back)}
                    {button("program-stop", "Stop", "stop the run (Esc)", Cmd::Stop, view.busy)}
                    <span class="keys">{"keys: s step · n step over · S back · c run · Esc stop"}</span>
                </div>
                <div class="where" id="program-status">
                    if let Some(s) = &snap {
                        <strong id="program-name">{&s.name}</strong>
                        {format!(" · {} · {}", s.go_version.clone().unwrap_or_else(|| "Go release unknown".into()), s.linking)}
                        {" · "}<span id="program-step-count" data-step={s.step.to_string()}>{format!("step {}", s.step)}</span>
                        {" · "}<span id="program-state">{state_text(s)}</span>
                        if let Some(w) = &s.stepping {
                            <span id="program-window">{format!(" · stepping window: {} steps back (at most {})", w.steps, w.cap)}</span>
                        }
                    } else {
                        {view.loading.clone().unwrap_or_else(|| "No program open.".into())}
                    }
                    if let Some((steps, ms)) = view.last_run {
                        <span id="program-last-run" data-steps={steps.to_string()} data-ms={format!("{ms:.1}")}>
                            {format!(" · last run: {steps} instructions in {ms:.0} ms")}
                        </span>
                    }
                </div>
                if let Some(e) = &view.error {
                    <div class="stop fault" id="program-error" role="status">{e}</div>
                }
                if let Some(m) = snap.as_ref().and_then(|s| s.message.clone()) {
                    <div class="note" id="program-message">{m}</div>
                }
                if let Some(m) = snap.as_ref().and_then(|s| s.names_missing.clone()) {
                    <div class="note">{format!("Not named: {m}")}</div>
                }
            </header>
            if let Some(s) = &snap {
                <div class="row program-top">
                    <Listing snapshot={s.clone()} />
                    <Registers snapshot={s.clone()} />
                </div>
                <ProgramStacks snapshot={s.clone()} />
                <div class="row">
                    <Structures snapshot={s.clone()} />
                    <ThreadsAndOutput snapshot={s.clone()} />
                </div>
            }
        </div>
    }
}

fn can_step_back(s: Option<&ProgramSnapshot>) -> bool {
    s.and_then(|s| s.stepping.as_ref())
        .is_some_and(|w| w.steps > 0)
}

#[derive(Properties)]
struct SnapProps {
    snapshot: Rc<ProgramSnapshot>,
}

/// A snapshot is new after every command: the same one is the same `Rc`.
impl PartialEq for SnapProps {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.snapshot, &other.snapshot)
    }
}

/// The instructions around RIP, with the function and file:line of each.
#[component]
fn Listing(props: &SnapProps) -> Html {
    let s = &props.snapshot;
    html! {
        <section class="panel source program-listing" id="program-listing">
            <h2>{"Code"}<span class="hint">{"Intel syntax; the function and file:line from the binary's pclntab"}</span></h2>
            <table class="code">
                <tbody>
                { for s.listing.iter().map(|i| {
                    let place = i.code.as_ref().map(|c| {
                        let at = match (&c.file, c.line) {
                            (Some(f), Some(l)) => format!("{}:{l}", f.rsplit('/').next().unwrap_or(f)),
                            _ => "no line table (not Go code)".into(),
                        };
                        format!("{}+{:#x} · {at}", c.function, c.offset)
                    }).unwrap_or_else(|| "not named".into());
                    html! {
                        <tr class={classes!("ins", i.current.then_some("current"))} data-addr={hex(i.addr)}>
                            <td class="marks">{if i.current { "RIP ▶" } else { "" }}</td>
                            <td class="addr">{hex(i.addr)}</td>
                            <td class="asm"><code>{&i.text}</code>
                                if let Some(t) = &i.target { <span class="reading">{format!("  ; {t}")}</span> }
                            </td>
                            <td class="reading place">{place}
                                if let Some(src) = &i.source { <code class="go-line">{format!("  {src}")}</code> }
                            </td>
                        </tr>
                    }
                }) }
                </tbody>
            </table>
            if let Some(c) = s.listing.iter().find(|i| i.current).and_then(|i| i.code.as_ref()) {
                if !c.inlined.is_empty() {
                    <div class="reading" id="program-inlined">{format!("inlined here: {}", c.inlined.join(" ← "))}</div>
                }
            }
        </section>
    }
}

/// The followed thread's registers.
#[component]
fn Registers(props: &SnapProps) -> Html {
    let s = &props.snapshot;
    let tid = s.threads.get(s.focus).map_or(0, |t| t.tid);
    html! {
        <section class="panel registers" id="program-registers">
            <h2>{format!("Registers of thread {tid}")}</h2>
            <table>
                <tbody>
                { for s.registers.iter().map(|r| html! {
                    <tr>
                        <td class="name">{&r.name}</td>
                        <td class="value">{word(r.value)}</td>
                        <td class="reading">{r.reading.clone().unwrap_or_default()}</td>
                    </tr>
                }) }
                </tbody>
            </table>
        </section>
    }
}

fn stack_title(k: &StackView) -> String {
    match k.kind {
        StackKind::Goroutine => match k.goid {
            Some(id) => format!("goroutine {id} stack"),
            None => "goroutine stack".into(),
        },
        StackKind::G0 => "g0 stack (the m's system stack)".into(),
        StackKind::Gsignal => "gsignal stack (the m's signal stack)".into(),
    }
}

/// The thread's stacks side by side.
#[component]
fn ProgramStacks(props: &SnapProps) -> Html {
    let s = &props.snapshot;
    html! {
        <section class="panel stacks" id="program-stacks">
            <h2>{"Stacks"}<span class="hint">{"from each stack's SP up; bounds from g.stack, frames from pcsp"}</span></h2>
            if s.stacks.is_empty() {
                <p class="empty">{"No g yet: the runtime has not set up TLS on this thread (or the binary has no Go layouts)."}</p>
            }
            <div class="columns">
            { for s.stacks.iter().map(|k| html! {
                <div class={classes!("stack", k.live.then_some("live"))} data-kind={format!("{:?}", k.kind)}>
                    <header>
                        <span class="name">{stack_title(k)}</span>
                        if k.live { <span class="badge">{"live"}</span> }
                        <div class="range">{format!("g {} · hi {} · lo {}", hex(k.g), hex(k.hi), hex(k.lo))}</div>
                        <div class="status">{
                            if k.live { "RSP is here".to_string() }
                            else if let Some(sp) = k.sp { format!("not running; g.sched.sp = hi-{:#x}", k.hi - sp) }
                            else { "not running; no saved SP".to_string() }
                        }</div>
                    </header>
                    <table>
                        <tbody>
                        { for k.words.iter().enumerate().map(|(i, w)| html! {
                            <tr class={classes!((i == 0 && k.live).then_some("sp"))}>
                                <td class="marks">if i == 0 { <span class="mark">{if k.live { "RSP ▶" } else { "SP ▶" }}</span> }</td>
                                <td class="offset" title={hex(w.addr)}>{format!("hi-{:#x}", k.hi - w.addr)}</td>
                                <td class="value">{w.value.map_or("unreadable".into(), word)}</td>
                                <td class="reading">
                                    <span class="slot">{w.frame.clone().unwrap_or_else(|| "frame not named".into())}</span>
                                    if let Some(r) = &w.reading { {format!(" {r}")} }
                                </td>
                            </tr>
                        }) }
                        </tbody>
                    </table>
                </div>
            }) }
            </div>
        </section>
    }
}

/// g, m and p with the DWARF's field names.
#[component]
fn Structures(props: &SnapProps) -> Html {
    let s = &props.snapshot;
    html! {
        <section class="panel structures" id="program-structures">
            <h2>{"Structures"}<span class="hint">{"g through TLS, then g.m, m.p; field names and offsets from the binary's DWARF"}</span></h2>
            <div class="columns">
            { for s.structures.iter().map(|st| html! {
                <div class="structure" data-type={st.type_name.clone()}>
                    <header><span class="name">{format!("{} · {} at {}", st.label, st.type_name, hex(st.addr))}</span>
                        if let Some(r) = &st.reading { <span class="reading">{format!(" ({r})")}</span> }
                    </header>
                    <table class="fields">
                        <tbody>
                        { for st.fields.iter().filter(|f| f.name != "_").take(40).map(|f| html! {
                            <tr>
                                <td class="offset">{format!("+{:#x}", f.offset)}</td>
                                <td class="name">{&f.name}</td>
                                <td class="value">{f.value.map_or_else(|| f.type_name.clone(), hex)}</td>
                                <td class="reading">{f.reading.clone().unwrap_or_default()}</td>
                            </tr>
                        }) }
                        </tbody>
                    </table>
                </div>
            }) }
            </div>
        </section>
    }
}

/// Every thread, and what the program wrote.
#[component]
fn ThreadsAndOutput(props: &SnapProps) -> Html {
    let s = &props.snapshot;
    html! {
        <section class="panel threads" id="program-threads">
            <h2>{"Threads"}</h2>
            <table>
                <tbody>
                { for s.threads.iter().map(|t| html! {
                    <tr class={classes!(t.followed.then_some("selected"))}>
                        <td>{format!("tid {}", t.tid)}</td>
                        <td>{&t.state}</td>
                        <td class="value">{hex(t.rip)}</td>
                        <td class="reading">{t.code.as_ref().map_or_else(|| "not named".to_string(), |c| match (&c.file, c.line) {
                            (Some(f), Some(l)) => format!("{} ({}:{l})", c.function, f.rsplit('/').next().unwrap_or(f)),
                            _ => c.function.clone(),
                        })}</td>
                    </tr>
                }) }
                </tbody>
            </table>
            <h2>{"Output"}</h2>
            <pre class="terminal" id="program-output">{format!("{}{}", s.stdout, s.stderr)}</pre>
        </section>
    }
}
