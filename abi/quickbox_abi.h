/*
 * The guest/host contract of Quickbox: the ONE header included by both the guest (C, compiled to
 * wasm32-wasi) and the host (C++). Every export, import, status code, error kind, flag and CBOR tag
 * that crosses the boundary is defined here and nowhere else.
 *
 * Shape of the contract
 * ---------------------
 * - Coarse operations: the host writes one request into the guest's input buffer, calls one export,
 *   and reads one reply (status + one CBOR buffer) from the exchange block. No wasm frame is live
 *   between operations, which is what makes a whole-VM snapshot possible at any point between them.
 * - All integers in shared structs are little-endian and naturally aligned; both sides compile the
 *   same struct definitions, and each side static_asserts the sizes below.
 * - Values cross as CBOR (RFC 8949); see "CBOR mapping" below.
 */
#ifndef QUICKBOX_ABI_H
#define QUICKBOX_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change to this header. Stored in the exchange block so the host can
 * refuse a guest module built against another contract. */
#define QB_ABI_VERSION 10u

/* ------------------------------------------------------------------------------------------------
 * Imports: everything the guest module may import. The host provides exactly these and nothing
 * else; tests/abi_imports_test.cc fails on any other import in the compiled module.
 * --------------------------------------------------------------------------------------------- */
#define QB_IMPORT_MODULE "quickbox"
/* () -> i32: non-zero when the running operation must stop (CPU budget spent). Called from
 * QuickJS's interrupt handler, i.e. every few thousand bytecode instructions. */
#define QB_IMPORT_INTERRUPT_CHECK "interrupt_check"

/* (u32 capability_id, u32 args_ptr, u32 args_len, u32 reply_ptr) -> (). A JS call of a
 * capability: args is a CBOR array. The host writes a qb_host_reply at reply_ptr: for a sync
 * capability the value (or error) is ready to take; for an async one the call is queued under
 * a call id, or refused at once (budget, size) with an error to take. */
#define QB_IMPORT_HOST_CALL "host_call"
/* ES modules go through host_call too, under this reserved capability id (the host never gives it
 * to a capability). args is a CBOR array, the first item says what is asked:
 *   ["normalize", base, specifier]  the name of the module `specifier` means when imported by the
 *                                   module named `base`
 *   ["load", name]                  the source text of the module `name`
 * The reply is QB_HOST_VALUE with a text string, or QB_HOST_ERROR with the Error the import fails
 * with. It is always answered at once (never QB_HOST_QUEUED). */
#define QB_MODULE_LOADER_ID 0xFFFFFFFFu
/* A program that stops waiting for one of its queued calls (a fetch() whose AbortSignal aborted)
 * says so through host_call under this reserved id, with args the CBOR array [call_id]. The host
 * cancels the call (a handler still running sees its Completion settled, so a transfer stops; the
 * audit entry ends "cancelled") and never answers it; the guest has already dropped it. The reply
 * is QB_HOST_VALUE undefined, also for an id the host no longer holds. */
#define QB_CANCEL_CALL_ID 0xFFFFFFFEu
#define QB_MODULE_NORMALIZE "normalize"
#define QB_MODULE_LOAD "load"
/* Longest import specifier and module name, bytes of UTF-8 (the guest refuses longer ones). */
#define QB_MODULE_NAME_MAX_BYTES 4096u

/* (u32 ptr) -> (): copies the bytes of the last qb_host_reply (value_len of them) to ptr. */
#define QB_IMPORT_HOST_TAKE "host_take"
/* (u32 level, u32 text_ptr, u32 text_len) -> (): one console line (QB_CONSOLE_* level, UTF-8 text)
 * as the program prints it. Used instead of the console buffer when qb_config.flags has
 * QB_CONFIG_LIVE_CONSOLE (the host has a listener); the host applies the console limit. */
