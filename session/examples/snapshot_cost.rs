//! What one step and its snapshot cost, as the page pays them per key press: every
//! step of each lesson (questions answered as they come), timed; prints the median and
//! the 95th percentile per lesson. `cargo run --release -p session --example snapshot_cost`.

use session::{Config, GoRelease, Session};
use std::time::Instant;

fn main() {
    for lesson in ["asmcgocall", "seed-crash"] {
        let mut s = Session::open(Config {
            lesson: lesson.into(),
            release: GoRelease::latest(),
            edits: Vec::new(),
        })
        .expect("a shipped lesson opens");
        let mut times = Vec::new();
        loop {
            let snap = s.snapshot();
            if let Some(lv) = &snap.lesson {
                if let Some(i) = lv.pending {
                    let answer = lv.view.items[i].question.as_ref().unwrap().answer.clone();
                    s.answer(i, &answer);
                }
            }
            if !s.can_step() {
                break;
            }
            let t = Instant::now();
            s.step();
            let snap = s.snapshot();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(snap);
        }
        // Back over the whole run, one step at a time (each redoes its step, traced).
        let mut back = Vec::new();
        while s.snapshot().step > 0 {
            let t = Instant::now();
            s.back();
            while s.work(u64::MAX, &|| false) {}
            std::hint::black_box(s.snapshot());
            back.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let pct = |v: &mut Vec<f64>, p: f64| {
            v.sort_by(|a, b| a.total_cmp(b));
            v[((v.len() - 1) as f64 * p) as usize]
        };
        println!(
            "{lesson}: {} steps; step+snapshot p50 {:.3} ms, p95 {:.3} ms; back+snapshot p50 {:.3} ms, p95 {:.3} ms",
            times.len(),
            pct(&mut times, 0.5),
            pct(&mut times, 0.95),
            pct(&mut back, 0.5),
            pct(&mut back, 0.95),
        );
    }
}
