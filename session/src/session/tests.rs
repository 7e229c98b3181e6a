//! The session's behaviour, on the shipped lessons and scenarios.

use super::*;
use machine::cpu::{RAX, RSP};

pub(super) fn finish(session: &mut Session) {
    while session.work(u64::MAX, &|| false) {}
}

pub(super) fn open(lesson: &str, release: GoRelease) -> Session {
    Session::open(Config {
        lesson: lesson.to_string(),
        release,
        edits: Vec::new(),
    })
    .unwrap_or_else(|e| panic!("{lesson}: {}", e.rendered))
}

/// Answers the question waiting at this step with its right answer.
pub(super) fn answer_pending(session: &mut Session) {
    if let Some(i) = session.pending_question() {
        let view = session.fixed.view.clone().unwrap();
        let answer = view.items[i].question.as_ref().unwrap().answer.clone();
        session.answer(i, &answer);
    }
}

/// Lesson 10 (the seed's crash) stopped where the signal was delivered: Continue,
/// answering the questions on the way.
pub(super) fn at_the_signal(release: GoRelease) -> Session {
    let mut s = open("seed-crash", release);
    for _ in 0..20 {
        answer_pending(&mut s);
        s.start(Command::Continue);
        finish(&mut s);
        if !s.process.signals().is_empty() {
            return s;
        }
    }
    panic!("no signal");
}

/// One step, answering a question first if one waits.
pub(super) fn step(session: &mut Session) {
    answer_pending(session);
    session.step();
}

fn live_stack(s: &Snapshot) -> String {
    let live: Vec<_> = s.stacks.iter().filter(|c| c.live).collect();
    assert_eq!(live.len(), 1, "exactly one live stack");
    live[0].name.clone()
}

pub(super) fn source_text(s: &Session) -> String {
    let snap = s.snapshot();
    let file = snap
        .files
        .iter()
        .find(|f| Some(&f.name) == snap.current_file.as_ref())
        .unwrap();
    file.lines
        .iter()
        .find(|l| Some(l.number) == snap.current_line)
        .unwrap()
        .text
        .trim()
        .to_string()
}

/// Steps until the next instruction is on a line containing `text`.
pub(super) fn step_to_line(s: &mut Session, text: &str) {
    for _ in 0..2000 {
        if source_text(s).contains(text) {
            return;
        }
        step(s);
    }
    panic!("never reached a line with {text:?}");
}

#[test]
fn a_new_session_opens_the_first_lesson_under_the_newest_release() {
    let s = Session::new();
    assert_eq!(s.config().release, GoRelease::latest());
    assert_eq!(s.config().lesson, crate::catalog::FIRST);
    assert_eq!(s.snapshot().release, GoRelease::named("1.27").unwrap());
}

#[test]
fn the_switch_to_g0_moves_rsp_between_columns_and_back() {
    for release in GoRelease::all() {
        let mut s = open("asmcgocall", release);
        assert_eq!(live_stack(&s.snapshot()), "g1 stack", "{release}");
        step_to_line(&mut s, "(g_sched+gobuf_sp)(SI), SP");
        assert_eq!(live_stack(&s.snapshot()), "g1 stack");
        step(&mut s);
        let after = s.snapshot();
        assert_eq!(live_stack(&after), "m0.g0 stack", "{release}");
        let rsp = after.registers.iter().find(|r| r.name == "RSP").unwrap();
        assert!(rsp.changed);
        assert!(
            rsp.reading.as_deref().unwrap().starts_with("m0.g0 stack"),
            "{:?}",
            rsp.reading
        );
        // g1's column now shows where it stopped: its saved SP.
        let g1 = after.stacks.iter().find(|c| c.name == "g1 stack").unwrap();
        assert!(g1.saved_sp.is_some());
        assert!(s.back());
        assert_eq!(live_stack(&s.snapshot()), "g1 stack", "{release}: back");
    }
}

