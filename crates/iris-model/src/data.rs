//! The Iris data set (Fisher, 1936; 150 rows as distributed with scikit-learn),
//! loaded from `data/iris.csv`, and a deterministic stratified train/test split.

use crate::names::{CLASS_NAMES, FEATURE_NAMES, N_CLASSES, N_FEATURES};
use crate::rng::SplitMix64;
use std::fmt;

const IRIS_CSV: &str = include_str!("../data/iris.csv");

/// One flower: four measurements in cm and its class index (into [`CLASS_NAMES`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub features: [f32; N_FEATURES],
    pub label: usize,
}

/// A list of samples.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dataset {
    pub samples: Vec<Sample>,
}

/// Why a CSV could not be read as Iris data.
#[derive(Debug, Clone, PartialEq)]
pub struct DataError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for DataError {}

/// The 150-row Iris data set embedded in the crate.
pub fn iris() -> Dataset {
    Dataset::from_csv(IRIS_CSV).expect("the embedded iris.csv is valid")
}

impl Dataset {
    /// Parses a CSV with the header `sepal_length,sepal_width,petal_length,petal_width,species`
    /// and one row per flower; `species` must be one of [`CLASS_NAMES`].
    pub fn from_csv(text: &str) -> Result<Self, DataError> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let expected_header = format!("{},species", FEATURE_NAMES.join(","));
        match lines.next() {
            Some((_, header)) if header.trim() == expected_header => {}
            other => {
                return Err(DataError {
                    line: other.map_or(1, |(i, _)| i + 1),
                    message: format!("expected the header `{expected_header}`"),
                })
            }
        }
        let samples = lines
            .map(|(i, line)| {
                parse_row(line).map_err(|message| DataError {
                    line: i + 1,
                    message,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { samples })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Splits into `(train, test)`, stratified by class: in each class, the samples are
    /// shuffled with `seed` and `round(test_fraction * class size)` of them go to the
    /// test set. The same seed always gives the same split; row order within each part
    /// follows the original order.
    pub fn split(&self, test_fraction: f64, seed: u64) -> (Dataset, Dataset) {
        let mut rng = SplitMix64::new(seed);
        let mut in_test = vec![false; self.len()];
        for class in 0..N_CLASSES {
            let mut members: Vec<usize> = (0..self.len())
                .filter(|&i| self.samples[i].label == class)
                .collect();
            rng.shuffle(&mut members);
            let n_test = (test_fraction.clamp(0.0, 1.0) * members.len() as f64).round() as usize;
            for &i in &members[..n_test] {
                in_test[i] = true;
            }
        }
        let pick = |test: bool| Dataset {
            samples: (0..self.len())
                .filter(|&i| in_test[i] == test)
                .map(|i| self.samples[i])
                .collect(),
        };
        (pick(false), pick(true))
    }
}

fn parse_row(line: &str) -> Result<Sample, String> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    if fields.len() != N_FEATURES + 1 {
        return Err(format!(
            "expected {} fields, found {}",
            N_FEATURES + 1,
            fields.len()
        ));
    }
    let mut features = [0f32; N_FEATURES];
    for (slot, (text, name)) in features.iter_mut().zip(fields.iter().zip(FEATURE_NAMES)) {
        *slot = text
            .parse()
            .ok()
            .filter(|v: &f32| v.is_finite())
            .ok_or_else(|| format!("{name} is not a finite number: {text:?}"))?;
    }
    let species = fields[N_FEATURES];
    let label = CLASS_NAMES
        .iter()
        .position(|c| *c == species)
        .ok_or_else(|| format!("unknown species {species:?}"))?;
    Ok(Sample { features, label })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_data_has_150_rows_50_per_class() {
        let data = iris();
        assert_eq!(data.len(), 150);
        for class in 0..N_CLASSES {
            assert_eq!(data.samples.iter().filter(|s| s.label == class).count(), 50);
        }
        assert_eq!(data.samples[0].features, [5.1, 3.5, 1.4, 0.2]);
    }

    #[test]
    fn split_is_stratified_deterministic_and_disjoint() {
        let data = iris();
        let (train, test) = data.split(0.2, 42);
        assert_eq!((train.len(), test.len()), (120, 30));
        for class in 0..N_CLASSES {
            assert_eq!(test.samples.iter().filter(|s| s.label == class).count(), 10);
        }
        assert_eq!(data.split(0.2, 42), (train.clone(), test.clone()));
        assert_ne!(data.split(0.2, 43).1, test);
    }

    #[test]
    fn bad_rows_are_reported_with_their_line() {
        let header = "sepal_length,sepal_width,petal_length,petal_width,species\n";
        let err = Dataset::from_csv(&format!("{header}5.1,3.5,x,0.2,setosa\n")).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("petal_length"), "{err}");
        let err = Dataset::from_csv(&format!("{header}5.1,3.5,1.4,0.2,rose\n")).unwrap_err();
        assert!(err.message.contains("rose"), "{err}");
        assert!(Dataset::from_csv("a,b\n").is_err());
    }
}
