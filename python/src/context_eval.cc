// quickbox.Context.eval without a Python frame for `ctx.eval(code)`.
//
// A Python method costs its frame and its bytecode at every call. For `ctx.eval("1+2")` that
// was about 1,400 of 9,000 machine instructions (callgrind), most of what the package adds over
// the library. So eval is a method of the native base class `_ContextBase`: with the code as its
// only argument it does what the Python method did, calling `_Sandbox.eval_plain`. The state it
// reads lives here, as members the package reads and writes as plain attributes (`_sandbox`,
// `_transform`, `_fatal`, `_left_nothing`, `_close_requested`): read through the generic
// attribute lookup, as a first version of this did, they cost as much as the frame.
// Any other call (options given, or state the plain path does not handle) goes to the package's
// `Context._eval_general`, with its arguments as they came.
#include "context_eval.hh"

#include <structmember.h>  // after Python.h, which context_eval.hh includes

#include <cstddef>

namespace quickbox_python {

namespace {

/// A context's state that its eval reads, kept as members of the object.
struct ContextBase {
  PyObject_HEAD
  PyObject *sandbox;    // _sandbox: its quickbox._quickbox._Sandbox
  PyObject *transform;  // _transform: the runtime's TransformSetting
  PyObject *fatal;      // _fatal: a KeyboardInterrupt or SystemExit to raise, or None (null reads None)
  char left_nothing;    // _left_nothing: the last operation left nothing to forget
  char close_requested; // _close_requested: close once the running evaluation returns
};

ContextBase *as_context(PyObject *self) { return reinterpret_cast<ContextBase *>(self); }

PyObject *not_run_value = nullptr;
PyObject *not_plain_value = nullptr;

// Interned names, made once with the type.
struct Names {
  PyObject *flags, *eval_plain, *plain_value, *eval, *owner, *close_now, *when_idle, *eval_general;
} names;

bool intern(PyObject *&slot, const char *text) {
  slot = PyUnicode_InternFromString(text);
  return slot != nullptr;
}

bool make_names() {
  return intern(names.flags, "flags") && intern(names.eval_plain, "eval_plain") &&
         intern(names.plain_value, "_plain_value") && intern(names.eval, "eval") &&
         intern(names.owner, "_owner") && intern(names.close_now, "_close_now") &&
         intern(names.when_idle, "when_idle") && intern(names.eval_general, "_eval_general");
}

/// 1 when `self._transform.flags is None` (no transform asked for), 0 when not, -1 on error.
int without_transform(ContextBase *self) {
  if (!self->transform) return 0;  // not set up: the general path says what is wrong
  PyObject *flags = PyObject_GetAttr(self->transform, names.flags);
  if (!flags) return -1;
  int none = flags == Py_None;
  Py_DECREF(flags);
  return none;
}

/// The exception now set (a `finally` that raised) goes on with the one fetched before it
/// (type, value, traceback) as its context, as Python chains them.
void chain_to(PyObject *type, PyObject *value, PyObject *traceback) {
  PyErr_NormalizeException(&type, &value, &traceback);
  if (traceback) PyException_SetTraceback(value, traceback);
  PyObject *raised_type, *raised, *raised_traceback;
  PyErr_Fetch(&raised_type, &raised, &raised_traceback);
  PyErr_NormalizeException(&raised_type, &raised, &raised_traceback);
  PyException_SetContext(raised, value);  // steals value
  Py_DECREF(type);
  Py_XDECREF(traceback);
  PyErr_Restore(raised_type, raised, raised_traceback);
}

/// `if self._close_requested and self._owner is None: self._close_now(when_idle=True)`, the
/// plain path's `finally`: it runs whether the evaluation returned `result` or raised (null, with
/// the exception set), which then goes on as it came, unless the close itself raises.
PyObject *close_if_requested(PyObject *self, PyObject *result) {
  if (!as_context(self)->close_requested) return result;
  PyObject *type = nullptr, *value = nullptr, *traceback = nullptr;
  if (!result) PyErr_Fetch(&type, &value, &traceback);
  PyObject *owner = PyObject_GetAttr(self, names.owner);
  int close = owner ? owner == Py_None : -1;
  Py_XDECREF(owner);
  bool failed = close < 0;
  if (close > 0) {
    PyObject *args[] = {self, Py_True};
    PyObject *kwnames = PyTuple_Pack(1, names.when_idle);
    PyObject *closed = kwnames ? PyObject_VectorcallMethod(names.close_now, args, 1, kwnames) : nullptr;
    Py_XDECREF(kwnames);
    failed = closed == nullptr;
    Py_XDECREF(closed);
  }
  if (!failed) {
    if (!result) PyErr_Restore(type, value, traceback);
    return result;
  }
  Py_XDECREF(result);
  if (type) chain_to(type, value, traceback);
  return nullptr;
}

/// The plain path: null with an exception set, not_run_value (a new reference) when
/// eval_plain did not run the program, else what the call returns.
PyObject *eval_plain(PyObject *self, PyObject *code) {
  ContextBase *context = as_context(self);
  // Held for the call: a host function could swap the member meanwhile.
  PyObject *sandbox = Py_NewRef(context->sandbox);
  PyObject *args[] = {sandbox, code, context->left_nothing ? Py_True : Py_False};
  PyObject *value = PyObject_VectorcallMethod(names.eval_plain, args, 3, nullptr);
  Py_DECREF(sandbox);
  if (!value || value == not_run_value) return value;
  // What the package finishes itself (Context._plain_value): an outcome handed over whole, or a
  // fatal exception a host function raised.
  if (value != not_plain_value && (!context->fatal || context->fatal == Py_None)) return value;
  PyObject *finish_args[] = {self, value, names.eval};
  PyObject *finished = PyObject_VectorcallMethod(names.plain_value, finish_args, 3, nullptr);
  Py_DECREF(value);
  return finished;
}

PyObject *general(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
  Py_ssize_t total = nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
  PyObject *small[8];
  PyObject **with_self = total + 1 <= 8 ? small : PyMem_New(PyObject *, total + 1);
  if (!with_self) return PyErr_NoMemory();
  with_self[0] = self;
  for (Py_ssize_t i = 0; i < total; ++i) with_self[i + 1] = args[i];
  PyObject *result = PyObject_VectorcallMethod(names.eval_general, with_self, nargs + 1, kwnames);
  if (with_self != small) PyMem_Free(with_self);
  return result;
}

PyObject *context_eval(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
  if (nargs == 1 && !kwnames && as_context(self)->sandbox) {
    int plain = without_transform(as_context(self));
    if (plain < 0) return nullptr;
    if (plain) {
      PyObject *value = close_if_requested(self, eval_plain(self, args[0]));
      if (value != not_run_value) return value;
      Py_DECREF(value);  // another thread holds the context, or there is state to forget first
    }
  }
  return general(self, args, nargs, kwnames);
}

// The members hold references the garbage collector must see: a fatal exception's traceback
// holds frames that hold the context.
int traverse(PyObject *self, visitproc visit, void *arg) {
  Py_VISIT(Py_TYPE(self));
  Py_VISIT(as_context(self)->sandbox);
  Py_VISIT(as_context(self)->transform);
  Py_VISIT(as_context(self)->fatal);
  return 0;
}

int clear(PyObject *self) {
  Py_CLEAR(as_context(self)->sandbox);
  Py_CLEAR(as_context(self)->transform);
  Py_CLEAR(as_context(self)->fatal);
  return 0;
}

void dealloc(PyObject *self) {
  PyTypeObject *type = Py_TYPE(self);
  PyObject_GC_UnTrack(self);
  clear(self);
  type->tp_free(self);
  Py_DECREF(type);
}

// The text before "--" is the signature inspect.signature() and help() show.
const char eval_doc[] =
    "eval($self, code, module=False, strict=False, filename='<eval>', timeout=None, transform_flags=None)\n"
    "--\n"
    "\n"
    "Evaluates ``code`` and returns its value (a final promise is awaited; top-level\n"
    "``await`` works; a top-level ``undefined`` is ``None``; with ``module=True``, the module's\n"
    "exports as a dict). Raises on errors. Use ``eval_async`` when the program calls async Python\n"
    "functions. On the main thread, Ctrl-C stops the program at once (``KeyboardInterrupt``).\n"
    "``transform_flags`` (``SourceTransform``) transforms the code first, e.g. strips\n"
    "TypeScript; unset, the runtime's ``transform_flags`` apply.";

PyMethodDef methods[] = {
    {"eval", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(context_eval)),
     METH_FASTCALL | METH_KEYWORDS, eval_doc},
    {nullptr, nullptr, 0, nullptr},
};

PyMemberDef members[] = {
    {"_sandbox", T_OBJECT_EX, offsetof(ContextBase, sandbox), 0, nullptr},
    {"_transform", T_OBJECT_EX, offsetof(ContextBase, transform), 0, nullptr},
    {"_fatal", T_OBJECT, offsetof(ContextBase, fatal), 0, nullptr},
    {"_left_nothing", T_BOOL, offsetof(ContextBase, left_nothing), 0, nullptr},
    {"_close_requested", T_BOOL, offsetof(ContextBase, close_requested), 0, nullptr},
    {nullptr, 0, 0, 0, nullptr},
};

PyType_Slot slots[] = {
    {Py_tp_methods, methods},
    {Py_tp_members, members},
    {Py_tp_traverse, reinterpret_cast<void *>(traverse)},
    {Py_tp_clear, reinterpret_cast<void *>(clear)},
    {Py_tp_dealloc, reinterpret_cast<void *>(dealloc)},
    {Py_tp_doc, const_cast<char *>("The native part of quickbox.Context: its eval, and the state eval reads.")},
    {0, nullptr},
};

PyType_Spec spec = {"quickbox._quickbox._ContextBase", sizeof(ContextBase), 0,
                    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, slots};

}  // namespace

PyObject *make_context_base_type(PyObject *not_run, PyObject *not_plain) {
  if (!make_names()) return nullptr;
  not_run_value = not_run;
  not_plain_value = not_plain;
  return PyType_FromSpec(&spec);
}

}  // namespace quickbox_python
