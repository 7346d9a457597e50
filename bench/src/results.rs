//! Figures collected during a run: one value per repetition, per system, per metric.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Better {
    Higher,
    Lower,
}

/// One metric of one workload on one system, with a value per repetition.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    pub workload: String,
    pub metric: String,
    pub unit: String,
    pub better: Better,
    pub system: String,
    pub values: Vec<f64>,
}

impl Figure {
    pub fn median(&self) -> f64 {
        median(&self.values)
    }

    pub fn min(&self) -> f64 {
        self.values.iter().copied().fold(f64::INFINITY, f64::min)
    }

    pub fn max(&self) -> f64 {
        self.values
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    }
}

pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Everything one run measured, in the order it was measured.
#[derive(Debug, Default, Serialize)]
pub struct Results {
    pub figures: Vec<Figure>,
    /// Failures and remarks worth reading next to the figures (errors, failed checks).
    pub notes: Vec<String>,
    /// Artifact sizes on disk: (what, MiB). Measured once, not per repetition.
    pub sizes: Vec<(String, f64)>,
}

impl Results {
    pub fn record(
        &mut self,
        workload: &str,
        metric: &str,
        unit: &str,
        better: Better,
        system: &str,
        value: f64,
    ) {
        if let Some(f) = self
            .figures
            .iter_mut()
            .find(|f| f.workload == workload && f.metric == metric && f.system == system)
        {
            f.values.push(value);
            return;
        }
        self.figures.push(Figure {
            workload: workload.into(),
            metric: metric.into(),
            unit: unit.into(),
            better,
            system: system.into(),
            values: vec![value],
        });
    }

    pub fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        eprintln!("note: {text}");
        self.notes.push(text);
    }

    pub fn find(&self, workload: &str, metric: &str, system: &str) -> Option<&Figure> {
        self.figures
            .iter()
            .find(|f| f.workload == workload && f.metric == metric && f.system == system)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_even_and_odd_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn record_appends_repetitions_to_the_same_figure() {
        let mut r = Results::default();
        r.record("predict-1", "rps", "req/s", Better::Higher, "a", 10.0);
        r.record("predict-1", "rps", "req/s", Better::Higher, "b", 5.0);
        r.record("predict-1", "rps", "req/s", Better::Higher, "a", 12.0);
        assert_eq!(r.figures.len(), 2);
        let a = r.find("predict-1", "rps", "a").unwrap();
        assert_eq!(a.values, vec![10.0, 12.0]);
        assert_eq!((a.min(), a.max(), a.median()), (10.0, 12.0, 11.0));
    }
}
