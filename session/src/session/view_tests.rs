//! A step's view is a function of the step: every path to a step shows the same.

use super::tests::{answer_pending, at_the_signal, finish, open};
use super::*;

/// The snapshot as JSON without the fields that describe the path taken rather than the
/// step: the last run's speed, the status line's remark, how far the timeline reaches,
/// and the learner's answers (a travel or a link passes questions unanswered), with what
/// follows from them (whether a question waits, so whether a step can be taken).
fn comparable(s: &Session) -> serde_json::Value {
    let mut v = serde_json::to_value(s.snapshot()).unwrap();
    let o = v.as_object_mut().unwrap();
    for k in ["last_run", "note", "furthest", "can_step", "found"] {
        o.remove(k);
    }
    if let Some(l) = o.get_mut("lesson").and_then(|l| l.as_object_mut()) {
        for k in ["answers", "pending", "claims"] {
            l.remove(k);
        }
    }
    v
}

/// The paths where two JSON values differ, with both sides (at most a few).
fn differences(a: &serde_json::Value, b: &serde_json::Value, at: &str, out: &mut Vec<String>) {
    use serde_json::Value;
    if out.len() >= 8 {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    Some(w) => differences(v, w, &format!("{at}.{k}"), out),
                    None => out.push(format!("{at}.{k}: only left")),
                }
            }
            for k in y.keys().filter(|k| !x.contains_key(*k)) {
                out.push(format!("{at}.{k}: only right"));
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                differences(v, w, &format!("{at}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{at}: {a} vs {b}")),
        _ => {}
    }
}

fn assert_same(got: &serde_json::Value, want: &serde_json::Value, what: &str) {
    let mut out = Vec::new();
    differences(got, want, "", &mut out);
    assert!(out.is_empty(), "{what}:\n{}", out.join("\n"));
}

/// Where Continue stops from the start (answering each question it stops at).
fn continue_stops(lesson: &str, release: GoRelease) -> Vec<u64> {
    let mut s = open(lesson, release);
    let mut stops = Vec::new();
    while s.can_step() || s.pending_question().is_some() {
        answer_pending(&mut s);
        s.start(Command::Continue);
        finish(&mut s);
        stops.push(s.position());
        assert!(stops.len() < 100);
    }
    stops
}

/// Continue from the start until the run stops at `step`.
fn by_continue(lesson: &str, release: GoRelease, step: u64) -> Session {
    let mut s = open(lesson, release);
    while s.position() < step {
        answer_pending(&mut s);
        s.start(Command::Continue);
        finish(&mut s);
    }
    assert_eq!(s.position(), step);
    s
}

fn the_same_step_by_every_path(lesson: &str, release: GoRelease, steps: &[u64]) {
    for &step in steps {
        let want = comparable(&by_continue(lesson, release, step));
        let what = format!("{lesson} go{release} step {step}");
        // Step×N.
        let mut s = open(lesson, release);
        while s.position() < step {
            answer_pending(&mut s);
            s.step();
        }
        assert_same(&comparable(&s), &want, &format!("{what}: by steps"));
        // Continue there, one step back, one step on.
        let mut s = by_continue(lesson, release, step);
        assert!(s.back());
        s.step();
        assert_eq!(s.position(), step);
        assert_same(&comparable(&s), &want, &format!("{what}: back then step"));
        // One step further, then back.
        let mut s = by_continue(lesson, release, step);
        answer_pending(&mut s);
        if s.can_step() {
            s.step();
            assert!(s.back());
            assert_same(&comparable(&s), &want, &format!("{what}: step then back"));
        }
        // The timeline: from the lesson's end back to the step, and forward from 0.
        let mut s = by_continue(lesson, release, step);
        while s.can_step() || s.pending_question().is_some() {
            answer_pending(&mut s);
            s.start(Command::Continue);
            finish(&mut s);
        }
        s.start(Command::Goto(step));
        finish(&mut s);
        assert_same(&comparable(&s), &want, &format!("{what}: timeline back"));
        s.start(Command::Goto(0));
        finish(&mut s);
        s.start(Command::Goto(step));
        finish(&mut s);
        assert_same(&comparable(&s), &want, &format!("{what}: timeline forward"));
        // A link: a fresh session restored to the step.
        let mut s = open(lesson, release);
        s.restore(step, None);
        finish(&mut s);
        assert_same(&comparable(&s), &want, &format!("{what}: a link"));
    }
}

#[test]
fn lesson_10_shows_the_same_at_a_step_whatever_the_path() {
    let release = GoRelease::latest();
    let stops = continue_stops("seed-crash", release);
    assert!(stops.len() >= 4, "{stops:?}");
    the_same_step_by_every_path("seed-crash", release, &stops);
    // Where thread 2's slice ends, thread 1 runs next: the view is thread 1's, though
    // thread 2 took the step before (the step 146 under go1.14).
    let resume = open("seed-crash", release)
        .fixed
        .view
        .clone()
        .unwrap()
        .items[3]
        .step
        .unwrap();
    let mut s = open("seed-crash", release);
    while s.position() < resume {
        answer_pending(&mut s);
        s.step();
    }
    let snap = s.snapshot();
    assert_eq!(
        s.last.as_ref().map(|l| l.thread),
        Some(1),
        "thread 2 stepped last"
    );
    assert_eq!((snap.thread, snap.thread_label.as_str()), (0, "thread 1"));
    assert_eq!(snap.thread_reason, ThreadReason::Next);
    assert_eq!(
        snap.instruction.as_deref(),
        Some("mov rax, qword ptr [0x600840]")
    );
    // The step the issue names (go1.14): thread 1 is about to load ctx, as the narration
    // and the question there say, whichever way the step was reached.
    let old = GoRelease::named("1.14").unwrap();
    let stops = continue_stops("seed-crash", old);
    the_same_step_by_every_path("seed-crash", old, &stops);
}

