//! The signal panel: each signal as the kernel reported it (siginfo), the stages of Go's
//! handler that ran with what each read and decided, and the process's output as a
//! terminal shows it (Go's crash report on standard error).

use crate::components::hex;
use session::SignalPanel;
use std::rc::Rc;
use yew::prelude::*;

/// The panel's content.
#[derive(Properties, PartialEq)]
pub struct SignalProps {
    /// Signals, stages, output.
    pub signal: Rc<SignalPanel>,
}

/// The signal panel.
#[component]
pub fn Signals(props: &SignalProps) -> Html {
    let s = &props.signal;
    html! {
        <section class="panel signals" id="signals">
            <h2>{"Signals"}<span class="hint">{"siginfo, then what Go's handler did"}</span></h2>
            if s.signals.is_empty() {
                <p class="empty">{"No signal yet: a fault here is delivered as Linux delivers it."}</p>
            } else {
                <table class="siginfo">
                    <thead><tr><th>{"step"}</th><th>{"thread"}</th><th>{"signal"}</th><th>{"si_code"}</th><th>{"si_addr"}</th><th>{"pc"}</th></tr></thead>
                    <tbody>
                    { for s.signals.iter().map(|r| html! {
                        <tr>
                            <td>{r.step}</td><td>{&r.thread}</td><td><strong>{&r.signal}</strong></td>
                            <td>{&r.code}</td><td>{hex(r.addr)}
                                if let Some(a) = &r.addr_reading { <div class="reading">{a}</div> }</td>
                            <td>{hex(r.pc)}<div class="reading">{&r.at}</div></td>
                        </tr>
                    }) }
                    </tbody>
                </table>
            }
            if !s.stages.is_empty() {
                <ol class="stages" id="stages">
                    { for s.stages.iter().map(|st| html! {
                        <li data-stage={st.name.clone()}>
                            <div><strong>{&st.name}</strong>{format!(" · step {} · {}", st.step, st.thread)}</div>
                            if !st.reads.is_empty() {
                                <dl>
                                    { for st.reads.iter().map(|(k, v)| html! { <><dt>{k}</dt><dd>{v}</dd></> }) }
                                </dl>
                            }
                            <p>{&st.says}</p>
                        </li>
                    }) }
                </ol>
            }
            <h3>{"Terminal"}</h3>
            <pre class="terminal" id="terminal">
                {&s.stdout}{&s.stderr}
                if let Some(code) = s.exit {
                    <span class="exit">{format!("\n[exit status {code}]")}</span>
                }
            </pre>
        </section>
    }
}
