//! Prometheus metrics for both processes: one global recorder of the `metrics` facade per
//! process, rendered in the Prometheus text format by whoever serves `/metrics` (the server on
//! its own port, the bot on `METRICS_ADDR`). Call sites use `metrics::counter!` and friends;
//! `docs/metrics.md` lists every name.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Bucket bounds of every `*_seconds` histogram: 0.5 ms to 10 s, so the 100 ms delivery
/// budget and the 5 s quote timeout both fall on a bound.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often recorded histogram samples are folded into their buckets. Until then each sample
/// is kept as it is, so without this a process nobody scrapes would grow with every sample; at
/// 5 s the fan-out benchmark's server held several MiB more (BENCHMARKS.md).
const UPKEEP: Duration = Duration::from_secs(1);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the recorder (once per process: tests start many servers in one) and returns the
/// handle that renders it.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .expect("the bucket list is not empty")
                .install_recorder()
                .expect("no other metrics recorder is installed");
            let upkeep = handle.clone();
            // A plain thread: it must outlive any one tokio runtime (tests have many).
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP);
                        upkeep.run_upkeep();
                    }
                })
                .expect("spawn the metrics upkeep thread");
            handle
        })
        .clone()
}

/// Makes the series `name{label=value}` exist at 0 for each of `values`: Prometheus's `rate()`
/// and `increase()` miss the first increment of a series that appears with it.
pub fn zero(name: &'static str, label: &'static str, values: &[&'static str]) {
    for &value in values {
        metrics::counter!(name, label => value).increment(0);
    }
}

/// The metrics as Prometheus text (exposition format 0.0.4).
pub fn render() -> String {
    install().render()
}

/// The `Content-Type` of `render`'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_in_the_text_format() {
        install();
        metrics::counter!("wire_test_things_total", "kind" => "a").increment(2);
        metrics::histogram!("wire_test_wait_seconds").record(0.003);
        let text = render();
        assert!(text.contains("wire_test_things_total{kind=\"a\"} 2"), "{text}");
        // Bucketed, not a summary: the 0.005 bucket holds the sample, the 0.0025 one does not.
        assert!(
            text.contains("wire_test_wait_seconds_bucket{le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("wire_test_wait_seconds_bucket{le=\"0.0025\"} 0"),
            "{text}"
        );
        assert!(text.contains("wire_test_wait_seconds_count 1"), "{text}");
    }
}