#define QB_IMPORT_CONSOLE_LINE "console_line"
/* () -> u32: bytes of the host's native stack still available to wasm code (wasmtime's
 * max_wasm_stack less what the running operation uses). Wasm frames use it besides the C shadow
 * stack in linear memory, in a ratio that differs per function, so QuickJS's stack check asks
 * this too and throws its catchable RangeError before wasmtime would trap. */
#define QB_IMPORT_NATIVE_STACK_LEFT "native_stack_left"

/* The wasi_snapshot_preview1 functions that wasi-libc pulls in. The host implements them all
 * itself (src/wasi.cc), deny-by-default: no files, no environment, no arguments, no sockets. */
#define QB_WASI_MODULE "wasi_snapshot_preview1"
#define QB_WASI_ALLOWED_IMPORTS                                                                   \
  X(clock_time_get) X(fd_close) X(fd_fdstat_get) X(fd_seek) X(fd_write) X(proc_exit) X(random_get)

/* ------------------------------------------------------------------------------------------------
 * Exports
 * --------------------------------------------------------------------------------------------- */
/* () -> i32 status. Runs once, at build time, before the base image is captured: creates the
 * runtime, the context and the prelude. Never called on a sandbox. */
#define QB_EXPORT_BOOTSTRAP "qb_bootstrap"
/* () -> i32: address of the qb_exchange block in linear memory. */
#define QB_EXPORT_EXCHANGE "qb_exchange"
/* (u32 len) -> i32 status: make the input buffer at least len bytes (may move it; re-read
 * qb_exchange.input_ptr afterwards). */
#define QB_EXPORT_RESERVE "qb_reserve"
/* () -> i32 status. Input: one qb_config. Applies per-sandbox settings (limits, seed, clock). */
#define QB_EXPORT_CONFIGURE "qb_configure"
/* (u32 name_len, u32 source_len, u32 flags) -> i32 status. Input: file name bytes then source
 * bytes (UTF-8). Output: CBOR value (QB_STATUS_DONE) or CBOR error (QB_STATUS_ERROR). */
#define QB_EXPORT_EVAL "qb_eval"
/* (u32 name_len, u32 args_len, u32 flags) -> i32 status. Input: the global function's name, NUL,
 * then a CBOR array of arguments. Output as for qb_eval. */
#define QB_EXPORT_CALL "qb_call"
/* (u32 name_len) -> i32 status. Input: a global's name, NUL. Output: its value as CBOR. */
#define QB_EXPORT_GET_GLOBAL "qb_get_global"
/* (u32 name_len, u32 value_len) -> i32 status. Input: name, NUL, then a CBOR value. */
#define QB_EXPORT_SET_GLOBAL "qb_set_global"
/* (u32 value_len, u32 flags) -> i32 status. Input: a CBOR value. Output: CBOR text, the value
 * as console.log (QB_EVAL_DISPLAY_PRINT) or util.inspect (QB_EVAL_DISPLAY_INSPECT) shows it: the
 * guest's formatter is the only one, so the host shows values to people through it. */
#define QB_EXPORT_FORMAT "qb_format"
/* () -> i32 status. Runs queued promise jobs until none are left. Output: CBOR null or error. */
#define QB_EXPORT_RUN_JOBS "qb_run_jobs"
/* (u32 flags) -> i32 status. Output: CBOR map of memory figures (see qb_memory_usage keys below,
 * then every other counter of QuickJS's JSMemoryUsage under its field name). With
 * QB_MEMORY_COLLECT, QuickJS's cycle collector runs first. */
#define QB_EXPORT_MEMORY_USAGE "qb_memory_usage"
/* (u32 name_len, u32 capability_id, u32 flags) -> i32 status. Input: the JS name, NUL. Defines
 * globalThis[name] (a dotted name such as "tools.search" creates namespace objects) as a
 * function that calls the host with this id, or, with QB_CAPABILITY_FETCH, installs fetch()
 * around it. flags: QB_CAPABILITY_*. */
