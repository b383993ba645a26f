//! The load driver's figures: an HDR latency histogram and the gRPC codes
//! answered, per RPC, and how they are printed.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use tonic::Code;

/// Per-RPC latencies (microseconds) and gRPC codes.
#[derive(Default)]
pub struct Stats {
    inner: Mutex<StatsInner>,
}

#[derive(Default)]
struct StatsInner {
    latency: BTreeMap<&'static str, Histogram<u64>>,
    codes: BTreeMap<(&'static str, String), u64>,
}

/// Counts of answers: (RPC, gRPC code name) → calls.
pub type Codes = BTreeMap<(&'static str, String), u64>;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds")
}

/// The name of a code as the gRPC spec spells it.
pub fn code_name(code: Code) -> String {
    let s = format!("{code:?}");
    // "FailedPrecondition" → "FAILED_PRECONDITION"
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

impl Stats {
    /// A call's latency and answer.
    pub fn call(&self, rpc: &'static str, took: Duration, code: Code) {
        let mut s = self.inner.lock().expect("stats");
        s.latency
            .entry(rpc)
            .or_insert_with(histogram)
            .saturating_record(took.as_micros() as u64);
        *s.codes.entry((rpc, code_name(code))).or_default() += 1;
    }

    /// A span that is not a call (a whole lifecycle, the wait for routing).
    pub fn span(&self, name: &'static str, took: Duration) {
        let mut s = self.inner.lock().expect("stats");
        s.latency
            .entry(name)
            .or_insert_with(histogram)
            .saturating_record(took.as_micros() as u64);
    }

    /// Every (RPC, code) count so far.
    pub fn codes(&self) -> Codes {
        self.inner.lock().expect("stats").codes.clone()
    }

    /// The latency histograms so far, by RPC or span name.
    pub fn latencies(&self) -> BTreeMap<&'static str, Histogram<u64>> {
        self.inner.lock().expect("stats").latency.clone()
    }

    /// Forgets the latencies (codes are kept).
    pub fn reset_latencies(&self) {
        self.inner.lock().expect("stats").latency.clear();
    }
}

/// Counts of `after` not in `before`.
pub fn codes_since(before: &Codes, after: &Codes) -> Codes {
    after
        .iter()
        .filter_map(|(k, n)| {
            let d = n - before.get(k).copied().unwrap_or(0);
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

/// Codes as lines "RPC: OK 120, UNAVAILABLE 3".
pub fn format_codes(codes: &Codes) -> String {
    let mut by_rpc: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for ((rpc, code), n) in codes {
        by_rpc.entry(rpc).or_default().push(format!("{code} {n}"));
    }
    by_rpc
        .into_iter()
        .map(|(rpc, c)| format!("  {rpc:<24} {}", c.join(", ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// p50, p99 and max of a histogram, in milliseconds.
pub fn percentiles_ms(h: &Histogram<u64>) -> (f64, f64, f64) {
    (
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.max() as f64 / 1000.0,
    )
}

/// The latency table: calls, p50, p99, max per RPC or span.
pub fn format_latencies(l: &BTreeMap<&'static str, Histogram<u64>>) -> String {
    l.iter()
        .map(|(name, h)| {
            let (p50, p99, max) = percentiles_ms(h);
            format!(
                "  {name:<36} {:>8} calls  p50 {p50:8.2} ms  p99 {p99:8.2} ms  max {max:8.1} ms",
                h.len()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