#[test]
fn lesson_6_shows_the_same_at_a_step_whatever_the_path() {
    let release = GoRelease::latest();
    let stops = continue_stops("asmcgocall", release);
    assert!(stops.len() >= 3, "{stops:?}");
    the_same_step_by_every_path("asmcgocall", release, &stops);
}

#[test]
fn threads_are_numbered_from_1_and_addresses_read_the_same_in_every_panel() {
    let s = at_the_signal(GoRelease::latest());
    let snap = s.snapshot();
    // One numbering: the narration's "thread 1" is index 0 everywhere.
    let names: Vec<&str> = snap.threads.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["thread 1", "thread 2"]);
    assert_eq!(snap.signal.signals[0].thread, "thread 1");
    assert!(snap.signal.stages.iter().all(|st| st.thread == "thread 1"));
    assert_eq!(snap.structures.tls[1].thread, "thread 2");
    assert!(matches!(&snap.stopped, Some(Stopped::Signal { thread, .. }) if thread == "thread 1"));
    let json = serde_json::to_string(&snap).unwrap();
    let at = json.find("thread 0");
    assert!(
        at.is_none(),
        "a 0-based label: {}",
        &json[at.unwrap_or(0).saturating_sub(200)..][..400]
    );
    // Stack places count down from the stack's top in registers and rows alike.
    let rsp = snap.registers.iter().find(|r| r.name == "RSP").unwrap();
    let live = snap.stacks.iter().find(|c| c.live).unwrap();
    let row = live.rows.iter().find(|r| r.addr == rsp.value & !7).unwrap();
    assert_eq!(
        rsp.reading.as_deref(),
        Some(format!("{} hi-{:#x}", live.name, row.offset_from_hi).as_str()),
        "RSP reads as its row's offset"
    );
    assert_eq!(live.name, "m0.gsignal stack");
    // The handler's reading of TLS g reads as the registers read m0.g0's address.
    let mut s = s;
    let mut guard = 0;
    while !s
        .process
        .stages()
        .iter()
        .any(|st| st.stage.name == "sigtrampgo")
    {
        answer_pending(&mut s);
        s.step();
        guard += 1;
        assert!(guard < 100, "sigtrampgo never ran");
    }
    let snap = s.snapshot();
    let sigtrampgo = snap
        .signal
        .stages
        .iter()
        .find(|st| st.name == "sigtrampgo")
        .unwrap();
    let tls_g = &sigtrampgo
        .reads
        .iter()
        .find(|(k, _)| k == "TLS g")
        .unwrap()
        .1;
    let g0 = snap.structures.ms[0].g0.unwrap();
    assert_eq!(tls_g, &format!("{g0:#x} (&m0.g0)"));
    assert_eq!(s.describe(g0).as_deref(), Some("&m0.g0"));
}

/// A claim that answers a question waiting at its step is not in the snapshot until the
/// question is answered.
#[test]
fn a_checkpoint_does_not_give_a_pending_question_away() {
    let mut s = open("seed-crash", GoRelease::latest());
    let view = s.fixed.view.clone().unwrap();
    // The narration at the signal claims what two questions there ask.
    let at = view
        .items
        .iter()
        .position(|it| it.point == "at runtime·sigtramp" && it.kind == "narration")
        .unwrap();
    let step = view.items[at].step.unwrap();
    let questions: Vec<usize> = (0..view.items.len())
        .filter(|&i| view.items[i].question.is_some() && view.items[i].step == Some(step))
        .collect();
    assert_eq!(questions.len(), 2);
    while s.position() < step {
        answer_pending(&mut s);
        s.step();
    }
    let shown = |s: &Session| s.snapshot().lesson.unwrap().claims[at].clone();
    let json = serde_json::to_string(&s.snapshot()).unwrap();
    assert!(
        !json.contains("g == &m0.g0\""),
        "a claim answering the question on g"
    );
    assert!(!shown(&s).contains(&"[rsi + 16] == 0x60".to_string()));
    assert!(
        shown(&s).contains(&"m0.incgo == 1".to_string()),
        "{:?}",
        shown(&s)
    );
    // The question on g answered: its claim appears; the other question's still waits.
    let q = questions
        .iter()
        .copied()
        .find(|&i| view.items[i].question.as_ref().unwrap().answer == "&m0.g0")
        .unwrap();
    s.answer(q, "&m0.g0");
    assert!(shown(&s).contains(&"g == &m0.g0".to_string()));
    assert!(!shown(&s).contains(&"[rsi + 16] == 0x60".to_string()));
    answer_pending(&mut s);
    assert_eq!(shown(&s).len(), view.items[at].all_claims.len());
}
