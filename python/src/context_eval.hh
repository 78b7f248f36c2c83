// quickbox.Context's eval, native so that the call most programs make runs no Python frame
// (context_eval.cc).
#pragma once

#include <Python.h>

namespace quickbox_python {

/// The new type `_ContextBase`, whose only member is `eval`; quickbox.Context derives from it.
/// `not_run` and `not_plain` are the sentinels `_Sandbox.eval_plain` answers with; the module
/// keeps them alive for as long as the type lives. Null, with an exception set, on failure.
PyObject *make_context_base_type(PyObject *not_run, PyObject *not_plain);

}  // namespace quickbox_python
