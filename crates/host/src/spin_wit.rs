//! `spin_bindgen!`: wasmtime's `bindgen!` over the WIT files shipped by the
//! `spin-sdk` crate (build.rs finds them). Each capability module calls it with
//! the world of the interfaces it implements.

include!(concat!(env!("OUT_DIR"), "/spin_sdk_wit.rs"));

pub(crate) use spin_bindgen;
