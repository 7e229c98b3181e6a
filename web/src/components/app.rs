//! The page: toolbar, timeline, source (or the playground's editor), registers, stacks,
//! threads, memory; the keys overlay; presenter mode.

use crate::components::controls::Controls;
use crate::components::editor::Editor;
use crate::components::help::Help;
use crate::components::lesson::{LessonPane, Picker};
use crate::components::memory::{Accesses, MemoryMap, StopBanner};
use crate::components::registers::Registers;
use crate::components::signal::Signals;
use crate::components::source::SourceView;
use crate::components::stacks::Stacks;
use crate::components::structures::StructureDiagram;
use crate::components::threads::Threads;
use crate::components::timeline::Timeline;
use crate::state::{Action, State};
use gloo_events::{EventListener, EventListenerOptions};
use gloo_timers::callback::{Interval, Timeout};
use session::{Busy, RunStats, Syntax};
use wasm_bindgen::JsCast;
use web_sys::{Element, KeyboardEvent};
use yew::prelude::*;

/// How long the page must be still before the URL is updated to name its state.
const URL_DELAY_MS: u32 = 200;

/// The action a key stands for, like a debugger's keys. Keys typed into the editor or a
/// form field are theirs, not the debugger's.
fn key_action(key: &KeyboardEvent, syntax: Syntax) -> Option<Action> {
    Some(match key.key().as_str() {
        "s" | "F11" | "ArrowRight" => Action::Step,
        "S" | "ArrowLeft" => Action::Back,
        "n" | "F10" => Action::StepOver,
        "c" | "r" => Action::Continue,
        "t" => Action::RunToCursor,
        "b" => Action::RunBack,
        "Escape" => Action::Stop,
        "?" => Action::ToggleHelp,
        "p" => Action::TogglePresenter,
        "g" => Action::Show(match syntax {
            Syntax::Go => Syntax::Intel,
            Syntax::Intel => Syntax::Att,
            Syntax::Att => Syntax::Go,
        }),
        _ => return None,
    })
}

/// `12,345,678`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn run_stats(stats: &RunStats) -> Html {
    let rate = if stats.ms > 0.0 {
        stats.steps as f64 / stats.ms / 1000.0
    } else {
        0.0
    };
    html! {
        <span id="run-stats" data-steps={stats.steps.to_string()} data-ms={format!("{:.1}", stats.ms)}>
            {format!(" · last run: {} instructions in {:.0} ms", grouped(stats.steps), stats.ms)}
            // A rate means something only for a run long enough to outlast its frames.
            if stats.steps >= 100_000 { {format!(" ({rate:.1} M/s)")} }
        </span>
    }
}