#[test]
fn step_over_the_call_to_gosave_stays_on_the_goroutine_stack() {
    let mut s = open("asmcgocall", GoRelease::named("1.14").unwrap());
    step_to_line(&mut s, "CALL\tgosave<>(SB)");
    let sp = s.cpu().gpr[RSP];
    answer_pending(&mut s);
    s.start(Command::StepOver);
    finish(&mut s);
    assert!(
        source_text(&s).contains("MOVQ\tSI, g(CX)"),
        "{}",
        source_text(&s)
    );
    assert_eq!(s.cpu().gpr[RSP], sp);
    assert_eq!(live_stack(&s.snapshot()), "g1 stack");
    let g1 = s
        .snapshot()
        .structures
        .gs
        .iter()
        .find(|g| g.name == "g1")
        .cloned()
        .unwrap();
    assert_eq!(g1.sched_sp, Some(sp), "gosave wrote g1.sched.sp");
    // The named slots of the frame appear once asmcgocall has its g0 frame.
    step_to_line(&mut s, "CALL\tAX");
    let snap = s.snapshot();
    let g0 = snap
        .stacks
        .iter()
        .find(|c| c.name == "m0.g0 stack")
        .unwrap();
    let slots: Vec<_> = g0.rows.iter().filter_map(|r| r.slot.clone()).collect();
    assert_eq!(slots, vec!["old g".to_string(), "depth".to_string()]);
    let old_g = g0
        .rows
        .iter()
        .find(|r| r.slot.as_deref() == Some("old g"))
        .unwrap();
    assert_eq!(old_g.reading.as_deref(), Some("&g1"));
}

#[test]
fn lesson_breakpoints_stop_continue_and_run_back_returns_to_them() {
    let mut s = open("asmcgocall", GoRelease::named("1.14").unwrap());
    assert_eq!(s.breakpoints().len(), 2, "the lesson's two breakpoints");
    // Continue stops at breakpoints and at questions (answered here).
    let go_to = |s: &mut Session, place: &str| {
        for _ in 0..10 {
            answer_pending(s);
            s.start(Command::Continue);
            finish(s);
            if s.snapshot().location == place {
                return;
            }
        }
        panic!("never stopped at {place}");
    };
    go_to(&mut s, "runtime·asmcgocall");
    let hit = s.position();
    go_to(&mut s, "answer");
    assert_eq!(live_stack(&s.snapshot()), "m0.g0 stack", "C runs on g0");
    // A question waits here too; answered, it no longer stops runs.
    answer_pending(&mut s);
    s.start(Command::RunBack);
    finish(&mut s);
    assert_eq!(s.position(), hit);
    s.start(Command::RunBack);
    finish(&mut s);
    assert_eq!(s.position(), 0);
    assert!(s.snapshot().note.is_some());
    // Run to a line: stops before it.
    s.set_breakpoints(Vec::new());
    s.start(Command::RunToLine("main_amd64.s".into(), 9));
    finish(&mut s);
    assert_eq!(s.snapshot().current_line, Some(9));
}

#[test]
fn every_lesson_runs_to_its_end_and_back_to_the_start() {
    for lesson in crate::catalog::lessons().iter() {
        for &release in &lesson.releases {
            let mut s = open(&lesson.id, release);
            let end = s.fixed.view.as_ref().unwrap().end_step;
            let mut guard = 0;
            while s.can_step() || s.pending_question().is_some() {
                answer_pending(&mut s);
                s.start(Command::Continue);
                finish(&mut s);
                guard += 1;
                assert!(guard < 200, "{}: too many stops", lesson.id);
            }
            let snap = s.snapshot();
            let want = lesson.ending_for(release).map(|e| e.exit_status);
            assert_eq!(snap.signal.exit, want, "{} go{release}", lesson.id);
            assert_eq!(
                snap.step, end,
                "{} go{release}: the lesson's end",
                lesson.id
            );
            let lv = snap.lesson.clone().unwrap();
            let questions = lv
                .view
                .items
                .iter()
                .filter(|i| i.question.is_some())
                .count();
            assert_eq!(
                lv.answers.len(),
                questions,
                "{}: every question asked",
                lesson.id
            );
            assert!(lv.answers.iter().all(|a| a.right));
            s.start(Command::Goto(0));
            finish(&mut s);
            let start = s.snapshot();
            assert_eq!(start.step, 0);
            assert!(start.signal.signals.is_empty() && start.signal.stderr.is_empty());
        }
    }
}

