//! What the page can open: the course's lessons (the files of `lessons/`, built in), the
//! runtime model's scenarios (`emu/scenarios/`, built into emu), and the playground's
//! snippet. Each is a program of the Go runtime model; a lesson adds narration and
//! questions.

use go_model::scenario::{File, Scenario};
use go_model::GoRelease;
use course::Lesson;
use std::rc::Rc;

/// The id the playground's own snippet opens under.
pub const PLAYGROUND: &str = "playground";
/// The snippet's file.
pub const SNIPPET_FILE: &str = "snippet_amd64.s";
/// The lesson the page opens with when the link names none.
pub const FIRST: &str = "asmcgocall";

/// A new program for the playground: a small loop, then a cgo-style call through
/// `runtime·asmcgocall`, so the switch to g0's stack is a few steps away.
const SNIPPET: &str = "\
#include \"textflag.h\"

// A playground: edit, then Assemble & run. main·main runs as goroutine g1
// on thread 1; runtime·asmcgocall(fn, arg) runs fn on g0's stack, as cgo does.
TEXT main·main(SB), NOSPLIT, $24-0
\tMOVQ\t$5, CX
\tXORQ\tAX, AX
loop:
\tADDQ\tCX, AX\t\t// AX = 5+4+3+2+1
\tDECQ\tCX
\tJNZ\tloop
\tMOVQ\t$double(SB), BX
\tMOVQ\tBX, 0(SP)\t// fn
\tMOVQ\tAX, 8(SP)\t// arg: 15
\tCALL\truntime·asmcgocall(SB)
\tMOVL\t16(SP), AX\t// the result: 30
\tRET

// The \"C\" function, written in Go syntax: the argument in DI, the result in AX.
TEXT double(SB), NOSPLIT|NOFRAME, $0
\tLEAQ\t(DI)(DI*1), AX
\tRET
";

/// The playground's world, as a scenario file would give it.
const PLAYGROUND_WORLD: &str = r#"
id = "playground"
title = "Playground"
summary = "Your own program: `main·main` runs as goroutine g1 on thread 1."
max_steps = 1000000

[world]
threads = [{ name = "thread 1", entry = "main·main" }]
goroutines = [{ id = 1, thread = 0 }]
sources = [{ path = "snippet_amd64.s", syntax = "go" }]
"#;

/// One thing the picker offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its id (what a link names).
    pub id: String,
    /// `6. asmcgocall: …` for a lesson, the title for a scenario.
    pub label: String,
    /// A lesson (not a bare scenario).
    pub lesson: bool,
    /// The releases it runs under.
    pub releases: Vec<GoRelease>,
}

/// What an id opens: the scenario (program and world), and the lesson when it is one.
#[derive(Clone, Debug)]
pub struct Opened {
    /// The program.
    pub scenario: Scenario,
    /// The lesson around it.
    pub lesson: Option<Rc<Lesson>>,
    /// The releases it runs under.
    pub releases: Vec<GoRelease>,
}

/// The course as parsed: the lessons in order, and the files that did not parse.
struct Course {
    lessons: Rc<Vec<Rc<Lesson>>>,
    broken: Rc<Vec<String>>,
}

thread_local! {
    static COURSE: Course = parse_lessons();
}

fn parse_lessons() -> Course {
    let mut lessons = Vec::new();
    let mut broken = Vec::new();
    for (name, text) in Lesson::builtin_files() {
        // The test suite checks every shipped lesson; a broken one is left out of the
        // picker, and the page says which and why rather than going down.
        match Lesson::parse(&name, text) {
            Ok(l) => lessons.push(Rc::new(l)),
            Err(e) => broken.push(e.to_string()),
        }
    }
    lessons.sort_by_key(|l| l.number);
    Course {
        lessons: Rc::new(lessons),
        broken: Rc::new(broken),
    }
}

/// The course, in order.
pub fn lessons() -> Rc<Vec<Rc<Lesson>>> {
    COURSE.with(|c| c.lessons.clone())
}

/// Lesson files built into the page that did not parse, each as its located error.
pub fn broken() -> Rc<Vec<String>> {
    COURSE.with(|c| c.broken.clone())
}

/// Everything the picker offers: the lessons, then the scenarios.
pub fn entries() -> Vec<Entry> {
    let mut out: Vec<Entry> = lessons()
        .iter()
        .map(|l| Entry {
            id: l.id.clone(),
            label: format!("{}. {}", l.number, short_title(&l.title)),
            lesson: true,
            releases: l.releases.clone(),
        })
        .collect();
    out.extend(Scenario::builtin().into_iter().map(|s| Entry {
        label: s.id.clone(),
        id: s.id,
        lesson: false,
        releases: GoRelease::all(),
    }));
    out
}

/// A title up to its first parenthesis or colon clause, short enough for a menu.
fn short_title(t: &str) -> String {
    let t = t.split(" (").next().unwrap_or(t);
    if t.chars().count() > 60 {
        format!("{}…", t.chars().take(59).collect::<String>())
    } else {
        t.to_string()
    }
}

/// The playground's world: one Go thread running `main·main` as goroutine g1.
fn playground() -> Scenario {
    let mut s = Scenario::parse("playground", PLAYGROUND_WORLD).expect("the playground parses");
    s.files = vec![File {
        path: SNIPPET_FILE.to_string(),
        text: SNIPPET.to_string(),
    }];
    s
}

/// Opens an id: a lesson, a scenario or the playground.
pub fn open(id: &str) -> Option<Opened> {
    if let Some(l) = lessons().iter().find(|l| l.id == id) {
        return Some(Opened {
            scenario: l.scenario(),
            releases: l.releases.clone(),
            lesson: Some(l.clone()),
        });
    }
    let scenario = if id == PLAYGROUND {
        playground()
    } else {
        Scenario::by_id(id).ok()?
    };
    Some(Opened {
        scenario,
        lesson: None,
        releases: GoRelease::all(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lesson_file_is_in_the_picker() {
        assert_eq!(broken().len(), 0, "{:?}", broken());
        assert_eq!(lessons().len(), Lesson::builtin_files().len());
        assert!(lessons().len() >= 12);
        let e = entries();
        assert!(e.iter().any(|e| e.id == FIRST && e.lesson));
        assert!(e.iter().any(|e| e.id == "seed-concurrent-cgo" && !e.lesson));
        for entry in &e {
            assert!(open(&entry.id).is_some(), "{} opens", entry.id);
        }
        assert!(open("no-such-thing").is_none());
    }
}
