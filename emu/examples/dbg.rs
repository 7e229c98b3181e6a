use emu::go::scenario::Scenario;
use emu::go::GoRelease;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let s = Scenario::by_id(&args[1]).unwrap();
    let r = if args[2] == "1.14" {
        GoRelease::Go114
    } else {
        GoRelease::Go124
    };
    let mut p = s.process(r).unwrap();
    let n: u64 = args[3].parse().unwrap();
    for _ in 0..n {
        let Some(st) = p.step() else {
            println!("ended {:?}", p.exit_status());
            break;
        };
        let pc = st
            .event
            .as_ref()
            .and_then(|e| e.instruction.as_ref())
            .map(|i| format!("{:#x} {}", i.addr, i.text))
            .unwrap_or_default();
        let sym = st
            .event
            .as_ref()
            .and_then(|e| e.instruction.as_ref())
            .and_then(|i| p.world.program.symbolize(i.addr))
            .unwrap_or_default();
        println!(
            "{} t{} {} {} {:?} {:?}",
            p.steps(),
            st.thread,
            sym,
            pc,
            st.event.as_ref().and_then(|e| e.fault.clone()),
            st.stage.as_ref().map(|s| s.stage.name)
        );
    }
    print!("{}", p.output(2));
}