#define QB_EXPORT_DEFINE_CAPABILITY "qb_define_capability"
/* (u32 call_id, u32 ok, u32 value_len) -> i32 status. Input: CBOR value (ok) or CBOR Error
 * (QB_CBOR_TAG_ERROR). Settles the promise of an async call; runs no JS. */
#define QB_EXPORT_SETTLE "qb_settle"
/* () -> i32 status. Continues the suspended evaluation: runs jobs and the timers that are due,
 * then replies like qb_eval (DONE, ERROR, or PENDING again). */
#define QB_EXPORT_RESUME "qb_resume"
/* () -> i32 status. Abandons the suspended evaluation: its promise and every unsettled call are
 * dropped without running any JS (their promises stay pending forever). */
#define QB_EXPORT_ABANDON "qb_abandon"
/* (u32 enter) -> i32 status. Nesting: a host function (called through host_call) that runs
 * another operation in the same instance, such as an eval, brackets it with qb_nest(1) before and
 * qb_nest(0) after. qb_nest(1) sets the running operation aside (the evaluation it drives, its
 * reply and console buffers, its pending calls and unhandled rejections) so that the nested one
 * starts clean, and qb_nest(0) brings it back intact once the host has read the nested reply. A
 * nested operation keeps the outer one's stack limit, leaves timers to the outermost evaluation
 * (it neither runs nor drops them), and cannot wait: where it would reply PENDING it fails with
 * QB_ERROR_DEADLOCK. At most QB_MAX_NESTING levels; beyond, or without memory for fresh buffers,
 * qb_nest(1) returns QB_STATUS_ERROR and changes nothing. */
#define QB_EXPORT_NEST "qb_nest"
#define QB_MAX_NESTING 8u
/* (u32 op, u32 handle, u32 request_len) -> i32 status. An operation on a pinned value (see
 * "Handles" below); input: the op's CBOR request. QB_HANDLE_CALL, _CALL_METHOD, _NEW and _AWAIT
 * are evaluations (they reply like qb_eval and may suspend: PENDING, then qb_resume); the others
 * run no more than the property access they make. An unknown handle is QB_ERROR_INVALID_INPUT. */
#define QB_EXPORT_HANDLE "qb_handle"

/* ------------------------------------------------------------------------------------------------
 * The exchange block: one per instance, at the address qb_exchange() returns.
 * --------------------------------------------------------------------------------------------- */
typedef struct qb_exchange {
  uint32_t abi_version;     /* QB_ABI_VERSION of the guest */
  uint32_t input_ptr;       /* where the host writes a request */
  uint32_t input_cap;       /* its capacity in bytes */
  uint32_t output_ptr;      /* reply: CBOR value or error */
  uint32_t output_len;
  uint32_t console_ptr;     /* console records captured during the last operation */
  uint32_t console_len;
  uint32_t console_dropped; /* bytes of console output dropped by the cap in the last operation */
  uint32_t timer_count;     /* timers pending (setTimeout/setInterval) after the last operation */
  uint32_t reserved;
  uint64_t next_timer_ns;   /* when the earliest of them is due, on the guest's monotonic clock
                             * (WASI clock 1, which the host keeps running across snapshots);
                             * UINT64_MAX when there is none */
} qb_exchange;

/* Per-sandbox configuration, written to the input buffer before qb_configure(). */
typedef struct qb_config {
  uint64_t random_seed;     /* Math.random seed (host picks a fresh one per sandbox by default) */
  uint32_t memory_limit;    /* QuickJS allocation limit in bytes (the soft limit) */
  uint32_t stack_limit;     /* JS stack limit in bytes; below the wasm shadow stack */
  uint32_t console_limit;   /* console bytes kept per operation */
  uint32_t result_limit;    /* maximum size of an encoded result, bytes */
  uint32_t max_depth;       /* maximum nesting depth of values crossing the boundary */
  uint32_t bigint_limit;    /* largest BigInt magnitude crossing the boundary, bytes (see below) */
  uint32_t max_modules;     /* modules the loader may load over the sandbox's life */
  uint32_t module_source_limit; /* bytes of module source the loader may load over its life */
  uint32_t max_timers;      /* timers that may be pending at once; setTimeout/setInterval throw a
                             * RangeError beyond it (0: none may be created) */
  uint32_t flags;           /* QB_CONFIG_* */
} qb_config;
/* qb_config flags */
#define QB_CONFIG_LIVE_CONSOLE 1u /* console lines go to the host as they are printed
                                   * (QB_IMPORT_CONSOLE_LINE) instead of the console buffer */