#[test]
fn the_seed_crash_shows_the_signal_the_stages_and_the_report() {
    let mut s = open("seed-crash", GoRelease::named("1.14").unwrap());
    let mut guard = 0;
    while s.snapshot().signal.signals.is_empty() {
        answer_pending(&mut s);
        s.start(Command::Continue);
        finish(&mut s);
        guard += 1;
        assert!(guard < 50);
    }
    // Continue stops right after the kernel delivered the signal.
    let snap = s.snapshot();
    let sig = &snap.signal.signals[0];
    assert_eq!((sig.signal.as_str(), sig.addr), ("SIGSEGV", 0x60));
    assert!(matches!(
        snap.stopped,
        Some(Stopped::Signal { addr: 0x60, .. })
    ));
    assert!(
        snap.location.starts_with("runtime·sigtramp"),
        "{}",
        snap.location
    );
    assert!(
        live_stack(&snap).contains("gsignal"),
        "{}",
        live_stack(&snap)
    );
    assert!(snap
        .regions
        .iter()
        .any(|r| r.has_fault && r.name == "(not mapped)"));
    while s.can_step() || s.pending_question().is_some() {
        answer_pending(&mut s);
        s.start(Command::Continue);
        finish(&mut s);
    }
    let snap = s.snapshot();
    assert!(snap.signal.stderr.starts_with(
        "fatal error: unexpected signal during runtime execution\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x60 pc="
    ));
    let stages: Vec<&str> = snap.signal.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(stages.first(), Some(&"kernel delivers"));
    assert!(stages.contains(&"sighandler"), "{stages:?}");
    assert_eq!(snap.signal.exit, Some(2));
}

#[test]
fn a_question_blocks_stepping_until_answered() {
    let mut s = open("asmcgocall", GoRelease::named("1.14").unwrap());
    let mut n = 0;
    while s.pending_question().is_none() {
        s.step();
        n += 1;
        assert!(n < 1000);
    }
    let at = s.position();
    assert!(!s.can_step());
    s.step();
    assert_eq!(s.position(), at, "no step while a question waits");
    let i = s.pending_question().unwrap();
    let q = s.fixed.view.clone().unwrap().items[i]
        .question
        .as_ref()
        .unwrap()
        .choices
        .clone();
    let right = s.fixed.view.clone().unwrap().items[i]
        .question
        .as_ref()
        .unwrap()
        .answer
        .clone();
    let wrong = q.iter().find(|c| c.trim() != right.trim()).unwrap().clone();
    s.answer(i, &wrong);
    let a = s.snapshot().lesson.unwrap().answers[0].clone();
    assert!(!a.right);
    assert!(s.can_step());
    // Stepping a chosen thread leaves the lesson's path: its items no longer apply.
    s.select_thread(Some(0));
    s.step();
    assert!(!s.snapshot().lesson.unwrap().on_path);
}

#[test]
fn a_typed_answer_is_judged_by_what_it_means() {
    let mut s = open("asmcgocall", GoRelease::named("1.14").unwrap());
    for _ in 0..1000 {
        if let Some(i) = s.pending_question() {
            let view = s.fixed.view.clone().unwrap();
            let q = &view.items[i].question.as_ref().unwrap().source;
            if q.kind == QuestionKind::Value {
                // The value itself in hex, not the choice's spelling (`&m0.g0`).
                let thread = view.items[i].thread.unwrap();
                let v =
                    go_model::check::value(&s.process, thread, q.expr.as_ref().unwrap().get_ref())
                        .unwrap();
                s.answer(i, &format!("{v:#x}"));
                let a = s.answers.last().unwrap().clone();
                assert!(a.right, "{:#x} for {}: {a:?}", v, q.answer_text());
                assert!(a.machine.unwrap().starts_with(&format!("{v:#x}")));
                return;
            }
            s.answer(i, q.answer_text());
        }
        s.step();
    }
    panic!("no value question");
}

