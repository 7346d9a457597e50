//! The embedded default model, optimised before the first request.
//!
//! Spin gives every request a fresh instance, so a model loaded by one request is gone
//! by the next, and loading (ONNX decoding, tract's analysis and optimisation) costs
//! more than the rest of a prediction. For the embedded default the build does it once
//! instead: `spinflow preinit` calls the component's `wizer-initialize` export, which
//! fills the statics below, and writes the instance's memory back into the component
//! (wasmtime's wizer). Every instance then starts with the model ready.
//!
//! Without that snapshot (native tests, a plain `cargo build`) the first use in an
//! instance loads the model, as before.
//!
//! Registry models are only known at run time. The last one an instance prepared is
//! kept with its plans ([`registry`]): a WASIp2 instance serves one request, so it
//! loads per request, but Spin reuses a WASIp3 instance (iris-api-p3) for many, and
//! each loads a version once.

use crate::model::{Model, EMBEDDED_PREPARED};
use std::cell::RefCell;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};
use tract_onnx::prelude::TractResult;

/// A plan for exactly one row (the common request) and one for any batch size: a
/// concrete shape optimises further than the symbolic one.
static ONE_ROW: OnceLock<Model> = OnceLock::new();
static ANY_ROWS: OnceLock<Model> = OnceLock::new();

/// Loads the embedded model's plans and runs each once; `wizer-initialize` calls this
/// at build time.
///
/// The runs matter as much as the loads: tract picks its compute kernels (softmax,
/// matrix products) on first use and keeps the choice in statics; when every fresh
/// instance made it again, it was ~20 % of the component's time in a one-row request.
/// Made here, it is in the snapshot, for registry models too.
pub fn preload() -> TractResult<()> {
    const WARM_UP_ROW: [f32; 4] = [5.8, 3.0, 4.35, 1.3];
    embedded(Some(1))?.predict(&[WARM_UP_ROW])?;
    embedded(None)?.predict(&[WARM_UP_ROW, WARM_UP_ROW])?;
    Ok(())
}

/// The embedded model's plan for batches of `rows` rows (any size when `None`),
/// loaded now unless already there.
pub fn embedded(rows: Option<usize>) -> TractResult<&'static Model> {
    let (cell, shape) = match rows {
        Some(1) => (&ONE_ROW, Some(1)),
        _ => (&ANY_ROWS, None),
    };
    if let Some(model) = cell.get() {
        return Ok(model);
    }
    let model = Model::load_for(EMBEDDED_PREPARED, shape)?;
    Ok(cell.get_or_init(|| model))
}

/// The registry version this instance prepared last: its cache key, its bytes,
/// and its plans as they were first needed.
struct PreparedVersion {
    key: String,
    onnx: Arc<[u8]>,
    one_row: Option<Model>,
    any_rows: Option<Model>,
}

thread_local! {
    static REGISTRY: RefCell<Option<PreparedVersion>> = const { RefCell::new(None) };
}

/// The bytes of the registry version `key` if this instance already has them.
pub fn registry_bytes(key: &str) -> Option<Arc<[u8]>> {
    REGISTRY.with_borrow(|prepared| {
        prepared
            .as_ref()
            .filter(|p| p.key == key)
            .map(|p| p.onnx.clone())
    })
}

/// How a request got its plan: the `desc` of the `load` part of `Server-Timing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanOrigin {
    /// The embedded default, loaded at build time.
    Preloaded,
    /// A registry version's, placed from the image an earlier instance made.
    Image,
    /// A registry version's this instance had loaded for an earlier request (WASIp3).
    Kept,
    /// A registry version's, loaded for this request.
    Loaded,
}

impl PlanOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanOrigin::Preloaded => "preloaded",
            PlanOrigin::Image => "image",
            PlanOrigin::Kept => "kept",
            PlanOrigin::Loaded => "loaded",
        }
    }
}

/// A registry version's plan, and what became of its image when one was tried.
pub struct RegistryPlan {
    pub runnable: Runnable,
    pub origin: PlanOrigin,
    /// `Some(Ok(image))` to keep, `Some(Err(()))` when this plan cannot be kept as
    /// an image, `None` when none was tried.
    pub image: Option<Result<Vec<u8>, ()>>,
}