/* ------------------------------------------------------------------------------------------------
 * Status codes returned by every export.
 * --------------------------------------------------------------------------------------------- */
#define QB_STATUS_DONE 0  /* output holds a CBOR value */
#define QB_STATUS_ERROR 1 /* output holds a CBOR error: [kind, name, message, stack] */
#define QB_STATUS_PENDING 2 /* the awaited promise waits on host calls or timers (qb_exchange's
                             * timer_count and next_timer_ns say when the next timer is due, and
                             * qb_resume runs it once that time has come); output empty */
#define QB_STATUS_DISPLAY 3 /* done, and display was asked for (QB_EVAL_DISPLAY_*): output holds a
                             * CBOR array [value, text], the value as data (undefined when it cannot
                             * leave the sandbox: a function, a Map, a cycle...) and its text, each
                             * within the result limit */

/* Error kinds: a closed set, mirrored by quickbox::ErrorKind (include/quickbox/result.hh). */
#define QB_ERROR_JS_EXCEPTION 1  /* an uncaught JS exception: name, message, stack */
#define QB_ERROR_TIMEOUT 2       /* the CPU budget or the hard deadline was hit */
#define QB_ERROR_OUT_OF_MEMORY 3 /* the memory limit was hit */
#define QB_ERROR_STACK_OVERFLOW 4 /* the JS stack limit (or the wasm stack) was hit */
#define QB_ERROR_OUTPUT_LIMIT 5  /* the result is larger than the result limit (empty message),
                                  * or holds a BigInt over bigint_limit (the message says so) */
#define QB_ERROR_INVALID_INPUT 6 /* the request itself was malformed (source, arguments, name) */
#define QB_ERROR_INTERNAL 7      /* a bug or a trap in the guest; the instance is discarded */
#define QB_ERROR_DEADLOCK 8      /* the awaited promise can never settle: nothing left to run */

/* qb_eval flags */
#define QB_EVAL_KIND_MASK 3u
#define QB_EVAL_SCRIPT 0u       /* classic script; the completion value is the result */
#define QB_EVAL_MODULE 1u       /* ES module; the result is undefined once it has run, or its
                                 * namespace object with QB_EVAL_MODULE_NAMESPACE */
#define QB_EVAL_ASYNC 2u        /* script with top-level await; the completion value is awaited */
#define QB_EVAL_AWAIT_RESULT 4u /* if the result is a promise, run jobs and return its outcome */
#define QB_EVAL_STRICT 8u       /* force strict mode */
#define QB_EVAL_DISPLAY_PRINT 16u   /* the result comes with its text, as console.log (node -p)
                                     * prints it: QB_STATUS_DISPLAY; a thrown non-Error is described
                                     * as util.inspect shows it */
#define QB_EVAL_DISPLAY_INSPECT 32u /* the same, the text as util.inspect (a REPL) prints it */
#define QB_EVAL_PARSE_ONLY 64u      /* compile a script without running it: DONE with
                                     * undefined, or the SyntaxError */
#define QB_EVAL_MODULE_NAMESPACE 128u /* with QB_EVAL_MODULE: the result is the module's namespace
                                       * object once it has run */
#define QB_EVAL_RESULT_HANDLE 256u  /* the result is pinned and replied as a handle (a
                                     * QB_CBOR_TAG_HANDLE item) instead of being converted */

