// Ctrl-C during an operation that runs JavaScript on Python's main thread.
//
// While the main thread runs JavaScript it is inside the engine, where Python cannot run its
// SIGINT handler: KeyboardInterrupt would only come once the program ends (its CPU limit, maybe
// seconds away). Python's C-level signal handler also writes the signal number to the wakeup fd,
// though; for the length of the operation that fd is a pipe read by one watcher thread, which
// interrupts the sandbox at once. The engine then stops the program, and Python raises
// KeyboardInterrupt as soon as the main thread is back. The wakeup fd is only borrowed when
// nothing else (an event loop) uses it, and given back after.
//
// It is native because every synchronous evaluation pays for it: done from Python (a context
// manager, signal.getsignal, a watcher thread needing the GIL) it cost about 3 µs per eval. Here
// it is two calls of _signal.set_wakeup_fd (whose fstat of the fd is most of what is left), or,
// where Python exports it (3.13 on), of PySignal_SetWakeupFd, which is a pair of stores.
#include <Python.h>  // first, as Python asks

#include "sigint.hh"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
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
// Read and written by the main thread, with the GIL held.
int write_fd = -1;

// The sandbox the main thread is running JavaScript in, or null. The watcher interrupts it with
// the mutex held, and a watch ends by taking the mutex, so the sandbox cannot go away under the
// watcher. A pointer, because a forked child replaces it (the parent's may be locked at the fork).
std::mutex *target_mutex = new std::mutex;
quickbox::Sandbox *target = nullptr;

void watch(int read_fd) {
  unsigned char bytes[64];
  for (;;) {
    ssize_t n = read(read_fd, bytes, sizeof bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    if (!std::memchr(bytes, SIGINT, static_cast<size_t>(n))) continue;  // another signal's number
    std::lock_guard lock(*target_mutex);
    if (target) target->interrupt();
  }
}

// The watcher thread did not come along into a forked child, and the pipe is shared with the
// parent, whose watcher would read the child's signals: the child makes its own when it next
// needs one. (The old descriptors stay open: the wakeup fd may still name the old write end.)
void after_fork_in_child() {
  target_mutex = new std::mutex;  // the parent's may have been locked at the fork; leaked
  write_fd = -1;
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
  return true;
}

SigintWatch::SigintWatch(quickbox::Sandbox &sandbox) {
  if (PyThread_get_thread_ident() != main_thread) return;
  if (write_fd < 0 && !start_watcher()) return;  // no pipe or thread to be had: Ctrl-C waits
  int previous_fd = swap_wakeup_fd(write_fd);
  if (previous_fd == -2) return;
  if (previous_fd != -1 && previous_fd != write_fd) {  // someone else's (an event loop): leave it
    swap_wakeup_fd(previous_fd);
    return;
  }
  std::lock_guard lock(*target_mutex);
  previous_ = target;
  target = &sandbox;
  armed_ = true;
}

SigintWatch::~SigintWatch() {
  if (!armed_) return;
  {
    std::lock_guard lock(*target_mutex);
    target = previous_;
  }
  if (!previous_) swap_wakeup_fd(-1);
}

}  // namespace quickbox_python
