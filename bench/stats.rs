//! Latency recording per step inside a measuring window, and the summaries printed from it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The recorded latencies (microseconds) and outcomes of one step.
#[derive(Default, Clone)]
pub struct Step {
    pub latencies_us: Vec<u32>,
    /// Non-2xx answers other than 409, and transport failures.
    pub errors: u64,
    /// 409 answers: expected under contention (stock, code limits), counted apart.
    pub conflicts: u64,
}

/// One virtual user's record; only calls that start inside `[from, to)` count.
pub struct Recorder {
    pub steps: BTreeMap<&'static str, Step>,
    from: Instant,
    to: Instant,
}

impl Recorder {
    pub fn new(from: Instant, to: Instant) -> Recorder {
        Recorder {
            steps: BTreeMap::new(),
            from,
            to,
        }
    }

    pub fn in_window(&self, started: Instant) -> bool {
        started >= self.from && started < self.to
    }

    /// Records a call that started at `started` and ended now with `status` (`None`: no answer).
    pub fn record(&mut self, step: &'static str, started: Instant, status: Option<u16>) {
        if !self.in_window(started) {
            return;
        }
        let elapsed = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
        let entry = self.steps.entry(step).or_default();
        entry.latencies_us.push(elapsed);
        match status {
            Some(s) if (200..300).contains(&s) => {}
            Some(409) => entry.conflicts += 1,
            _ => entry.errors += 1,
        }
    }

    pub fn merge(&mut self, other: Recorder) {
        for (name, step) in other.steps {
            let entry = self.steps.entry(name).or_default();
            entry.latencies_us.extend(step.latencies_us);
            entry.errors += step.errors;
            entry.conflicts += step.conflicts;
        }
    }
}

/// What is printed for one step.
#[derive(Clone, Debug)]
pub struct Summary {
    pub step: String,
    pub count: usize,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: u64,
    pub conflicts: u64,
}

pub fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

pub fn summarize(recorder: &Recorder, window: Duration) -> Vec<Summary> {
    recorder
        .steps
        .iter()
        .map(|(name, step)| {
            let mut sorted = step.latencies_us.clone();
            sorted.sort_unstable();
            Summary {
                step: name.to_string(),
                count: sorted.len(),
                per_second: sorted.len() as f64 / window.as_secs_f64(),
                p50_ms: percentile(&sorted, 50.0),
                p95_ms: percentile(&sorted, 95.0),
                p99_ms: percentile(&sorted, 99.0),
                max_ms: sorted.last().map(|v| *v as f64 / 1000.0).unwrap_or(0.0),
                errors: step.errors,
                conflicts: step.conflicts,
            }
        })
        .collect()
}

/// Prints a Markdown table, so the output can go into docs/BENCHMARKS.md as it is.
pub fn print_table(title: &str, rows: &[Summary]) {
    println!("\n#### {title}\n");
    println!("| step | count | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | 409s |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in rows {
        println!(
            "| {} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {:.1} | {} | {} |",
            r.step,
            r.count,
            r.per_second,
            r.p50_ms,
            r.p95_ms,
            r.p99_ms,
            r.max_ms,
            r.errors,
            r.conflicts
        );
    }
}
