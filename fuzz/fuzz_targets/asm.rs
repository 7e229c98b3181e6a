//! Any text, in either syntax, assembles or gives a located error: never a panic.
#![no_main]

use asm::{assemble, Source, Syntax};
use go_model::GoRelease;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    // Odd selects Go syntax, so the assembler test corpus (files start with `//`) seeds the
    // Go side as it is, with no copy kept here.
    let syntax = if selector & 1 == 1 {
        Syntax::Go
    } else {
        Syntax::Intel
    };
    let all = GoRelease::all();
    let release = all[(selector as usize >> 1) % all.len()];
    let text = String::from_utf8_lossy(rest).into_owned();
    // A second file the first may include or call into.
    let files: HashMap<String, String> = [
        ("x.s".to_string(), text),
        (
            "inc.h".to_string(),
            "#define ONE 1\n#define F(a) MOVQ a, AX\n".to_string(),
        ),
    ]
    .into();
    if let Err(e) = assemble(&[Source::new("x.s", syntax, 0x40_0000)], release, &files) {
        let _ = e.to_string();
    }
});
