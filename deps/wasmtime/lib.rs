//! Re-exports wasmtime's C API so that `crate-type = ["staticlib"]` emits all of its symbols, and
//! adds what quickbox needs that the C API does not offer: one pooling-allocator setting, and
//! engine creation that reports failure instead of panicking. typescript.rs is quickbox's
//! TypeScript stripper.
pub use wasmtime_c_api::*;

/// The TypeScript stripper (`quickbox_ts_strip`), in this library for the reason Cargo.toml gives.
pub mod typescript;

/// Lets the pooling allocator reset a reused slot's memory by scanning for the pages actually
/// dirtied (Linux `PAGEMAP_SCAN`, kernel 6.7 or later; ignored where unsupported) instead of
/// rewriting the whole keep-resident window on every sandbox teardown.
///
/// # Safety
/// `config` must be a live pointer from `wasmtime_pooling_allocation_config_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn quickbox_pooling_allocation_config_pagemap_scan_auto(
    config: *mut wasmtime_pooling_allocation_config_t,
) {
    // The C API type is `#[repr(C)]` around exactly one `PoolingAllocationConfig` (wasmtime-c-api-impl
    // =48.0.8, src/config.rs), so it sits at offset 0.
    let inner = unsafe { &mut *(config as *mut wasmtime::PoolingAllocationConfig) };
    inner.pagemap_scan(wasmtime::Enabled::Auto);
}

/// `wasm_engine_new_with_config`, except that a failure is returned as an error instead of a
/// panic (which, built with `panic = "abort"`, ends the process). Engine creation fails when the
/// pooling allocator cannot reserve its address space, e.g. under `ulimit -v`. On success
/// `*engine_out` owns the engine (free it with `wasm_engine_delete`); `config` is always consumed.
///
/// # Safety
/// `config` must come from `wasm_config_new`; `engine_out` must be a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn quickbox_engine_new(
    config: *mut wasm_config_t,
    engine_out: *mut *mut wasm_engine_t,
) -> *mut wasmtime_error_t {
    // Both C API types are `#[repr(C)]` around exactly one field (wasmtime-c-api-impl =48.0.8,
    // src/config.rs and src/engine.rs): a `Config` and an `Engine`, at offset 0.
    let config = unsafe { Box::from_raw(config as *mut wasmtime::Config) };
    match wasmtime::Engine::new(&config) {
        Ok(engine) => {
            unsafe { *engine_out = Box::into_raw(Box::new(engine)) as *mut wasm_engine_t };
            std::ptr::null_mut()
        }
        Err(error) => Box::into_raw(Box::new(wasmtime_error_t::from(error))),
    }
}
