// Ctrl-C during an operation that runs JavaScript on Python's main thread.
//
// While the main thread runs JavaScript it is inside the engine, where Python cannot run its
// SIGINT handler: KeyboardInterrupt would only come once the program ends (its CPU limit, maybe
// seconds away). Python's C-level signal handler also writes the signal number to the wakeup fd,
// though; that fd is a pipe read by one watcher thread, which interrupts the sandbox the main
// thread is running, if any. The engine then stops the program, and Python raises
// KeyboardInterrupt as soon as the main thread is back.
//
// The wakeup fd is only taken when nothing else (an event loop) uses it, and it is kept between
// operations: lending it costs an fstat and an fcntl (Python checks the fd is a non-blocking
// file), about 0.8 µs, which was a fifth of a whole `ctx.eval("1+2")`. An event loop that later
// sets its own fd simply replaces it; since nothing says when it gives the fd up again, an
// operation checks at most every kRecheckEvery that the fd is still the watcher's, and takes it
// back when it is free. It is native because every synchronous evaluation pays for it.
#include <Python.h>  // first, as Python asks

#include "sigint.hh"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <thread>

namespace quickbox_python {

namespace {

unsigned long main_thread = 0;

// signal.set_wakeup_fd, and PySignal_SetWakeupFd where the interpreter exports it (it is declared
// but not exported before 3.13). Set once at import. Both leave Python's warning on a full fd
// on: the watcher drains its pipe, so the warning would only ever report a watcher gone wrong
// (and passing warn_on_full_buffer=False costs a keyword argument per call).
PyObject *set_wakeup_fd = nullptr;
int (*native_set_wakeup_fd)(int) = nullptr;

// The write end of the watcher's pipe, -1 until the first watch on the main thread makes it.
// This and the three below are read and written by the main thread, with the GIL held.
int write_fd = -1;

// Whether Python's wakeup fd was write_fd when last checked, and when that was (by the coarse
// monotonic clock: a few milliseconds' precision is plenty here, and it is read without the
// time-stamp counter).
bool lent = false;
int64_t lent_checked_ms = 0;
constexpr int64_t kRecheckEveryMs = 100;

int64_t coarse_now_ms() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return int64_t{now.tv_sec} * 1000 + now.tv_nsec / 1'000'000;
}

// In a forked child: the parent's write end, which Python's wakeup fd still names until the
// after-fork hook (forget_inherited_wakeup_fd) or the child's first watch replaces it.
int inherited_fd = -1;

// The sandbox the main thread is running JavaScript in, or null. The watcher raises `interrupting`
// before it reads `target` and lowers it once done with the sandbox; a watch ends by replacing
// `target` and then waiting while `interrupting` is up. Sequentially consistent, so a watcher
// that read the old target is seen interrupting: the sandbox cannot go away under the watcher.
// (Atomics rather than a mutex: every evaluation on the main thread starts and ends a watch.)
std::atomic<quickbox::Sandbox *> target{nullptr};
std::atomic<bool> interrupting{false};

void watch(int read_fd) {
  unsigned char bytes[64];
  for (;;) {
    ssize_t n = read(read_fd, bytes, sizeof bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    if (!std::memchr(bytes, SIGINT, static_cast<size_t>(n))) continue;  // another signal's number
    interrupting.store(true);
    if (quickbox::Sandbox *sandbox = target.load()) sandbox->interrupt();
    interrupting.store(false);
  }
}

// The watcher thread did not come along into a forked child, and the pipe is shared with the
// parent, whose watcher would read the child's signals: the child makes its own when it next
// needs one. (The old descriptors stay open: the wakeup fd may still name the old write end.)
void after_fork_in_child() {
  interrupting.store(false);  // the parent's watcher may have been interrupting at the fork
  if (write_fd >= 0) inherited_fd = write_fd;
  write_fd = -1;
  lent = false;
}

bool start_watcher() {
  static const bool registered = pthread_atfork(nullptr, nullptr, after_fork_in_child) == 0;
  if (!registered) return false;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  // A signal handler must never block on a full pipe.
  if (fcntl(fds[1], F_SETFL, O_NONBLOCK) != 0) {
    close(fds[0]);
    close(fds[1]);
    return false;
  }
  // The watcher blocks every signal, so that none is delivered to it rather than to a thread
  // that can run Python's handlers.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  bool started = true;
  try {
    std::thread(watch, fds[0]).detach();
  } catch (const std::system_error &) {
    started = false;
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (!started) {
    close(fds[0]);
    close(fds[1]);
    return false;
  }
  write_fd = fds[1];
  return true;
}

/// Makes `fd` the wakeup fd; returns the previous one, or -2 when Python refuses (not the main
/// interpreter).
int swap_wakeup_fd(int fd) {
  if (native_set_wakeup_fd) return native_set_wakeup_fd(fd);
  PyObject *number = PyLong_FromLong(fd);
  if (!number) {
    PyErr_Clear();
    return -2;
  }
  PyObject *args[] = {nullptr, number};
  PyObject *previous = PyObject_Vectorcall(set_wakeup_fd, args + 1, 1 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
  Py_DECREF(number);
  if (!previous) {
    PyErr_Clear();
    return -2;
  }
  long out = PyLong_AsLong(previous);
  Py_DECREF(previous);
  if (out == -1 && PyErr_Occurred()) {
    PyErr_Clear();
    return -2;
  }
  return static_cast<int>(out);
}

// Makes write_fd Python's wakeup fd unless someone else's is set; true when it is the watcher's.
bool lend_wakeup_fd() {
  int64_t now = coarse_now_ms();
  if (lent && now - lent_checked_ms < kRecheckEveryMs) return true;
  int previous_fd = swap_wakeup_fd(write_fd);
  lent = previous_fd == -1 || previous_fd == write_fd || (previous_fd == inherited_fd && previous_fd >= 0);
  if (!lent && previous_fd != -2) swap_wakeup_fd(previous_fd);  // someone else's (an event loop): leave it
  lent_checked_ms = now;
  return lent;
}

// Run by os.register_at_fork in a child: signals the child gets must not reach the parent's
// watcher through the pipe they share (nor interrupt what the parent runs).
PyObject *forget_inherited_wakeup_fd(PyObject *, PyObject *) {
  if (inherited_fd >= 0) {
    int current = swap_wakeup_fd(-1);
    if (current != inherited_fd && current >= 0) swap_wakeup_fd(current);
  }
  Py_RETURN_NONE;
}

PyMethodDef forget_inherited_wakeup_fd_def = {"_quickbox_forget_inherited_wakeup_fd", forget_inherited_wakeup_fd,
                                              METH_NOARGS, nullptr};

bool register_after_fork_hook() {
  PyObject *os = PyImport_ImportModule("os");
  PyObject *register_at_fork = os ? PyObject_GetAttrString(os, "register_at_fork") : nullptr;
  Py_XDECREF(os);
  if (!register_at_fork) return false;
  PyObject *hook = PyCFunction_New(&forget_inherited_wakeup_fd_def, nullptr);
  PyObject *kwargs = hook ? Py_BuildValue("{s:O}", "after_in_child", hook) : nullptr;
  PyObject *args = kwargs ? PyTuple_New(0) : nullptr;
  PyObject *done = args ? PyObject_Call(register_at_fork, args, kwargs) : nullptr;
  Py_XDECREF(done);
  Py_XDECREF(args);
  Py_XDECREF(kwargs);
  Py_XDECREF(hook);
  Py_DECREF(register_at_fork);
  return done != nullptr;
}

}  // namespace

bool init_sigint_watch() {
  PyObject *threading = PyImport_ImportModule("threading");
  PyObject *main = threading ? PyObject_CallMethod(threading, "main_thread", nullptr) : nullptr;
  PyObject *ident = main ? PyObject_GetAttrString(main, "ident") : nullptr;
  Py_XDECREF(main);
  Py_XDECREF(threading);
  if (!ident) return false;
  main_thread = PyLong_AsUnsignedLong(ident);
  Py_DECREF(ident);
  if (PyErr_Occurred()) return false;
  PyObject *signal = PyImport_ImportModule("_signal");
  if (!signal) return false;
  set_wakeup_fd = PyObject_GetAttrString(signal, "set_wakeup_fd");  // kept for the process's life
  Py_DECREF(signal);
  if (!set_wakeup_fd) return false;
  native_set_wakeup_fd = reinterpret_cast<int (*)(int)>(dlsym(RTLD_DEFAULT, "PySignal_SetWakeupFd"));
  return register_after_fork_hook();
}

SigintWatch::SigintWatch(quickbox::Sandbox &sandbox) {
  if (PyThread_get_thread_ident() != main_thread) return;
  if (write_fd < 0 && !start_watcher()) return;  // no pipe or thread to be had: Ctrl-C waits
  if (!lend_wakeup_fd()) return;
  previous_ = target.exchange(&sandbox);
  armed_ = true;
}

SigintWatch::~SigintWatch() {
  if (!armed_) return;
  target.store(previous_);
  while (interrupting.load()) std::this_thread::yield();  // the sandbox may go once this returns
}

}  // namespace quickbox_python
