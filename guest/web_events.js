// Event, CustomEvent, EventTarget, AbortController and AbortSignal, after the DOM Standard, in
// the guest. (Kept apart from guest/web.js so that one implementation of AbortController can be
// chosen where other code brings its own.)
//
// Minimal by design: one target, no capturing or bubbling through a tree (composedPath() is the
// target alone), no passive-listener scheduling. An exception a listener throws is reported as an
// uncaught error after the dispatch (the evaluation then ends with it, as with timer callbacks);
// the other listeners still run. AbortSignal.timeout() uses a timer, which, like every timer,
// belongs to the evaluation that set it.
//
// Evaluated once at bootstrap, after the timers exist; what it uses later is captured here.
(function () {
  'use strict';
  // call(f, self, ...args) calls an intrinsic captured here as a method of self: one bound function
  // instead of one per intrinsic, so the base image holds fewer objects.
  const call = Function.prototype.call.bind(Function.prototype.call);
  const ObjectDefineProperty = Object.defineProperty;
  const ObjectGetOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
  const ObjectKeys = Object.keys;
  const ArrayPrototypeSlice = Array.prototype.slice;
  const ArrayPrototypePush = Array.prototype.push;
  const ArrayPrototypeSplice = Array.prototype.splice;
  const MapCtor = Map;
  const MapGet = Map.prototype.get, MapSet = Map.prototype.set;
  const NumberIsFinite = Number.isFinite;
  const MathTrunc = Math.trunc;
  const TypeErrorCtor = TypeError;
  const DOMExceptionCtor = DOMException;
  const setTimeoutCaptured = setTimeout;
  const queueMicrotaskCaptured = queueMicrotask;
  const performanceNow = performance.now;
  const performanceObject = performance;

  function define(target, name, value) {
    ObjectDefineProperty(target, name, { value, writable: true, configurable: true, enumerable: false });
  }

  function defineTag(proto, tag) {
    ObjectDefineProperty(proto, Symbol.toStringTag, { value: tag, configurable: true });
  }

  // Accessors and methods of web classes are enumerable, as WebIDL defines them.
  function enumerable(proto) {
    const names = Object.getOwnPropertyNames(proto);
    for (let i = 0; i < names.length; i++) {
      if (names[i] === 'constructor') continue;
      const desc = ObjectGetOwnPropertyDescriptor(proto, names[i]);
      desc.enumerable = true;
      ObjectDefineProperty(proto, names[i], desc);
    }
  }

  function dictionary(value, what) {
    if (value === undefined || value === null) return {};
    if (typeof value !== 'object' && typeof value !== 'function')
      throw new TypeErrorCtor(`${what}: the options must be an object`);
    return value;
  }

  // An uncaught exception in a listener does not stop the dispatch: it is rethrown on its own,
  // as a browser reports it to window.onerror, which here ends the evaluation with it.
  function report(error) {
    queueMicrotaskCaptured(() => { throw error; });
  }

  // ---- Event -------------------------------------------------------------------------------------

  const NONE = 0, AT_TARGET = 2;
  // Internal access to an event's state for EventTarget (module-private, not reachable from JS).
  let eventState;
  let markTrusted;

  class Event {
    #type; #bubbles; #cancelable; #composed; #timeStamp;
    #defaultPrevented = false; #stopped = false; #stoppedImmediately = false; #dispatching = false;
    #target = null; #currentTarget = null; #phase = NONE; #trusted = false;
    constructor(type, eventInitDict = undefined) {
      if (arguments.length === 0) throw new TypeErrorCtor("Event: 1 argument required, but only 0 present");
      const init = dictionary(eventInitDict, 'Event');
      this.#type = `${type}`;
      this.#bubbles = !!init.bubbles;
      this.#cancelable = !!init.cancelable;
      this.#composed = !!init.composed;
      this.#timeStamp = call(performanceNow, performanceObject);
    }
    get type() { return this.#type; }
    get target() { return this.#target; }
    get srcElement() { return this.#target; }
    get currentTarget() { return this.#currentTarget; }
    get eventPhase() { return this.#phase; }
    get bubbles() { return this.#bubbles; }
    get cancelable() { return this.#cancelable; }
    get composed() { return this.#composed; }
    get defaultPrevented() { return this.#defaultPrevented; }
    get returnValue() { return !this.#defaultPrevented; }
    set returnValue(value) { if (!value) this.preventDefault(); }
    get cancelBubble() { return this.#stopped; }
    set cancelBubble(value) { if (value) this.#stopped = true; }
    get isTrusted() { return this.#trusted; }
    get timeStamp() { return this.#timeStamp; }
    composedPath() { return this.#dispatching && this.#target !== null ? [this.#target] : []; }
    preventDefault() { if (this.#cancelable) this.#defaultPrevented = true; }
    stopPropagation() { this.#stopped = true; }
    stopImmediatePropagation() { this.#stopped = true; this.#stoppedImmediately = true; }

    static {
      eventState = {
        isEvent: (e) => #type in e,
        type: (e) => e.#type,
        dispatching: (e) => e.#dispatching,
        begin(e, target) {
          e.#dispatching = true;
          e.#target = target;
          e.#currentTarget = target;
          e.#phase = AT_TARGET;
          e.#stopped = false;
          e.#stoppedImmediately = false;
        },
        end(e) {
          e.#dispatching = false;
          e.#currentTarget = null;
          e.#phase = NONE;
        },
        stoppedImmediately: (e) => e.#stoppedImmediately,
        defaultPrevented: (e) => e.#defaultPrevented,
      };
      markTrusted = (e) => { e.#trusted = true; return e; };
    }
  }
  for (const [name, value] of [['NONE', 0], ['CAPTURING_PHASE', 1], ['AT_TARGET', 2], ['BUBBLING_PHASE', 3]]) {
    ObjectDefineProperty(Event, name, { value, enumerable: true });
    ObjectDefineProperty(Event.prototype, name, { value, enumerable: true });
  }
  enumerable(Event.prototype);
  defineTag(Event.prototype, 'Event');

  class CustomEvent extends Event {
    #detail;
    constructor(type, eventInitDict = undefined) {
      if (arguments.length === 0) throw new TypeErrorCtor("CustomEvent: 1 argument required, but only 0 present");
      super(type, eventInitDict);
      const detail = dictionary(eventInitDict, 'CustomEvent').detail;
      this.#detail = detail === undefined ? null : detail;
    }
    get detail() { return this.#detail; }
  }
  enumerable(CustomEvent.prototype);
  defineTag(CustomEvent.prototype, 'CustomEvent');

  // ---- EventTarget -------------------------------------------------------------------------------

  function flattenCapture(options) {
    if (typeof options === 'boolean') return options;
    if (options === undefined || options === null) return false;
    return !!options.capture;
  }

  // AbortSignal's, set below: brand and state checks that getters a program replaces cannot fool,
  // and the hook that drops a listener added with { signal } when the signal aborts.
  let isSignal, isAborted, removeFromSignal;

  class EventTarget {
    #listeners = new MapCtor();  // type -> [{ callback, capture, once, removed }]

    addEventListener(type, callback, options = undefined) {
      if (arguments.length < 2) throw new TypeErrorCtor('EventTarget.addEventListener: 2 arguments required');
      type = `${type}`;
      if (callback === null || callback === undefined) return;
      if (typeof callback !== 'function' && typeof callback !== 'object')
        throw new TypeErrorCtor('EventTarget.addEventListener: the listener must be a function or an object');
      const capture = flattenCapture(options);
      let once = false, signal;
      if (typeof options === 'object' && options !== null) {
        once = !!options.once;
        signal = options.signal;
        if (signal !== undefined && !isSignal(signal))
          throw new TypeErrorCtor('EventTarget.addEventListener: options.signal must be an AbortSignal');
      }
      if (signal !== undefined && isAborted(signal)) return;
      let list = call(MapGet, this.#listeners, type);
      if (list === undefined) call(MapSet, this.#listeners, type, list = []);
      for (let i = 0; i < list.length; i++)
        if (list[i].callback === callback && list[i].capture === capture) return;
      const listener = { callback, capture, once, removed: false };
      call(ArrayPrototypePush, list, listener);
      if (signal !== undefined) removeFromSignal(signal, () => this.#remove(type, listener));
    }

    removeEventListener(type, callback, options = undefined) {
      if (arguments.length < 2) throw new TypeErrorCtor('EventTarget.removeEventListener: 2 arguments required');
      const list = call(MapGet, this.#listeners, `${type}`);
      if (list === undefined) return;
      const capture = flattenCapture(options);
      for (let i = 0; i < list.length; i++) {
        if (list[i].callback === callback && list[i].capture === capture) {
          this.#remove(`${type}`, list[i]);
          return;
        }
      }
    }

    #remove(type, listener) {
      listener.removed = true;
      const list = call(MapGet, this.#listeners, type);
      if (list === undefined) return;
      for (let i = 0; i < list.length; i++) {
        if (list[i] === listener) {
          call(ArrayPrototypeSplice, list, i, 1);
          return;
        }
      }
    }

    dispatchEvent(event) {
      if (arguments.length < 1 || typeof event !== 'object' || event === null || !eventState.isEvent(event))
        throw new TypeErrorCtor("EventTarget.dispatchEvent: the argument must be an Event");
      if (eventState.dispatching(event))
        throw new DOMExceptionCtor('The event is already being dispatched.', 'InvalidStateError');
      eventState.begin(event, this);
      try {
        const type = eventState.type(event);
        const list = call(MapGet, this.#listeners, type);
        const listeners = list === undefined ? [] : call(ArrayPrototypeSlice, list);
        for (let i = 0; i < listeners.length; i++) {
          const listener = listeners[i];
          if (listener.removed) continue;
          if (listener.once) this.#remove(type, listener);
          try {
            const callback = listener.callback;
            if (typeof callback === 'function') {
              call(callback, this, event);
            } else {
              const handleEvent = callback.handleEvent;
              if (typeof handleEvent !== 'function')
                throw new TypeErrorCtor("the listener's handleEvent is not a function");
              call(handleEvent, callback, event);
            }
          } catch (error) {
            report(error);
          }
          if (eventState.stoppedImmediately(event)) break;
        }
      } finally {
        eventState.end(event);
      }
      return !eventState.defaultPrevented(event);
    }
  }
  enumerable(EventTarget.prototype);
  defineTag(EventTarget.prototype, 'EventTarget');
  const EventTargetAdd = EventTarget.prototype.addEventListener;
  const EventTargetDispatch = EventTarget.prototype.dispatchEvent;

  // ---- AbortSignal, AbortController --------------------------------------------------------------

  const internal = Symbol('AbortSignal');
  let signalAbort, onAbort;

  function abortError() { return new DOMExceptionCtor('This operation was aborted', 'AbortError'); }

  class AbortSignal extends EventTarget {
    #aborted = false;
    #reason = undefined;
    #algorithms = [];  // run when it aborts, before the abort event (AbortSignal.any, { signal })
    #onabort = null;
    #handlerAdded = false;

    constructor(token) {
      if (token !== internal) throw new TypeErrorCtor('Illegal constructor');
      super();
    }
    get aborted() { return this.#aborted; }
    get reason() { return this.#reason; }
    throwIfAborted() { if (this.#aborted) throw this.#reason; }
    get onabort() { return this.#onabort; }
    set onabort(handler) {
      this.#onabort = typeof handler === 'function' || (typeof handler === 'object' && handler !== null) ? handler : null;
      if (this.#onabort !== null && !this.#handlerAdded) {
        this.#handlerAdded = true;
        call(EventTargetAdd, this, 'abort', (event) => {
          const h = this.#onabort;
          if (typeof h === 'function') call(h, this, event);
        });
      }
    }

    static abort(reason = undefined) {
      const signal = new AbortSignal(internal);
      signal.#aborted = true;
      signal.#reason = reason === undefined ? abortError() : reason;
      return signal;
    }

    static timeout(milliseconds) {
      const ms = +milliseconds;
      if (!NumberIsFinite(ms) || ms < 0 || ms > Number.MAX_SAFE_INTEGER)
        throw new TypeErrorCtor('AbortSignal.timeout: the delay must be a finite, non-negative number of milliseconds');
      const signal = new AbortSignal(internal);
      setTimeoutCaptured(() => signalAbort(signal, new DOMExceptionCtor('The operation timed out.', 'TimeoutError')),
        MathTrunc(ms));
      return signal;
    }

    static any(signals) {
      const list = [];
      for (const s of signals) {
        if (!isSignal(s)) throw new TypeErrorCtor('AbortSignal.any: every entry must be an AbortSignal');
        call(ArrayPrototypePush, list, s);
      }
      const result = new AbortSignal(internal);
      for (let i = 0; i < list.length; i++) {
        if (list[i].#aborted) {
          result.#aborted = true;
          result.#reason = list[i].#reason;
          return result;
        }
      }
      for (let i = 0; i < list.length; i++) onAbort(list[i], () => signalAbort(result, list[i].#reason));
      return result;
    }

    static {
      signalAbort = (signal, reason) => {
        if (signal.#aborted) return;
        signal.#aborted = true;
        signal.#reason = reason === undefined ? abortError() : reason;
        const algorithms = signal.#algorithms;
        signal.#algorithms = [];
        for (let i = 0; i < algorithms.length; i++) algorithms[i]();
        call(EventTargetDispatch, signal, markTrusted(new Event('abort')));
      };
      onAbort = (signal, algorithm) => {
        if (!signal.#aborted) call(ArrayPrototypePush, signal.#algorithms, algorithm);
      };
      isSignal = (s) => typeof s === 'object' && s !== null && #aborted in s;
      isAborted = (s) => s.#aborted;
    }
  }
  removeFromSignal = onAbort;
  enumerable(AbortSignal.prototype);
  defineTag(AbortSignal.prototype, 'AbortSignal');

  class AbortController {
    #signal = new AbortSignal(internal);
    get signal() { return this.#signal; }
    abort(reason = undefined) { signalAbort(this.#signal, reason); }
  }
  enumerable(AbortController.prototype);
  defineTag(AbortController.prototype, 'AbortController');

  define(globalThis, 'Event', Event);
  define(globalThis, 'CustomEvent', CustomEvent);
  define(globalThis, 'EventTarget', EventTarget);
  define(globalThis, 'AbortSignal', AbortSignal);
  define(globalThis, 'AbortController', AbortController);
})
