//! The page: toolbar, timeline, source (or the playground's editor), registers, stacks,
//! threads, memory; the keys overlay; presenter mode.

use crate::components::controls::{BreakAt, Controls, ShareButton};
use crate::components::editor::Editor;
use crate::components::help::Help;
use crate::components::lesson::{LessonPane, Picker, QuestionOverlay};
use crate::components::memory::{Accesses, MemoryMap, StopBanner};
use crate::components::registers::Registers;
use crate::components::search::{Backtraces, FoundBanner, Watches};
use crate::components::signal::Signals;
use crate::components::source::SourceView;
use crate::components::stacks::Stacks;
use crate::components::structures::StructureDiagram;
use crate::components::threads::Threads;
use crate::components::timeline::Timeline;
use crate::state::{Action, Entry, State};
use gloo_events::{EventListener, EventListenerOptions};
use gloo_timers::callback::{Interval, Timeout};
use session::{Busy, RunStats, Stopped, Syntax, ThreadReason};
use wasm_bindgen::JsCast;
use web_sys::{Element, KeyboardEvent};
use yew::prelude::*;

/// How long the page must be still before the URL is updated to name its state.
const URL_DELAY_MS: u32 = 200;

/// What the page last wrote into the browser's history.
#[derive(Default)]
struct Written {
    /// The [`State::entry`] it was written for (None: nothing written yet).
    entry: Option<u32>,
    /// The fragment written.
    link: String,
    /// The entry holds a shared link: the next different state gets an entry of its own
    /// rather than overwriting it.
    keep: bool,
}

/// Writes `link` into the current history entry, or into a new one.
fn write_history(link: &str, push: bool) {
    let Some(history) = web_sys::window().and_then(|w| w.history().ok()) else {
        return;
    };
    let url = format!("#{link}");
    let written = if push {
        history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url))
    } else {
        history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url))
    };
    // A browser refusing a history write (too many in a row) keeps the page working; the
    // next state is written again.
    drop(written);
}

/// Gives the keyboard back to the page after a choice in a form control (the lesson
/// picker, a select), so the debugger's keys act again rather than on the control.
pub fn give_focus_back() {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if let Some(el) = document
        .active_element()
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = el.blur();
    }
}

/// Whether the key goes to a focused form control rather than to the debugger: text
/// fields, selects and the editor use the keys themselves (a select's type-ahead would
/// otherwise switch lessons on `s`), and a focused button takes Space and Enter.
fn taken_by_control(target: Option<web_sys::EventTarget>, key: &str) -> bool {
    let Some(el) = target.and_then(|t| t.dyn_into::<Element>().ok()) else {
        return false;
    };
    match el.tag_name().as_str() {
        "TEXTAREA" | "INPUT" | "SELECT" => key != "Escape",
        "BUTTON" | "SUMMARY" | "A" => matches!(key, " " | "Enter"),
        _ => false,
    }
}

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
        "F9" | "B" => Action::ToggleBreakpointHere,
        "1" => Action::AnswerKey(0),
        "2" => Action::AnswerKey(1),
        "3" => Action::AnswerKey(2),
        "4" => Action::AnswerKey(3),
        "g" => Action::Show(match syntax {
            Syntax::Go => Syntax::Intel,
            Syntax::Intel => Syntax::Att,
            Syntax::Att => Syntax::Go,
        }),
        _ => return None,
    })
}