/// The plan of registry version `key` (prepared bytes `onnx`) for batches of `rows`
/// rows, loaded unless this instance already has it. A new key replaces the last.
/// In the pre-initialised WASIp2 build, with `make_image`, the load is also made into
/// an image (see `model_image`).
pub fn registry(
    key: &str,
    onnx: &Arc<[u8]>,
    rows: Option<usize>,
    make_image: bool,
) -> TractResult<RegistryPlan> {
    #[cfg(all(feature = "wasip2", target_arch = "wasm32"))]
    if make_image && crate::model_image::snapshot_tag().is_some() {
        let shape = rows.filter(|&n| n == 1);
        let (model, image) =
            crate::model_image::record(onnx, |bytes| Model::load_for(bytes, shape))?;
        return Ok(RegistryPlan {
            runnable: Runnable::Resident(model),
            origin: PlanOrigin::Loaded,
            image: Some(image.map_err(|_| ())),
        });
    }
    let _ = make_image;
    REGISTRY.with_borrow_mut(|prepared| {
        if prepared.as_ref().is_none_or(|p| p.key != key) {
            *prepared = Some(PreparedVersion {
                key: key.to_string(),
                onnx: onnx.clone(),
                one_row: None,
                any_rows: None,
            });
        }
        let prepared = prepared.as_mut().expect("set above");
        let (slot, shape) = match rows {
            Some(1) => (&mut prepared.one_row, Some(1)),
            _ => (&mut prepared.any_rows, None),
        };
        let origin = if slot.is_some() {
            PlanOrigin::Kept
        } else {
            *slot = Some(Model::load_for(&prepared.onnx, shape)?);
            PlanOrigin::Loaded
        };
        Ok(RegistryPlan {
            runnable: Runnable::Loaded(slot.clone().expect("set above")),
            origin,
            image: None,
        })
    })
}

/// The suffix of the key-value key of images this instance can make and use, if
/// it can: the pre-initialised WASIp2 build, before it loaded a registry model.
pub fn image_tag() -> Option<String> {
    #[cfg(all(feature = "wasip2", target_arch = "wasm32"))]
    return crate::model_image::snapshot_tag();
    #[cfg(not(all(feature = "wasip2", target_arch = "wasm32")))]
    None
}

/// The plan an image holds, placed in this instance if the image fits it (see
/// `model_image`).
pub fn restore(image: &[u8]) -> Option<&'static Model> {
    #[cfg(all(feature = "wasip2", target_arch = "wasm32"))]
    return crate::model_image::restore::<Model>(image);
    #[cfg(not(all(feature = "wasip2", target_arch = "wasm32")))]
    {
        let _ = image;
        None
    }
}

/// Whether the embedded model was loaded before this instance served anything, which
/// is what a pre-initialised component looks like on its first request.
pub fn is_preloaded() -> bool {
    ONE_ROW.get().is_some() && ANY_ROWS.get().is_some()
}

/// A runnable model: one that lives as long as the instance (the preloaded embedded
/// model, or a registry version's placed in the model region), or a registry
/// version's loaded the ordinary way.
pub enum Runnable {
    Resident(&'static Model),
    Loaded(Model),
}

impl Deref for Runnable {
    type Target = Model;

    fn deref(&self) -> &Model {
        match self {
            Runnable::Resident(model) => model,
            Runnable::Loaded(model) => model,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETOSA: [f32; 4] = [5.1, 3.5, 1.4, 0.2];
    const VIRGINICA: [f32; 4] = [6.7, 3.0, 5.2, 2.3];

    #[test]
    fn preloading_loads_each_plan_once_and_both_predict() {
        preload().unwrap();
        assert!(is_preloaded());
        let one = embedded(Some(1)).unwrap();
        assert!(std::ptr::eq(one, embedded(Some(1)).unwrap()));
        let any = embedded(Some(7)).unwrap();
        assert!(std::ptr::eq(any, embedded(None).unwrap()));
        assert!(!std::ptr::eq(one, any));

        assert_eq!(one.predict(&[SETOSA]).unwrap().class_indices(), [0]);
        let batch = any.predict(&[SETOSA, VIRGINICA, SETOSA]).unwrap();
        assert_eq!(batch.class_indices(), [0, 2, 0]);
        // Same model, same probabilities, whichever plan runs it.
        let single = one.predict(&[VIRGINICA]).unwrap().probabilities;
        for (a, b) in single[0].iter().zip(&batch.probabilities[1]) {
            assert!(
                (a - b).abs() < 1e-6,
                "{single:?} vs {:?}",
                batch.probabilities
            );
        }
    }

    #[test]
    fn a_registry_version_is_loaded_once_per_plan_until_another_replaces_it() {
        let onnx: Arc<[u8]> = Arc::from(EMBEDDED_PREPARED);
        assert!(registry_bytes("iris/3").is_none());
        let plan = |key, rows| registry(key, &onnx, rows, true).unwrap().runnable;
        let one = plan("iris/3", Some(1));
        assert!(one.shares_plan_with(&plan("iris/3", Some(1))));
        let any = plan("iris/3", Some(4));
        assert!(!any.shares_plan_with(&one));
        assert!(any.shares_plan_with(&plan("iris/3", None)));
        assert_eq!(one.predict(&[SETOSA]).unwrap().class_indices(), [0]);
        assert!(registry_bytes("iris/3").is_some_and(|b| b.len() == onnx.len()));

        // Another version replaces it: the old one would be loaded again.
        let next = plan("iris/4", Some(1));
        assert!(!next.shares_plan_with(&one));
        assert!(registry_bytes("iris/3").is_none());
        assert!(registry_bytes("iris/4").is_some());
    }
}
