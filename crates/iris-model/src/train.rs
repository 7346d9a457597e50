//! Multinomial logistic regression trained by full-batch gradient descent.
//!
//! Full-batch descent from zero weights has no randomness of its own, so a run is
//! fully determined by the data split (the seed) and the hyper-parameters.

use crate::data::Dataset;
use crate::evaluate::Evaluation;
use crate::names::{N_CLASSES, N_FEATURES};

/// Hyper-parameters of a training run.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Gradient-descent step size (on standardised features).
    pub learning_rate: f64,
    /// Number of full passes over the training set.
    pub epochs: usize,
    /// L2 penalty on the weights (not the biases).
    pub l2: f64,
    /// Seed of the train/test split.
    pub seed: u64,
    /// Share of each class held out for testing.
    pub test_fraction: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            learning_rate: 0.5,
            epochs: 2000,
            l2: 1e-3,
            seed: 42,
            test_fraction: 0.2,
        }
    }
}

impl TrainConfig {
    /// The hyper-parameters as `(name, value)` pairs, e.g. to log them as MLflow params.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("model_type", "multinomial_logistic_regression".to_string()),
            ("learning_rate", self.learning_rate.to_string()),
            ("epochs", self.epochs.to_string()),
            ("l2", self.l2.to_string()),
            ("seed", self.seed.to_string()),
            ("test_fraction", self.test_fraction.to_string()),
        ]
    }
}

/// A trained model: `probabilities = softmax(x · weights + bias)`, with `x` the raw
/// measurements in cm (the standardisation used in training is folded into the weights).
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticRegression {
    /// `[feature][class]`, the layout of ONNX `Gemm`'s B input.
    pub weights: [[f32; N_CLASSES]; N_FEATURES],
    pub bias: [f32; N_CLASSES],
}

/// Trains on `data` with `config` (the split fields of `config` are not used here).
///
/// Panics if `data` is empty.
pub fn train(data: &Dataset, config: &TrainConfig) -> LogisticRegression {
    assert!(!data.is_empty(), "cannot train on an empty data set");
    let n = data.len() as f64;
    let (mean, std) = standardisation(data);
    let x: Vec<[f64; N_FEATURES]> = data
        .samples
        .iter()
        .map(|s| std::array::from_fn(|j| (f64::from(s.features[j]) - mean[j]) / std[j]))
        .collect();

    let mut w = [[0f64; N_CLASSES]; N_FEATURES];
    let mut b = [0f64; N_CLASSES];
    for _ in 0..config.epochs {
        let mut grad_w = [[0f64; N_CLASSES]; N_FEATURES];
        let mut grad_b = [0f64; N_CLASSES];
        for (xi, sample) in x.iter().zip(&data.samples) {
            let p = softmax(&logits(xi, &w, &b));
            for k in 0..N_CLASSES {
                let err = p[k] - if sample.label == k { 1.0 } else { 0.0 };
                grad_b[k] += err;
                for j in 0..N_FEATURES {
                    grad_w[j][k] += err * xi[j];
                }
            }
        }
        for k in 0..N_CLASSES {
            b[k] -= config.learning_rate * grad_b[k] / n;
            for j in 0..N_FEATURES {
                w[j][k] -= config.learning_rate * (grad_w[j][k] / n + config.l2 * w[j][k]);
            }
        }
    }

    // Fold (x - mean) / std into the weights so the exported graph takes raw cm.
    let weights = std::array::from_fn(|j| std::array::from_fn(|k| (w[j][k] / std[j]) as f32));
    let bias = std::array::from_fn(|k| {
        (b[k]
            - (0..N_FEATURES)
                .map(|j| w[j][k] * mean[j] / std[j])
                .sum::<f64>()) as f32
    });
    LogisticRegression { weights, bias }
}

fn standardisation(data: &Dataset) -> ([f64; N_FEATURES], [f64; N_FEATURES]) {
    let n = data.len() as f64;
    let column = |j: usize| data.samples.iter().map(move |s| f64::from(s.features[j]));
    let mean: [f64; N_FEATURES] = std::array::from_fn(|j| column(j).sum::<f64>() / n);
    let std = std::array::from_fn(|j| {
        let var = column(j).map(|v| (v - mean[j]).powi(2)).sum::<f64>() / n;
        // A constant column carries no signal; dividing by 1 keeps it harmless.
        if var > 0.0 {
            var.sqrt()
        } else {
            1.0
        }
    });
    (mean, std)
}

fn logits(
    x: &[f64; N_FEATURES],
    w: &[[f64; N_CLASSES]; N_FEATURES],
    b: &[f64; N_CLASSES],
) -> [f64; N_CLASSES] {
    std::array::from_fn(|k| b[k] + (0..N_FEATURES).map(|j| x[j] * w[j][k]).sum::<f64>())
}

fn softmax<const C: usize>(z: &[f64; C]) -> [f64; C] {
    let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: [f64; C] = std::array::from_fn(|k| (z[k] - max).exp());
    let sum: f64 = e.iter().sum();
    std::array::from_fn(|k| e[k] / sum)
}

impl LogisticRegression {
    /// Class probabilities for one flower (measurements in cm).
    pub fn predict_proba(&self, features: &[f32; N_FEATURES]) -> [f32; N_CLASSES] {
        let x = features.map(f64::from);
        let w = self.weights.map(|row| row.map(f64::from));
        let b = self.bias.map(f64::from);
        softmax(&logits(&x, &w, &b)).map(|p| p as f32)
    }

    /// Index (into [`crate::CLASS_NAMES`]) of the most probable class.
    pub fn predict(&self, features: &[f32; N_FEATURES]) -> usize {
        argmax(&self.predict_proba(features))
    }

    /// Accuracy, per-class precision/recall/F1 and the confusion matrix on `data`.
    pub fn evaluate(&self, data: &Dataset) -> Evaluation {
        let pairs: Vec<(usize, usize)> = data
            .samples
            .iter()
            .map(|s| (s.label, self.predict(&s.features)))
            .collect();
        Evaluation::from_pairs(&pairs)
    }
}

/// First index of the largest value.
pub(crate) fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iris;

    #[test]
    fn default_training_generalises_to_the_held_out_set() {
        let config = TrainConfig::default();
        let (train_set, test_set) = iris().split(config.test_fraction, config.seed);
        let model = train(&train_set, &config);
        let report = model.evaluate(&test_set);
        assert!(
            report.accuracy >= 0.9,
            "held-out accuracy {}",
            report.accuracy
        );
        assert!(model.evaluate(&train_set).accuracy >= 0.95);
        assert_eq!(
            model,
            train(&train_set, &config),
            "training is deterministic"
        );
    }

    #[test]
    fn probabilities_sum_to_one_and_a_typical_setosa_is_setosa() {
        let config = TrainConfig::default();
        let model = train(&iris().split(config.test_fraction, config.seed).0, &config);
        let p = model.predict_proba(&[5.1, 3.5, 1.4, 0.2]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert_eq!(model.predict(&[5.1, 3.5, 1.4, 0.2]), 0);
        assert_eq!(model.predict(&[6.7, 3.0, 5.2, 2.3]), 2);
    }

    #[test]
    fn zero_epochs_gives_uniform_probabilities() {
        let config = TrainConfig {
            epochs: 0,
            ..TrainConfig::default()
        };
        let model = train(&iris(), &config);
        for p in model.predict_proba(&[5.0, 3.0, 4.0, 1.0]) {
            assert!((p - 1.0 / 3.0).abs() < 1e-6);
        }
    }
}