#[test]
fn the_timeline_travels_back_and_forward_and_replays_beyond_history() {
    let mut s = open("seed-concurrent-cgo", GoRelease::named("1.14").unwrap());
    s.start(Command::Continue);
    finish(&mut s);
    s.start(Command::Continue);
    finish(&mut s);
    let end = s.position();
    let end_regs = s.snapshot().registers;
    assert!(
        s.snapshot().signal.exit.is_some(),
        "the scenario ran to its end"
    );
    s.start(Command::Goto(25));
    finish(&mut s);
    assert_eq!(s.position(), 25);
    let at25 = s.snapshot();
    s.start(Command::Goto(end));
    finish(&mut s);
    assert_eq!(s.position(), end);
    assert_eq!(
        s.snapshot()
            .registers
            .iter()
            .map(|r| r.value)
            .collect::<Vec<_>>(),
        end_regs.iter().map(|r| r.value).collect::<Vec<_>>()
    );
    // Drop the history, as a long run does: going back replays from the start.
    s.process.world.machine.clear_history();
    s.start(Command::Goto(25));
    finish(&mut s);
    assert_eq!(s.position(), 25);
    assert_eq!(s.snapshot().registers, at25.registers);
    assert_eq!(s.snapshot().stacks, at25.stacks);
    assert_eq!(s.snapshot().furthest, end);
    s.process.world.machine.clear_history();
    assert!(s.back());
    finish(&mut s);
    assert_eq!(s.position(), 24);
    // A step from here takes a new path: the timeline ends there.
    s.step();
    assert_eq!(s.snapshot().furthest, 25);
}

#[test]
fn a_run_stops_at_its_limit_and_a_stop_is_immediate() {
    let (file, text) = (
        crate::catalog::SNIPPET_FILE.to_string(),
        "#include \"textflag.h\"\nTEXT main·main(SB), NOSPLIT, $0-0\nloop:\n\tINCQ\tAX\n\tJMP\tloop\n"
            .to_string(),
    );
    let mut s = Session::open(Config {
        lesson: crate::catalog::PLAYGROUND.to_string(),
        release: GoRelease::named("1.14").unwrap(),
        edits: vec![(file, text)],
    })
    .unwrap();
    s.start(Command::Continue);
    assert!(s.work(50_000, &|| false), "the loop goes on");
    assert_eq!(s.position(), 50_000);
    s.stop();
    assert!(!s.running());
    assert_eq!(s.snapshot().last_run.unwrap().steps, 50_000);
    // The history stays bounded on a long run.
    s.start(Command::Continue);
    let mut slices = 0;
    while s.work(RUN_SLICE, &|| false) && slices < 200 {
        slices += 1;
    }
    assert!(s.process.world.machine.history_len() as u64 <= HISTORY_CAP + RUN_SLICE);
    assert!(s.history_floor() > 0);
}

#[test]
fn an_assembler_error_is_located() {
    let e = Session::open(Config {
        lesson: crate::catalog::PLAYGROUND.to_string(),
        release: GoRelease::named("1.14").unwrap(),
        edits: vec![(
            crate::catalog::SNIPPET_FILE.to_string(),
            "TEXT main·main(SB), 4, $0\n\tMOVQ\t$1, AX\n\tFROB\tAX\n".to_string(),
        )],
    })
    .err()
    .expect("an error");
    assert_eq!((e.file.as_str(), e.line, e.col), ("snippet_amd64.s", 3, 2));
    assert!(Session::open(Config {
        lesson: "nope".into(),
        ..Config::default()
    })
    .is_err());
}