/// The whole page.
#[component]
pub fn App() -> Html {
    let state = use_reducer(State::default);
    let snapshot = state.snapshot.clone();

    // A command runs in slices, one per timer tick, so the page repaints and Stop (a click
    // or Esc between ticks) is heard. Travel always goes at full speed.
    {
        let dispatcher = state.dispatcher();
        let period = match snapshot.busy {
            None => None,
            Some(Busy::Travelling) => Some(0),
            Some(_) => Some(state.speed.interval_ms()),
        };
        use_effect_with(period, move |&period| {
            let ticks = period.map(|p| Interval::new(p, move || dispatcher.dispatch(Action::Tick)));
            move || drop(ticks)
        });
    }

    // The URL always names this state, so copying it shares it (replaced, not pushed:
    // Back leaves the page rather than undoing steps).
    {
        // Written once the page has been still for a moment: browsers throttle (and warn
        // about) many history updates in a row, as holding a step key would make.
        let link = (!snapshot.running).then(|| state.link());
        use_effect_with(link, |link| {
            let link = link.clone();
            let pending = link.map(|link| {
                Timeout::new(URL_DELAY_MS, move || {
                    if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
                        let _ = history.replace_state_with_url(
                            &wasm_bindgen::JsValue::NULL,
                            "",
                            Some(&format!("#{link}")),
                        );
                    }
                })
            });
            move || drop(pending)
        });
    }

    // Debugger keys on the whole page.
    {
        let dispatcher = state.dispatcher();
        let syntax = state.syntax;
        use_effect_with(syntax, move |&syntax| {
            let window = web_sys::window().expect("a browser window");
            // Not passive: F11 and the arrow keys would otherwise also act on the browser.
            let options = EventListenerOptions::enable_prevent_default();
            let listener = EventListener::new_with_options(&window, "keydown", options, move |e| {
                let Some(key) = e.dyn_ref::<KeyboardEvent>() else {
                    return;
                };
                // Leave browser shortcuts (Ctrl+R, Alt+←) alone.
                if key.ctrl_key() || key.meta_key() || key.alt_key() {
                    return;
                }
                let in_field = e
                    .target()
                    .and_then(|t| t.dyn_into::<Element>().ok())
                    .is_some_and(|el| {
                        matches!(el.tag_name().as_str(), "TEXTAREA" | "INPUT" | "SELECT")
                    });
                if in_field && key.key() != "Escape" {
                    return;
                }
                let Some(action) = key_action(key, syntax) else {
                    return;
                };
                key.prevent_default();
                if action == Action::Stop {
                    dispatcher.dispatch(Action::HideHelp);
                }
                dispatcher.dispatch(action);
            });
            move || drop(listener)
        });
    }

    // One callback for the page's life: components whose other props did not change skip
    // their render.
    let on_action = {
        let dispatcher = state.dispatcher();
        (*use_memo((), move |_| {
            Callback::from(move |a: Action| dispatcher.dispatch(a))
        }))
        .clone()
    };
    let busy_text = match snapshot.busy {
        Some(Busy::Running) => " · running…",
        Some(Busy::SteppingOver) => " · stepping over the call…",
        Some(Busy::RunningBack) => " · running back…",
        Some(Busy::Travelling) => " · travelling…",
        None => "",
    };
    let current_ins = snapshot.current_file.as_ref().and_then(|f| {
        let file = snapshot.files.iter().find(|s| &s.name == f)?;
        let line = file
            .lines
            .iter()
            .find(|l| Some(l.number) == snapshot.current_line)?;
        let i = line
            .instructions
            .iter()
            .find(|i| Some(i.addr) == snapshot.current_addr)?;
        Some(match state.syntax {
            Syntax::Go => i.intel.clone(),
            s => i.text(s).to_string(),
        })
    });
    let current_source = snapshot.current_file.as_ref().and_then(|f| {
        let file = snapshot.files.iter().find(|s| &s.name == f)?;
        let line = file
            .lines
            .iter()
            .find(|l| Some(l.number) == snapshot.current_line)?;
        Some(line.text.trim().to_string())
    });
    html! {
        <div class={classes!("app", state.presenter.then_some("presenter"))}>
            <header class="top">
                <h1>{"stackswitch"}<span class="subtitle">{"Go's stack switches, step by step"}</span>
                    <Picker id={state.config.lesson.clone()} disabled={snapshot.running} on_action={on_action.clone()} />
                    <a class="to-programs" id="open-program-link" href="?program" title="a real Go executable: the course's own, or one you drop on the page">{"Open a program"}</a>
                </h1>
                <Controls can_step={snapshot.can_step} can_back={snapshot.can_back}
                          busy={snapshot.busy} has_cursor={state.cursor.is_some()}
                          syntax={state.syntax} speed={state.speed} release={snapshot.release}
                          presenter={state.presenter} editing={state.editing}
                          on_action={on_action.clone()} />
                <Timeline step={snapshot.step} furthest={snapshot.furthest}
                          history_base={snapshot.history_base} running={snapshot.running}
                          on_action={on_action.clone()} />
                <div class="where">
                    <span id="step-count">{format!("step {}", snapshot.step)}</span>
                    {" · RIP at "}<strong id="location">{&snapshot.location}</strong>
                    {" · next: "}<code id="next-ins">{current_ins.or_else(|| snapshot.instruction.clone()).unwrap_or_else(|| "(unreadable)".into())}</code>
                    if let Some(src) = current_source {
                        <span class="presenter-only">{" · "}<code class="go-line">{src}</code></span>
                    }
                    <span id="busy">{busy_text}</span>
                    if let Some(stats) = &snapshot.last_run { {run_stats(stats)} }
                </div>
                <StopBanner stopped={snapshot.stopped.clone()} />
                if let Some(note) = &snapshot.note {
                    <div class="note" id="note" role="status">{note}</div>
                }
                if let Some(notice) = &state.notice {
                    <div class="stop fault" id="notice" role="status">{notice}</div>
                }
            </header>
            <div class="row top-row">
                <LessonPane id={state.config.lesson.clone()} title={snapshot.title.clone()}
                            summary_html={snapshot.summary_html.clone()} lesson={snapshot.lesson.clone()}
                            step={snapshot.step} edited={!state.config.edits.is_empty()}
                            on_action={on_action.clone()} />
                if state.editing {
                    <Editor key={format!("{:p}", std::rc::Rc::as_ptr(&state.drafts))}
                            files={snapshot.files.clone()} current_file={snapshot.current_file.clone()}
                            drafts={state.drafts.clone()} error={state.load_error.clone()}
                            on_action={on_action.clone()} />
                } else {
                    <SourceView files={snapshot.files.clone()} current_file={snapshot.current_file.clone()}
                                current_line={snapshot.current_line} current_addr={snapshot.current_addr}
                                fault_addr={snapshot.fault_addr} breakpoints={snapshot.breakpoints.clone()}
                                syntax={state.syntax}
                                cursor={state.cursor.clone()} presenter={state.presenter}
                                on_action={on_action.clone()} />
                }
                <Registers registers={snapshot.registers.clone()} />
            </div>
            <Stacks stacks={snapshot.stacks.clone()} />
            <div class="row middle-row">
                <StructureDiagram structures={snapshot.structures.clone()} />
                <Signals signal={snapshot.signal.clone()} />
            </div>
            <div class="row bottom-row">
                <Threads threads={snapshot.threads.clone()} select={snapshot.select} on_action={on_action.clone()} />
                <Accesses accesses={snapshot.accesses.clone()} />
                <MemoryMap regions={snapshot.regions.clone()} />
            </div>
            if state.help {
                <Help on_action={on_action.clone()} />
            }
        </div>
    }
}
