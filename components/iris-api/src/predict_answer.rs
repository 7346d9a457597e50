//! The `/predict` answer, serialised straight from the predictions.
//!
//! No `serde_json::Value` tree in between, which would cost a map, three strings and a
//! boxed number per row. The bytes are those such a tree gives (a test compares them):
//! keys in the sorted order a `serde_json::Map` gives, probabilities as the `f64` of
//! each `f32`.

use crate::model::Predictions;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value;

#[derive(Serialize)]
struct Answer<'a> {
    model: &'a Value,
    predictions: Vec<Row<'a>>,
}

#[derive(Serialize)]
struct Row<'a> {
    class: &'a str,
    class_index: usize,
    probabilities: ByClass<'a>,
}

/// One row's probabilities keyed by class name, in name order.
struct ByClass<'a> {
    labels: &'a [String],
    order: &'a [usize],
    probabilities: &'a [f32],
}

impl Serialize for ByClass<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for &i in self.order {
            if let Some(p) = self.probabilities.get(i) {
                map.serialize_entry(&self.labels[i], &f64::from(*p))?;
            }
        }
        map.end()
    }
}

/// `{"model": model, "predictions": [{"class", "class_index", "probabilities"}...]}`.
pub fn to_json(p: &Predictions, labels: &[String], model: &Value) -> Vec<u8> {
    // A JSON object keeps one value per name: the last column of a repeated label.
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|a, b| labels[*a].cmp(&labels[*b]).then(b.cmp(a)));
    order.dedup_by(|later, earlier| labels[*later] == labels[*earlier]);
    let predictions = p
        .probabilities
        .iter()
        .zip(p.class_indices())
        .map(|(probabilities, k)| Row {
            class: &labels[k],
            class_index: k,
            probabilities: ByClass {
                labels,
                order: &order,
                probabilities,
            },
        })
        .collect();
    serde_json::to_vec(&Answer { model, predictions }).expect("the answer serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The answer built as a `Value` tree: the bytes `to_json` must match.
    fn as_value_tree(p: &Predictions, labels: &[String], model: &Value) -> Vec<u8> {
        let predictions: Vec<Value> = p
            .probabilities
            .iter()
            .zip(p.class_indices())
            .map(|(probs, k)| {
                let by_class: serde_json::Map<String, Value> = labels
                    .iter()
                    .zip(probs)
                    .map(|(c, v)| (c.clone(), json!(v)))
                    .collect();
                json!({"class": labels[k], "class_index": k, "probabilities": by_class})
            })
            .collect();
        json!({"predictions": predictions, "model": model})
            .to_string()
            .into_bytes()
    }

    fn check(labels: &[&str], probabilities: Vec<Vec<f32>>) {
        let labels: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
        let p = Predictions {
            class_names: labels.clone(),
            probabilities,
        };
        let model = json!({"name": "iris", "version": "3", "source": "registry"});
        let ours = to_json(&p, &labels, &model);
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            String::from_utf8(as_value_tree(&p, &labels, &model)).unwrap()
        );
    }

    #[test]
    fn same_bytes_as_a_value_tree() {
        check(
            &["setosa", "versicolor", "virginica"],
            vec![
                vec![0.996_989_3, 0.003_010_769, 5.877e-13],
                vec![0.1, 0.2, 0.7],
            ],
        );
        // Unsorted, numeric and repeated labels; no rows.
        check(&["b", "10", "2", "a"], vec![vec![0.4, 0.3, 0.2, 0.1]]);
        check(&["x", "y", "x"], vec![vec![0.5, 0.2, 0.3]]);
        check(&["x", "y"], vec![]);
        // More labels than columns, and a probability that is not a number.
        check(&["a", "b", "c"], vec![vec![f32::NAN, 1.0]]);
    }
}