/* qb_define_capability flags */
#define QB_CAPABILITY_ASYNC 1u /* the JS function returns a Promise (else it returns the value) */
#define QB_CAPABILITY_FETCH 2u /* the built-in network capability: the function is not put on
                                * globalThis; the guest's fetch layer (guest/fetch.js) defines
                                * fetch, Request, Response and Headers around it */

/* What the host answers to a host_call, written into guest memory at reply_ptr. */
typedef struct qb_host_reply {
  uint32_t status;    /* QB_HOST_* */
  uint32_t value_len; /* bytes to take with host_take (value or CBOR Error) */
  uint32_t call_id;   /* QB_HOST_QUEUED: the id later passed to qb_settle */
  uint32_t reserved;
} qb_host_reply;
#define QB_HOST_VALUE 0  /* sync result ready: CBOR value */
#define QB_HOST_ERROR 1  /* refused or failed: CBOR Error (throw / reject with it) */
#define QB_HOST_QUEUED 2 /* async call accepted under call_id */

/* Console records in the console buffer, back to back:
 *   u8 level, u32 length (little-endian, unaligned), then `length` bytes of UTF-8 text. */
#define QB_CONSOLE_LOG 0
#define QB_CONSOLE_INFO 1
#define QB_CONSOLE_WARN 2
#define QB_CONSOLE_ERROR 3
#define QB_CONSOLE_DEBUG 4
#define QB_CONSOLE_RECORD_HEADER 5

/* ------------------------------------------------------------------------------------------------
 * CBOR mapping (RFC 8949)
 *   undefined            simple value 23            null      simple value 22
 *   boolean              simple values 20/21
 *   number               integer (major 0/1) when it is an integer with |n| <= 2^53 and not -0,
 *                        otherwise float64. Decoding: any integer or float becomes a number,
 *                        except integers beyond 2^53, which are refused (send a BigInt).
 *   BigInt               tag 2 / tag 3 (RFC 8949 bignum) over a big-endian magnitude. Both sides
 *                        convert it in linear time (never through decimal text). A magnitude over
 *                        qb_config.bigint_limit bytes is refused in either direction: a result ends
 *                        in QB_ERROR_OUTPUT_LIMIT, host-call arguments throw a RangeError in JS, and
 *                        a value from the host rejects (settle), throws (host reply) or is invalid
 *                        input (call arguments, globals).
 *   string               text string; must be valid UTF-8. Strings holding lone surrogates are
 *                        refused with a TypeError naming the position.
 *   Uint8Array/ArrayBuffer  byte string (decodes to Uint8Array)
 *   Array                array; holes become undefined
 *   plain object         map with text keys in property order (own, enumerable, string keys)
 *   Error                tag QB_CBOR_TAG_ERROR over [name, message, stack] (text strings),
 *                        each bounded as "Error text" below says
 *   Date                 leaving: its ISO string (as JSON.stringify does); entering: tag 1 (RFC 8949
 *                        epoch date/time) over a number of seconds becomes a Date, to the millisecond
 * Functions, symbols, Map, Set, WeakMap, promises and typed arrays other than Uint8Array are
 * refused with a TypeError naming the type and the path of the value.
 * --------------------------------------------------------------------------------------------- */
#define QB_CBOR_TAG_ERROR 1902247937u /* 0x71620001: "qb" + 1, from the first-come range */

/* ------------------------------------------------------------------------------------------------
 * Handles: JS values the guest pins for the host, which refers to them by id. Ids are handed out
 * in increasing order and never reused within an instance, so a released or unknown id is
 * refused and never reaches another value. A pinned value lives until QB_HANDLE_RELEASE (or until
 * the instance goes away); a snapshot carries the table. Id 0 is the global object (never pinned,
 * never released).
 *   QB_CBOR_TAG_HANDLE over an unsigned integer (the id): in a request, the pinned value itself;
 *   in a reply, a value pinned for the host (QB_EVAL_RESULT_HANDLE, QB_HANDLE_GET/_DUP, and the
 *   values QB_HANDLE_TO_VALUE could not convert when asked to pin them).
 * --------------------------------------------------------------------------------------------- */
