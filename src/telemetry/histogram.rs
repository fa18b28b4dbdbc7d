//! A Prometheus histogram fed with counts already bucketed (by the database, see
//! `repo::telemetry`): adding a bucket's count costs the same for one observation or a million,
//! where `prometheus_client`'s histogram takes observations one by one.

use std::sync::{Arc, Mutex};

use prometheus_client::{
    encoding::{EncodeMetric, MetricEncoder, NoLabelSet},
    metrics::{MetricType, TypedMetric},
};

use crate::sync::lock_unpoisoned as lock;

/// Bucket counts (not cumulative), their sum and the bounds; cloning shares the values.
#[derive(Clone, Debug)]
pub struct BucketedHistogram {
    bounds: &'static [f64],
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    sum: f64,
    /// One per bound, plus +Inf.
    buckets: Vec<u64>,
}

impl BucketedHistogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        BucketedHistogram {
            bounds,
            inner: Arc::new(Mutex::new(Inner {
                sum: 0.0,
                buckets: vec![0; bounds.len() + 1],
            })),
        }
    }

    /// Adds `count` observations in bucket `bucket` (an index into the bounds, past them for
    /// +Inf) whose values sum to `sum`.
    pub fn add(&self, bucket: usize, count: u64, sum: f64) {
        let mut inner = lock(&self.inner);
        let last = inner.buckets.len() - 1;
        inner.buckets[bucket.min(last)] += count;
        inner.sum += sum;
    }
}

impl TypedMetric for BucketedHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for BucketedHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let inner = lock(&self.inner);
        let buckets: Vec<(f64, u64)> = self
            .bounds
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(inner.buckets.iter().copied())
            .collect();
        let count = inner.buckets.iter().sum();
        encoder.encode_histogram::<NoLabelSet>(inner.sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::{encoding::text::encode, registry::Registry};

    use super::*;

    #[test]
    fn bucketed_counts_encode_as_a_cumulative_histogram() {
        static BOUNDS: [f64; 2] = [0.5, 2.0];
        let h = BucketedHistogram::new(&BOUNDS);
        h.add(0, 3, 0.6);
        h.add(2, 1, 9.0);
        h.add(7, 1, 10.0);
        let mut registry = Registry::default();
        registry.register("d", "durations", h);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        for line in [
            "d_sum 19.6",
            "d_count 5",
            "d_bucket{le=\"0.5\"} 3",
            "d_bucket{le=\"2.0\"} 3",
            "d_bucket{le=\"+Inf\"} 5",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
