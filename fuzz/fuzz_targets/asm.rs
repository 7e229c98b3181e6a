//! Any text, in either syntax, assembles or gives a located error: never a panic.
#![no_main]

use asm::{assemble, assemble_listing, Source, Syntax};
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
    let release = all[(selector as usize >> 2) % all.len()];
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
    // Go's own runtime files (test.sh seeds the fuzzer with them) include headers that are
    // not here (`asm_amd64.h`, `cgo/abi_amd64.h`): they read as empty, so the run goes on
    // into the file. The built-in headers (`go_asm.h`, `textflag.h`, …) are found as usual.
    let loader = |p: &str| {
        files.get(p).cloned().or_else(|| {
            let builtin = ["go_asm.h", "go_tls.h", "textflag.h", "funcdata.h"];
            (p.ends_with(".h") && !builtin.contains(&p)).then(String::new)
        })
    };
    let sources = [Source::new("x.s", syntax, 0x40_0000)];
    // Bit 1 of the selector links as a listing (symbols no file defines are left to the
    // linker), which real files need to get through linking.
    let result = if selector & 2 == 2 {
        assemble_listing(&sources, release, &loader)
    } else {
        assemble(&sources, release, &loader)
    };
    if let Err(e) = result {
        let _ = e.to_string();
    }
});
