//! Classification metrics: accuracy, per-class precision/recall/F1, confusion matrix.

use crate::names::{CLASS_NAMES, N_CLASSES};

/// Metrics of one class (one-vs-rest).
#[derive(Debug, Clone, PartialEq)]
pub struct ClassReport {
    pub class: &'static str,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Number of samples whose true class is this one.
    pub support: usize,
}

/// How a model did on a data set.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Share of samples predicted correctly (0 for an empty set).
    pub accuracy: f64,
    /// One report per class, in [`CLASS_NAMES`] order.
    pub per_class: Vec<ClassReport>,
    /// `confusion[true][predicted]` counts.
    pub confusion: [[usize; N_CLASSES]; N_CLASSES],
    pub n_samples: usize,
}

impl Evaluation {
    /// Builds the metrics from `(true, predicted)` class-index pairs.
    pub fn from_pairs(pairs: &[(usize, usize)]) -> Self {
        let mut confusion = [[0usize; N_CLASSES]; N_CLASSES];
        for &(truth, predicted) in pairs {
            confusion[truth][predicted] += 1;
        }
        let correct: usize = (0..N_CLASSES).map(|k| confusion[k][k]).sum();
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let per_class = (0..N_CLASSES)
            .map(|k| {
                let support: usize = confusion[k].iter().sum();
                let predicted: usize = (0..N_CLASSES).map(|t| confusion[t][k]).sum();
                let precision = ratio(confusion[k][k], predicted);
                let recall = ratio(confusion[k][k], support);
                let f1 = if precision + recall == 0.0 {
                    0.0
                } else {
                    2.0 * precision * recall / (precision + recall)
                };
                ClassReport {
                    class: CLASS_NAMES[k],
                    precision,
                    recall,
                    f1,
                    support,
                }
            })
            .collect();
        Self {
            accuracy: ratio(correct, pairs.len()),
            per_class,
            confusion,
            n_samples: pairs.len(),
        }
    }

    /// Flat `(name, value)` metrics such as `accuracy`, `precision_setosa`, `f1_virginica`,
    /// ready to log to MLflow (prefix them, e.g. `test_`, as needed).
    pub fn metrics(&self) -> Vec<(String, f64)> {
        let mut out = vec![("accuracy".to_string(), self.accuracy)];
        for c in &self.per_class {
            out.push((format!("precision_{}", c.class), c.precision));
            out.push((format!("recall_{}", c.class), c.recall));
            out.push((format!("f1_{}", c.class), c.f1));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_match_a_hand_computed_case() {
        // truth 0,0,1,1,2 ; predicted 0,1,1,1,0
        let e = Evaluation::from_pairs(&[(0, 0), (0, 1), (1, 1), (1, 1), (2, 0)]);
        assert!((e.accuracy - 0.6).abs() < 1e-12);
        assert_eq!(e.confusion, [[1, 1, 0], [0, 2, 0], [1, 0, 0]]);
        let setosa = &e.per_class[0];
        assert_eq!(
            (setosa.precision, setosa.recall, setosa.support),
            (0.5, 0.5, 2)
        );
        let versicolor = &e.per_class[1];
        assert!((versicolor.precision - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(versicolor.recall, 1.0);
        assert!((versicolor.f1 - 0.8).abs() < 1e-12);
        assert_eq!(e.per_class[2].f1, 0.0);
        assert_eq!(e.metrics().len(), 1 + 3 * N_CLASSES);
    }

    #[test]
    fn empty_input_gives_zero_not_nan() {
        let e = Evaluation::from_pairs(&[]);
        assert_eq!(e.accuracy, 0.0);
        assert!(e.per_class.iter().all(|c| c.f1 == 0.0));
    }
}