#[test]
fn the_playground_snippet_runs_its_call_on_g0() {
    let mut s = open(
        crate::catalog::PLAYGROUND,
        GoRelease::named("1.24").unwrap(),
    );
    s.start(Command::RunToLine(crate::catalog::SNIPPET_FILE.into(), 17));
    finish(&mut s);
    assert_eq!(source_text(&s), "RET");
    assert_eq!(s.cpu().gpr[RAX], 30, "double(15)");
    assert_eq!(live_stack(&s.snapshot()), "g1 stack");
    s.start(Command::Continue);
    finish(&mut s);
    let snap = s.snapshot();
    assert_eq!(snap.signal.exit, Some(0), "{:?}", snap.stopped);
}

/// The CLI's walkthrough (`emu lesson play`) and the page show a lesson step's stacks from
/// the same columns: stepped to the same step along the schedule, the page's snapshot and
/// the CLI's text hold the same stacks, words, readings, slots and marks.
#[test]
fn the_cli_and_the_page_show_the_same_stacks() {
    use crate::walkthrough::{self, Player};
    for (id, steps) in [("asmcgocall", 40), ("seed-crash", 146), ("c-to-go", 90)] {
        let all = catalog::lessons();
        let lesson = all
            .iter()
            .find(|l| l.id == id)
            .unwrap_or_else(|| panic!("lesson {id}"));
        let release = lesson.releases[0];
        let mut page = open(id, release);
        let mut cli = Player::new(lesson, release).unwrap();
        let mut thread = 0;
        for _ in 0..steps {
            if let Some(s) = cli.forward().step {
                thread = s.thread;
            }
        }
        // The page takes the same schedule's steps (a question waits for its answer).
        for _ in 0..2 * steps {
            if page.snapshot().step >= cli.process.steps() {
                break;
            }
            step(&mut page);
        }
        let snap = page.snapshot();
        assert_eq!(snap.step, cli.process.steps(), "{id}: the same step");
        assert_eq!(snap.thread, thread, "{id}: the same thread shown");
        // What the CLI shows of a column: all but the last step's write marks, which the
        // terminal does not print.
        let shown = |cols: &[StackColumn]| -> Vec<StackColumn> {
            cols.iter()
                .cloned()
                .map(|mut c| {
                    c.rows.iter_mut().for_each(|r| r.written = false);
                    c
                })
                .collect()
        };
        let cli_cols = walkthrough::stack_columns(&cli.process, thread);
        assert!(snap.stacks.len() >= 3, "{id}: several stacks");
        assert_eq!(
            shown(&snap.stacks),
            shown(&cli_cols),
            "{id} at step {}",
            snap.step
        );
        // And the CLI's text has every column and word the page draws.
        let text = walkthrough::stacks(&cli.process, thread, 10_000).join("\n");
        for c in snap.stacks.iter() {
            assert!(
                text.contains(&c.name),
                "{id}: {} not in the CLI's stacks",
                c.name
            );
            for r in &c.rows {
                assert!(text.contains(&format!("{:x} {:>10x}", r.addr, r.value)));
                for m in &r.marks {
                    assert!(text.contains(m.as_str()), "{id}: mark {m}");
                }
            }
        }
        let live: Vec<_> = snap.stacks.iter().filter(|c| c.live).collect();
        assert!(text.contains(&format!("▶ {}", live[0].name)), "{id}");
    }
}

/// A snapshot is plain data: it serializes whole, for any front end.
#[test]
fn a_snapshot_serializes_with_its_stacks_and_structures() {
    let mut s = open("asmcgocall", GoRelease::named("1.14").unwrap());
    for _ in 0..20 {
        step(&mut s);
    }
    let snap = s.snapshot();
    let v = serde_json::to_value(&snap).unwrap();
    assert_eq!(v["release"], "1.14");
    assert_eq!(v["step"], snap.step);
    let stacks = v["stacks"].as_array().unwrap();
    assert_eq!(stacks.len(), snap.stacks.len());
    let live = stacks.iter().find(|c| c["live"] == true).unwrap();
    assert!(live["rows"].as_array().unwrap().iter().any(|r| r["marks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m == "RSP")));
    assert_eq!(
        v["structures"]["gs"].as_array().unwrap().len(),
        snap.structures.gs.len()
    );
    assert!(v["registers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["name"] == "RSP"));
}
