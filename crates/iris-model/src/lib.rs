//! iris-model
