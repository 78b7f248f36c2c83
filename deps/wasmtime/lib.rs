//! Re-exports wasmtime's C API so that `crate-type = ["staticlib"]` emits all of its symbols, and
//! adds the one pooling-allocator setting quickbox needs that the C API does not expose.
pub use wasmtime_c_api::*;

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
