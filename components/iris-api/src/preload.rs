//! Models loaded before the first request: the embedded default, and a model baked
//! into the component at build time.
//!
//! Spin gives every request to a WASIp2 component a fresh instance, so a model
//! loaded by one request is gone by the next, and loading (ONNX decoding, tract's
//! analysis and optimisation) costs more than the rest of a prediction. The build
//! does it once instead: `spinflow preinit` calls the component's `wizer-initialize`
//! export, which fills the statics below, and writes the instance's memory back into
//! the component (wasmtime's wizer). Every instance then starts with these models
//! ready.
//!
//! * The embedded default ([`EMBEDDED_PREPARED`]) serves when the registry has
//!   nothing to serve.
//! * A baked model ([`bake`], `spinflow preinit --model`) is known by the digest of
//!   its prepared bytes: whichever registry version has exactly those bytes is served
//!   from the baked plans.
//!
//! Without that snapshot (native tests, a plain `cargo build`) the first use in an
//! instance loads the embedded model.
//!
//! Other registry versions are only known at run time. The last one an instance
//! prepared is kept with its plans ([`registry`]): a WASIp2 instance serves one
//! request, so it loads per request, but Spin reuses a WASIp3 instance (iris-api-p3)
//! for many, and each loads a version once.

use crate::model::{self, Model, EMBEDDED_PREPARED};
use std::cell::RefCell;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};
use tract_onnx::prelude::TractResult;

/// A model's two plans: one for exactly one row (the common request) and one for any
/// batch size. A concrete shape optimises further than the symbolic one.
pub struct Plans {
    one_row: Model,
    any_rows: Model,
}

impl Plans {
    /// Loads both plans and runs each once.
    ///
    /// The runs matter as much as the loads: tract picks its compute kernels (softmax,
    /// matrix products) on first use and keeps the choice in statics; made here, at
    /// build time, it is in the snapshot, for every model loaded later too.
    fn load(prepared: &[u8]) -> TractResult<Self> {
        const WARM_UP_ROW: [f32; 4] = [5.8, 3.0, 4.35, 1.3];
        let one_row = Model::load_for(prepared, Some(1))?;
        one_row.predict(&[WARM_UP_ROW])?;
        let any_rows = Model::load_for(prepared, None)?;
        any_rows.predict(&[WARM_UP_ROW, WARM_UP_ROW])?;
        Ok(Self { one_row, any_rows })
    }

    /// The plan for batches of `rows` rows (any size when `None`).
    pub fn for_rows(&self, rows: Option<usize>) -> &Model {
        match rows {
            Some(1) => &self.one_row,
            _ => &self.any_rows,
        }
    }
}

static EMBEDDED: OnceLock<Plans> = OnceLock::new();

/// A model baked at build time, and the digest of its prepared bytes.
pub struct Baked {
    pub digest: String,
    pub plans: Plans,
}

static BAKED: OnceLock<Baked> = OnceLock::new();

/// Loads the embedded model's plans; `wizer-initialize` calls this at build time.
pub fn preload() -> TractResult<()> {
    embedded(None).map(drop)
}

/// The embedded model's plan for batches of `rows` rows (any size when `None`),
/// loaded now unless already there.
pub fn embedded(rows: Option<usize>) -> TractResult<&'static Model> {
    if let Some(plans) = EMBEDDED.get() {
        return Ok(plans.for_rows(rows));
    }
    let plans = Plans::load(EMBEDDED_PREPARED)?;
    Ok(EMBEDDED.get_or_init(|| plans).for_rows(rows))
}

/// Bakes a model given in its prepared form (see [`model::prepare`]): loads its plans
/// so that the snapshot holds them. Called at build time; a second bake is refused.
pub fn bake(prepared: &[u8]) -> TractResult<()> {
    let baked = Baked {
        digest: model::digest(prepared),
        plans: Plans::load(prepared)?,
    };
    BAKED
        .set(baked)
        .map_err(|_| anyhow::anyhow!("a model is already baked"))
}

/// The baked model, if this component has one.
pub fn baked() -> Option<&'static Baked> {
    BAKED.get()
}

/// Whether the embedded model was loaded before this instance served anything, which
/// is what a pre-initialised component looks like on its first request.
pub fn is_preloaded() -> bool {
    EMBEDDED.get().is_some()
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
    /// A registry version baked into the component at build time.
    Baked,
    /// A registry version's this instance had loaded for an earlier request (WASIp3).
    Kept,
    /// A registry version's, loaded for this request.
    Loaded,
}

impl PlanOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanOrigin::Preloaded => "preloaded",
            PlanOrigin::Baked => "baked",
            PlanOrigin::Kept => "kept",
            PlanOrigin::Loaded => "loaded",
        }
    }
}

/// The plan of registry version `key` (prepared bytes `onnx`) for batches of `rows`
/// rows, loaded unless this instance already has it. A new key replaces the last.
pub fn registry(
    key: &str,
    onnx: &Arc<[u8]>,
    rows: Option<usize>,
) -> TractResult<(Runnable, PlanOrigin)> {
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
        Ok((Runnable::Loaded(slot.clone().expect("set above")), origin))
    })
}

/// A runnable model: one that lives as long as the instance (the embedded or the
/// baked model), or a registry version's loaded at run time.
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
    fn a_baked_model_is_known_by_its_digest_and_baked_once() {
        // The embedded model under another doc string: other bytes than any model
        // the other tests of this process serve.
        let mut proto =
            <tract_onnx::pb::ModelProto as prost::Message>::decode(EMBEDDED_PREPARED).unwrap();
        proto.doc_string = "baked in a test".into();
        let prepared = prost::Message::encode_to_vec(&proto);
        bake(&prepared).unwrap();
        let baked = baked().unwrap();
        assert_eq!(baked.digest, model::digest(&prepared));
        assert_ne!(baked.digest, model::digest(EMBEDDED_PREPARED));
        let one = baked.plans.for_rows(Some(1));
        assert_eq!(one.predict(&[SETOSA]).unwrap().class_indices(), [0]);
        let any = baked.plans.for_rows(Some(3));
        let batch = any.predict(&[SETOSA, VIRGINICA, SETOSA]).unwrap();
        assert_eq!(batch.class_indices(), [0, 2, 0]);
        assert!(bake(&prepared).is_err());
    }

    #[test]
    fn a_registry_version_is_loaded_once_per_plan_until_another_replaces_it() {
        let onnx: Arc<[u8]> = Arc::from(EMBEDDED_PREPARED);
        assert!(registry_bytes("iris/3").is_none());
        let plan = |key, rows| registry(key, &onnx, rows).unwrap();
        let (one, origin) = plan("iris/3", Some(1));
        assert_eq!(origin, PlanOrigin::Loaded);
        let (again, origin) = plan("iris/3", Some(1));
        assert_eq!(origin, PlanOrigin::Kept);
        assert!(one.shares_plan_with(&again));
        let (any, _) = plan("iris/3", Some(4));
        assert!(!any.shares_plan_with(&one));
        assert!(any.shares_plan_with(&plan("iris/3", None).0));
        assert_eq!(one.predict(&[SETOSA]).unwrap().class_indices(), [0]);
        assert!(registry_bytes("iris/3").is_some_and(|b| b.len() == onnx.len()));

        // Another version replaces it: the old one would be loaded again.
        let (next, origin) = plan("iris/4", Some(1));
        assert_eq!(origin, PlanOrigin::Loaded);
        assert!(!next.shares_plan_with(&one));
        assert!(registry_bytes("iris/3").is_none());
        assert!(registry_bytes("iris/4").is_some());
    }
}