#define QB_CBOR_TAG_HANDLE 1902247938u /* 0x71620002 */
#define QB_HANDLE_GLOBAL 0u
/* qb_handle ops and their CBOR requests */
#define QB_HANDLE_GET 1u         /* key (text or integer) -> handle of value[key] */
#define QB_HANDLE_SET 2u         /* [key, value] -> undefined */
#define QB_HANDLE_HAS 3u         /* key -> boolean (`key in value`; false for primitives) */
#define QB_HANDLE_CALL 4u        /* [args...] -> handle of value(...args), this undefined */
#define QB_HANDLE_CALL_METHOD 5u /* [name, [args...]] -> handle of value[name](...args) */
#define QB_HANDLE_NEW 6u         /* [args...] -> handle of new value(...args) */
#define QB_HANDLE_AWAIT 7u       /* null -> handle of the promise's result (a non-promise: itself) */
#define QB_HANDLE_TO_VALUE 8u    /* boolean pin_opaque -> the value as data; with pin_opaque,
                                  * functions, symbols, promises, Maps... become handles instead of
                                  * a TypeError (cycles still fail) */
#define QB_HANDLE_DESCRIBE 9u    /* null -> [type, is_promise]: type is typeof's answer, except
                                  * "null" and "array" */
#define QB_HANDLE_DUP 10u        /* null -> a new handle to the same value */
#define QB_HANDLE_RELEASE 11u    /* null -> undefined; unpins the value */

/* ------------------------------------------------------------------------------------------------
 * Error text: an error's name, message and stack cross the boundary (error replies, Error values,
 * host errors thrown into JS) as at most this many characters (UTF-16 code units, as JS's
 * `length` counts them). Longer text keeps as much of its start as fits together with
 * QB_TRUNCATION_MARKER (the number of characters dropped), so a cut text is never cut again.
 * Text is never cut at a NUL: it crosses with its length.
 * --------------------------------------------------------------------------------------------- */
#define QB_ERROR_NAME_MAX_CHARS 1024u
#define QB_ERROR_MESSAGE_MAX_CHARS 65536u
#define QB_ERROR_STACK_MAX_CHARS 65536u
/* printf format of the marker; its argument is an unsigned long long. "\xe2\x80\xa6" is U+2026. */
#define QB_TRUNCATION_MARKER "\xe2\x80\xa6 [truncated %llu more characters]"

/* Keys of the qb_memory_usage map. */
#define QB_MEM_MALLOC_SIZE "malloc_size"   /* bytes QuickJS has allocated */
#define QB_MEM_MALLOC_LIMIT "malloc_limit" /* its soft limit */
#define QB_MEM_MEMORY_USED "memory_used_size"
#define QB_MEM_OBJ_COUNT "obj_count"
#define QB_MEM_LINEAR_MEMORY "linear_memory" /* bytes of wasm linear memory */
/* qb_memory_usage flags */
#define QB_MEMORY_COLLECT 1u

#ifdef __cplusplus
} /* extern "C" */
#endif

#ifdef __cplusplus
static_assert(sizeof(qb_exchange) == 48, "qb_exchange layout is part of the ABI");
static_assert(sizeof(qb_config) == 48, "qb_config layout is part of the ABI");
static_assert(sizeof(qb_host_reply) == 16, "qb_host_reply layout is part of the ABI");
#else
_Static_assert(sizeof(qb_exchange) == 48, "qb_exchange layout is part of the ABI");
_Static_assert(sizeof(qb_config) == 48, "qb_config layout is part of the ABI");
_Static_assert(sizeof(qb_host_reply) == 16, "qb_host_reply layout is part of the ABI");
#endif

#endif /* QUICKBOX_ABI_H */