/// Why the shown thread is the one shown, as the status line says it.
fn thread_reason(s: &session::Snapshot) -> String {
    match s.thread_reason {
        ThreadReason::Next => " (runs next)".to_string(),
        ThreadReason::Selected => " (chosen: the controls step it)".to_string(),
        ThreadReason::Lesson { item } => {
            match s.lesson.as_ref().and_then(|l| l.view.items.get(item)) {
                Some(it) => format!(
                    " (the lesson's {} reads it; another thread runs next)",
                    it.kind
                ),
                None => " (the lesson reads it)".to_string(),
            }
        }
        ThreadReason::Ended => " (ran last)".to_string(),
    }
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

    // The URL always names this state, so copying it shares it. Steps within a lesson
    // rewrite the current history entry (Back leaves the lesson rather than undoing
    // steps); another lesson, release or program, and a shared step, get entries of
    // their own, so Back and Forward move between them.
    let written = use_mut_ref(Written::default);
    {
        // Written once the page has been still for a moment: browsers throttle (and warn
        // about) many history updates in a row, as holding a step key would make.
        let link = (!snapshot.running).then(|| state.link());
        let written = written.clone();
        use_effect_with(
            (link, state.entry, state.entry_kind),
            move |(link, entry, kind)| {
                let mut pending = None;
                if let Some(link) = link.clone() {
                    let mut w = written.borrow_mut();
                    if w.entry != Some(*entry) {
                        // A new entry, or the first state of the page (its entry gets the link
                        // in place of the bare address, so Back within the app finds a state).
                        let first = w.entry.is_none();
                        w.entry = Some(*entry);
                        match kind {
                            // A shared step keeps its entry: the next step gets a new one.
                            Entry::Share => {
                                if link != w.link {
                                    write_history(&link, !first);
                                }
                                w.keep = true;
                            }
                            Entry::Push if !first && link != w.link => {
                                write_history(&link, true);
                                w.keep = false;
                            }
                            _ => {
                                write_history(&link, false);
                                w.keep = false;
                            }
                        }
                        w.link = link;
                    } else if link != w.link {
                        if w.keep {
                            write_history(&link, true);
                            w.keep = false;
                            w.link = link;
                        } else {
                            drop(w);
                            let written = written.clone();
                            pending = Some(Timeout::new(URL_DELAY_MS, move || {
                                write_history(&link, false);
                                written.borrow_mut().link = link;
                            }));
                        }
                    }
                }
                move || drop(pending)
            },
        );
    }

    // Back, Forward and a link pasted into this tab: the page opens the state its URL
    // names (the URL effect above wrote the entries the page made itself, and a state
    // equal to the one shown changes nothing).
    {
        let dispatcher = state.dispatcher();
        use_effect_with((), move |_| {
            let window = web_sys::window().expect("a browser window");
            let listeners: Vec<EventListener> = ["popstate", "hashchange"]
                .into_iter()
                .map(|event| {
                    let dispatcher = dispatcher.clone();
                    EventListener::new(&window, event, move |_| {
                        let hash = web_sys::window()
                            .and_then(|w| w.location().hash().ok())
                            .unwrap_or_default();
                        dispatcher.dispatch(Action::FromLink(hash));
                    })
                })
                .collect();
            move || drop(listeners)
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
                if taken_by_control(e.target(), &key.key()) {
                    return;
                }
                if key.key() == "/" {
                    // "Break at symbol": the field that takes a symbol's name.
                    if let Some(field) = web_sys::window()
                        .and_then(|w| w.document())
                        .and_then(|d| d.get_element_by_id("break-at"))
                        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
                    {
                        key.prevent_default();
                        let _ = field.focus();
                    }
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
    // In presenter mode the questions of this step show over the page: the one waiting,
    // or the ones just answered with their verdicts.
    let overlay = snapshot
        .lesson
        .as_ref()
        .filter(|_| state.presenter)
        .and_then(|l| {
            let here: Vec<usize> = l
                .view
                .items
                .iter()
                .enumerate()
                .filter(|(i, it)| {
                    it.question.is_some()
                        && (l.pending == Some(*i)
                            || (it.step == Some(snapshot.step)
                                && l.answers.iter().any(|a| a.item == *i)))
                })
                .map(|(i, _)| i)
                .collect();
            (l.on_path && !here.is_empty()).then(|| (l.clone(), here))
        });
    let fault_step = match &snapshot.stopped {
        Some(Stopped::Signal { step, .. }) => Some(*step),
        _ => None,
    };
    html! {
        <div class={classes!("app", state.presenter.then_some("presenter"))}>
          <div class="screen">
            <header class="top">
                <div class="title-row">
                    <h1>{"stackswitch"}<span class="subtitle">{"Go's stack switches, step by step"}</span></h1>
                    <Picker id={state.config.lesson.clone()} disabled={snapshot.running} on_action={on_action.clone()} />
                    <a class="to-programs" id="open-program-link" href="?program" title="a real Go executable: the course's own, or one you drop on the page">{"Open a program"}</a>
                    <ShareButton shared={state.shared.clone()} link={state.link()} on_action={on_action.clone()} />
                    <BreakAt on_action={on_action.clone()} />
                </div>
                <Controls can_step={snapshot.can_step} can_back={snapshot.can_back}
                          busy={snapshot.busy} has_cursor={state.cursor.is_some()}
                          syntax={state.syntax} speed={state.speed} release={snapshot.release}
                          presenter={state.presenter} editing={state.editing}
                          on_action={on_action.clone()} />
                <div class="status-row">
                    <Timeline step={snapshot.step} furthest={snapshot.furthest}
                              history_base={snapshot.history_base} running={snapshot.running}
                              on_action={on_action.clone()} />
                    <div class="where">
                        <span id="step-count">{format!("step {}", snapshot.step)}</span>
                        {" · "}<span id="shown-thread" data-thread={snapshot.thread.to_string()}
                                     title="The thread whose registers and stack are shown">
                            <strong>{&snapshot.thread_label}</strong>{thread_reason(&snapshot)}
                        </span>
                        {" · RIP at "}<strong id="location">{&snapshot.location}</strong>
                        {" · next: "}<code id="next-ins">{current_ins.or_else(|| snapshot.instruction.clone()).unwrap_or_else(|| "(unreadable)".into())}</code>
                        if let Some(src) = current_source {
                            <span class="presenter-only">{" · "}<code class="go-line">{src}</code></span>
                        }
                        <span id="busy">{busy_text}</span>
                        if let Some(stats) = &snapshot.last_run { {run_stats(stats)} }
                    </div>
                </div>
                <StopBanner stopped={snapshot.stopped.clone()} running={snapshot.running} on_action={on_action.clone()} />
                if let Some(found) = &snapshot.found {
                    <FoundBanner found={found.clone()} />
                }
                if let Some(nudge) = &state.nudge {
                    <div class="note nudge" id="nudge" role="status">{nudge}</div>
                }
                // A step refused at a waiting question says so in the nudge; the note of
                // the run that stopped there says the same, so only one of them shows.
                if let Some(note) = snapshot.note.as_ref().filter(|_| state.nudge.is_none() || state.pending_question().is_none()) {
                    <div class="note" id="note" role="status">{note}</div>
                }
                if let Some(notice) = &state.notice {
                    <div class="stop fault" id="notice" role="status">{notice}</div>
                }
            </header>
            <main class="switch">
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
                                cursor={state.cursor.clone()} presenter={state.presenter} running={snapshot.running}
                                on_action={on_action.clone()} />
                }
                <Registers registers={snapshot.registers.clone()} thread={snapshot.thread} on_action={on_action.clone()} />
                <Stacks stacks={snapshot.stacks.clone()} fault_step={fault_step} presenter={state.presenter} running={snapshot.running} on_action={on_action.clone()} />
            </main>
          </div>
            <div class="row debug-row">
                <Watches texts={state.watches.clone()} rows={snapshot.watches.clone()} errors={state.watch_errors.clone()}
                         condition_error={state.condition_error.clone()} running={snapshot.running} on_action={on_action.clone()} />
                <Backtraces traces={snapshot.backtraces.clone()} />
            </div>
            <div class="row middle-row">
                <StructureDiagram structures={snapshot.structures.clone()} />
                <Signals signal={snapshot.signal.clone()} />
            </div>
            <div class="row bottom-row">
                <Threads threads={snapshot.threads.clone()} select={snapshot.select} on_action={on_action.clone()} />
                <Accesses accesses={snapshot.accesses.clone()} on_action={on_action.clone()} />
                <MemoryMap regions={snapshot.regions.clone()} />
            </div>
            if let Some((lesson, items)) = overlay {
                <QuestionOverlay {lesson} {items} on_action={on_action.clone()} />
            }
            if state.help {
                <Help on_action={on_action.clone()} />
            }
        </div>
    }
}
