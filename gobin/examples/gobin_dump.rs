//! Prints what gobin reads from a Go binary: `cargo run -p gobin --example gobin_dump FILE [PC…]`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: gobin_dump FILE [PC...]")?;
    let bytes = std::fs::read(&path)?;
    let bin = gobin::Binary::parse(&bytes)?;
    println!(
        "{path}: {:?}, {:?}, text at {:#x}, {} functions, {} ELF symbols",
        bin.go_version(),
        bin.pclntab_format(),
        bin.text_start(),
        bin.functions().len(),
        bin.elf_symbols().len()
    );
    let (mut pcs, mut inlined, mut failed) = (0, 0, 0);
    for f in bin.functions() {
        for pc in f.entry..f.end {
            pcs += 1;
            match bin.location(pc) {
                Ok(l) if !l.inlined().is_empty() => inlined += 1,
                Ok(_) => {}
                Err(_) => failed += 1,
            }
        }
    }
    // The ones without a location are the padding between functions.
    println!("{pcs} pcs, {inlined} with inlined frames, {failed} without a location");
    for name in [
        "runtime.gogo",
        "runtime.systemstack",
        "runtime.mcall",
        "runtime.goexit",
        "runtime.mstart",
        "runtime.rt0_go",
        "runtime.morestack",
    ] {
        if let Some(f) = bin.function_named(name) {
            println!(
                "{name}: id {} {:?} start line {:?}",
                f.func_id, f.flags, f.start_line
            );
        }
    }
    for pc in args {
        let pc = u64::from_str_radix(pc.trim_start_matches("0x"), 16)?;
        match bin.location(pc) {
            Ok(l) => {
                println!(
                    "{pc:#x}: {} sp{:+} {}:{}",
                    l.function.name, l.sp_delta, l.file, l.line
                );
                for f in &l.frames {
                    println!(
                        "    {}{} {}:{}",
                        if f.inlined { "(inlined) " } else { "" },
                        f.name,
                        f.file,
                        f.line
                    );
                }
            }
            Err(e) => println!(
                "{pc:#x}: {e}; ELF: {:?}",
                bin.elf_symbol_at(pc).map(|s| &s.name)
            ),
        }
    }
    for ty in [
        "runtime.g",
        "runtime.m",
        "runtime.p",
        "runtime.gobuf",
        "runtime.stack",
        "runtime.sigcontext",
        "runtime.ucontext",
    ] {
        let started = std::time::Instant::now();
        match bin.struct_layout(ty) {
            Ok(s) => println!(
                "{ty}: {} bytes, {} fields, {:?} ({:?})",
                s.size,
                s.fields.len(),
                &s.asm_names()[..s.fields.len().min(4)],
                started.elapsed()
            ),
            Err(e) => println!("{ty}: {e}"),
        }
    }
    Ok(())
}
