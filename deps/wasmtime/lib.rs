//! Re-exports wasmtime's C API so that `crate-type = ["staticlib"]` emits all of its symbols.
pub use wasmtime_c_api::*;
