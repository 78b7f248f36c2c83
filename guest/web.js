// Web-standard globals that live in the guest: TextEncoder, TextDecoder, structuredClone, crypto
// (getRandomValues, randomUUID, subtle.digest) and en-US formatting for toLocaleString. (atob,
// btoa, DOMException, queueMicrotask and performance come with quickjs-ng itself; timers are
// guest/timers.c; Event, EventTarget and AbortController are guest/web_events.js.)
//
// Evaluated once at bootstrap, so it is part of the base image and costs a sandbox nothing to
// start. `native` holds the C half (guest/web.c); no global refers to it. Everything used after
// bootstrap is captured here as an intrinsic, so a program that replaces globals or prototypes
// cannot change how these globals behave for it.
(function (native) {
  'use strict';
  // call(f, self, ...args) calls an intrinsic captured here as a method of self: one bound function
  // instead of one per intrinsic, so the base image holds fewer objects.
  const call = Function.prototype.call.bind(Function.prototype.call);
  const ObjectDefineProperty = Object.defineProperty;
  const ObjectGetOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
  const ObjectGetPrototypeOf = Object.getPrototypeOf;
  const ObjectKeys = Object.keys;
  const ObjectCtor = Object;
  const ObjectIs = Object.is;
  const ArrayCtor = Array;
  const ArrayPrototypeIncludes = Array.prototype.includes;
  const ArrayPrototypeJoin = Array.prototype.join;
  const ArrayPrototypePush = Array.prototype.push;
  const ArrayIsArray = Array.isArray;
  const StringCtor = String;
  const StringPrototypeSlice = String.prototype.slice;
  const StringPrototypePadStart = String.prototype.padStart;
  const StringPrototypePadEnd = String.prototype.padEnd;
  const StringPrototypeRepeat = String.prototype.repeat;
  const StringPrototypeCharCodeAt = String.prototype.charCodeAt;
  const StringPrototypeToLowerCase = String.prototype.toLowerCase;
  const StringPrototypeToUpperCase = String.prototype.toUpperCase;
  const StringPrototypeIndexOf = String.prototype.indexOf;
  const StringPrototypeReplace = String.prototype.replace;
  const StringPrototypeValueOf = String.prototype.valueOf;
  const RegExpPrototypeTest = RegExp.prototype.test;
  const RegExpCtor = RegExp;
  const RegExpSource = ObjectGetOwnPropertyDescriptor(RegExp.prototype, 'source').get;
  const RegExpFlags = ObjectGetOwnPropertyDescriptor(RegExp.prototype, 'flags').get;
  const NumberToString = Number.prototype.toString;
  const NumberValueOf = Number.prototype.valueOf;
  const NumberIsFinite = Number.isFinite;
  const BooleanValueOf = Boolean.prototype.valueOf;
  const BigIntValueOf = BigInt.prototype.valueOf;
  const BigIntToString = BigInt.prototype.toString;
  const SymbolToString = Symbol.prototype.toString;
  const DateCtor = Date;
  const DateGetTime = Date.prototype.getTime;
  const DateGetUTCFullYear = Date.prototype.getUTCFullYear;
  const DateGetUTCMonth = Date.prototype.getUTCMonth;
  const DateGetUTCDate = Date.prototype.getUTCDate;
  const DateGetUTCDay = Date.prototype.getUTCDay;
  const DateGetUTCHours = Date.prototype.getUTCHours;
  const DateGetUTCMinutes = Date.prototype.getUTCMinutes;
  const DateGetUTCSeconds = Date.prototype.getUTCSeconds;
  const MapCtor = Map, SetCtor = Set;
  const MapGet = Map.prototype.get, MapSet = Map.prototype.set, MapHas = Map.prototype.has;
  const MapEntries = Map.prototype.entries;
  const SetAdd = Set.prototype.add, SetValues = Set.prototype.values;
  const SetHas = Set.prototype.has;
  const MapIteratorNext = ObjectGetPrototypeOf(new Map().entries()).next;
  const SetIteratorNext = ObjectGetPrototypeOf(new Set().values()).next;
  const ArrayIteratorNext = ObjectGetPrototypeOf([][Symbol.iterator]()).next;
  const ArrayBufferCtor = ArrayBuffer;
  const ArrayBufferSlice = ArrayBuffer.prototype.slice;
  const ArrayBufferByteLength = ObjectGetOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength').get;
  const ArrayBufferResizable = ObjectGetOwnPropertyDescriptor(ArrayBuffer.prototype, 'resizable').get;
  const ArrayBufferMaxByteLength = ObjectGetOwnPropertyDescriptor(ArrayBuffer.prototype, 'maxByteLength').get;
  const ArrayBufferDetached = ObjectGetOwnPropertyDescriptor(ArrayBuffer.prototype, 'detached').get;
  const ArrayBufferTransfer = ArrayBuffer.prototype.transfer;
  const SharedArrayBufferCtor = SharedArrayBuffer;
  const SharedArrayBufferByteLength =
    ObjectGetOwnPropertyDescriptor(SharedArrayBuffer.prototype, 'byteLength').get;
  const TypedArrayPrototype = ObjectGetPrototypeOf(Uint8Array.prototype);
  const TypedArrayTag = ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, Symbol.toStringTag).get;
  const TypedArrayBuffer = ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, 'buffer').get;
  const TypedArrayByteOffset = ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, 'byteOffset').get;
  const TypedArrayByteLength = ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, 'byteLength').get;
  const TypedArrayLength = ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, 'length').get;
  const TypedArraySet = TypedArrayPrototype.set;
  const TypedArraySlice = TypedArrayPrototype.slice;
  const DataViewCtor = DataView;
  const DataViewBuffer = ObjectGetOwnPropertyDescriptor(DataView.prototype, 'buffer').get;
  const DataViewByteOffset = ObjectGetOwnPropertyDescriptor(DataView.prototype, 'byteOffset').get;
  const DataViewByteLength = ObjectGetOwnPropertyDescriptor(DataView.prototype, 'byteLength').get;
  const Uint8ArrayCtor = Uint8Array;
  const typedArrayCtors = { __proto__: null, Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array,
    Int32Array, Uint32Array, BigInt64Array, BigUint64Array, Float16Array, Float32Array, Float64Array };
  const errorCtors = { __proto__: null, Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };
  const DOMExceptionCtor = DOMException;
  const DOMExceptionName = ObjectGetOwnPropertyDescriptor(DOMException.prototype, 'name').get;
  const DOMExceptionMessage = ObjectGetOwnPropertyDescriptor(DOMException.prototype, 'message').get;
  const TypeErrorCtor = TypeError, RangeErrorCtor = RangeError;
  const MathFloor = Math.floor, MathMax = Math.max;

  function define(target, name, value) {
    ObjectDefineProperty(target, name, { value, writable: true, configurable: true, enumerable: false });
  }

  // A plain data property, as the web's algorithms create them (no setter on a prototype runs).
  function createDataProperty(target, key, value) {
    ObjectDefineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  }

  // Methods of web classes are enumerable and configurable, as WebIDL defines them.
  function defineMethods(proto, methods) {
    for (const name of ObjectKeys(methods)) {
      const desc = ObjectGetOwnPropertyDescriptor(methods, name);
      desc.enumerable = true;
      ObjectDefineProperty(proto, name, desc);
    }
  }

  function defineTag(proto, tag) {
    ObjectDefineProperty(proto, Symbol.toStringTag, { value: tag, configurable: true });
  }

  // A WebIDL dictionary argument: undefined and null are empty, other non-objects are refused.
  function dictionary(value, what) {
    if (value === undefined || value === null) return {};
    if (typeof value !== 'object' && typeof value !== 'function')
      throw new TypeErrorCtor(`${what}: the options must be an object`);
    return value;
  }

  // A BufferSource (ArrayBuffer, SharedArrayBuffer, typed array, DataView) as a Uint8Array over
  // the same bytes.
  function bytesOf(source, what) {
    if (call(TypedArrayTag, source) !== undefined)
      return new Uint8ArrayCtor(call(TypedArrayBuffer, source), call(TypedArrayByteOffset, source), call(TypedArrayByteLength, source));
    if (typeof source === 'object' && source !== null) {
      const kind = native.cloneKind(source);
      if (kind === CloneKind.DataView)
        return new Uint8ArrayCtor(call(DataViewBuffer, source), call(DataViewByteOffset, source), call(DataViewByteLength, source));
      if (kind === CloneKind.ArrayBuffer) return new Uint8ArrayCtor(source);
      try {
        call(SharedArrayBufferByteLength, source);
        return new Uint8ArrayCtor(source);
      } catch {}
    }
    throw new TypeErrorCtor(`${what}: the data must be an ArrayBuffer, a typed array or a DataView`);
  }

  // ---- TextEncoder, TextDecoder (UTF-8) ----------------------------------------------------------

  class TextEncoder {
    get encoding() { return 'utf-8'; }
  }
  defineMethods(TextEncoder.prototype, {
    encode(input = '') { return native.encode(`${input}`); },
    encodeInto(source, destination) {
      if (call(TypedArrayTag, destination) !== 'Uint8Array')
        throw new TypeErrorCtor('TextEncoder.encodeInto: the destination must be a Uint8Array');
      const counts = native.encodeInto(`${source}`, destination);
      return { read: counts[0], written: counts[1] };
    },
  });
  defineTag(TextEncoder.prototype, 'TextEncoder');

  // The WHATWG Encoding Standard's labels of UTF-8; other encodings are not available.
  const utf8Labels = ['unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'utf-8', 'utf8', 'x-unicode20utf8'];
  const emptyBytes = new Uint8ArrayCtor(0);

  class TextDecoder {
    #fatal; #ignoreBOM; #pending = emptyBytes; #bomSeen = false;
    constructor(label = 'utf-8', options = undefined) {
      const name = call(StringPrototypeToLowerCase, call(StringPrototypeReplace, `${label}`, /^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, ''));
      if (!call(ArrayPrototypeIncludes, utf8Labels, name))
        throw new RangeErrorCtor(`TextDecoder: the encoding "${label}" is not supported (only UTF-8 is available)`);
      const o = dictionary(options, 'TextDecoder');
      this.#fatal = !!o.fatal;
      this.#ignoreBOM = !!o.ignoreBOM;
    }
    get encoding() { return 'utf-8'; }
    get fatal() { return this.#fatal; }
    get ignoreBOM() { return this.#ignoreBOM; }
    decode(input = undefined, options = undefined) {
      const stream = !!dictionary(options, 'TextDecoder.decode').stream;
      let bytes = input === undefined ? emptyBytes : bytesOf(input, 'TextDecoder.decode');
      if (call(TypedArrayLength, this.#pending) !== 0) {
        const joined = new Uint8ArrayCtor(call(TypedArrayLength, this.#pending) + call(TypedArrayLength, bytes));
        call(TypedArraySet, joined, this.#pending, 0);
        call(TypedArraySet, joined, bytes, call(TypedArrayLength, this.#pending));
        bytes = joined;
      }
      let result;
      try {
        result = native.decode(bytes, this.#fatal, stream, !this.#ignoreBOM && !this.#bomSeen);
      } catch (e) {
        this.#pending = emptyBytes;
        this.#bomSeen = false;
        throw e;
      }
      const consumed = result[1];
      if (stream) {
        if (consumed > 0) this.#bomSeen = true;
        this.#pending = consumed < call(TypedArrayLength, bytes)
          ? call(TypedArraySlice, bytes, consumed)  // a copy: the caller may reuse its buffer
          : emptyBytes;
      } else {
        this.#pending = emptyBytes;
        this.#bomSeen = false;
      }
      return result[0];
    }
  }
  // decode is a method, enumerable like the others
  defineMethods(TextDecoder.prototype, { decode: TextDecoder.prototype.decode });
  defineTag(TextDecoder.prototype, 'TextDecoder');
  define(globalThis, 'TextEncoder', TextEncoder);
  define(globalThis, 'TextDecoder', TextDecoder);

  // ---- structuredClone ---------------------------------------------------------------------------

  // What native.cloneKind reports (guest/web.c, clone_kind).
  const CloneKind = { NotCloneable: 0, Array: 1, Date: 2, RegExp: 3, Map: 4, Set: 5, ArrayBuffer: 6,
    TypedArray: 7, DataView: 8, Error: 9, Object: 10, Other: 11 };

  function dataCloneError(what) {
    return new DOMExceptionCtor(`${what} could not be cloned.`, 'DataCloneError');
  }

  function describe(value) {
    if (typeof value === 'symbol') return call(SymbolToString, value);
    if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
    return '#<Object>';
  }

  function cloneArrayBuffer(buffer) {
    if (call(ArrayBufferDetached, buffer)) throw dataCloneError('A detached ArrayBuffer');
    if (!call(ArrayBufferResizable, buffer)) return call(ArrayBufferSlice, buffer, 0);
    const copy = new ArrayBufferCtor(call(ArrayBufferByteLength, buffer), { maxByteLength: call(ArrayBufferMaxByteLength, buffer) });
    call(TypedArraySet, new Uint8ArrayCtor(copy), new Uint8ArrayCtor(buffer), 0);
    return copy;
  }

  // Boxed primitives (new Number(1), Object('s')...) have no C test; their valueOf methods check
  // the internal slot and throw for anything else.
  const unboxers = [NumberValueOf, StringPrototypeValueOf, BooleanValueOf, BigIntValueOf];
  function unbox(value) {
    for (let i = 0; i < unboxers.length; i++) {
      try { return { value: call(unboxers[i], value) }; } catch {}
    }
    return undefined;
  }

  function cloneError(error, memory, clone) {
    let name = error.name;
    name = typeof name === 'string' && errorCtors[name] !== undefined ? name : 'Error';
    const desc = ObjectGetOwnPropertyDescriptor(error, 'message');
    const copy = desc !== undefined && 'value' in desc ? new errorCtors[name](`${desc.value}`) : new errorCtors[name]();
    call(MapSet, memory, error, copy);
    const stack = error.stack;
    if (typeof stack === 'string') ObjectDefineProperty(copy, 'stack', { value: stack, writable: true, configurable: true });
    const cause = ObjectGetOwnPropertyDescriptor(error, 'cause');
    if (cause !== undefined && 'value' in cause)
      ObjectDefineProperty(copy, 'cause', { value: clone(cause.value), writable: true, configurable: true });
    return copy;
  }

  // Own enumerable string-keyed properties, read with [[Get]] (getters run) as the spec says.
  function copyProperties(from, to, clone) {
    const keys = ObjectKeys(from);
    for (let i = 0; i < keys.length; i++) createDataProperty(to, keys[i], clone(from[keys[i]]));
    return to;
  }

  function cloneInto(memory) {
    return function clone(value) {
      if (typeof value === 'symbol') throw dataCloneError(describe(value));
      if (typeof value !== 'object' && typeof value !== 'function') return value;
      if (value === null) return null;
      if (call(MapHas, memory, value)) return call(MapGet, memory, value);
      let copy;
      switch (native.cloneKind(value)) {
        case CloneKind.Date:
          copy = new DateCtor(call(DateGetTime, value));
          break;
        case CloneKind.RegExp:
          copy = new RegExpCtor(call(RegExpSource, value), call(RegExpFlags, value));
          break;
        case CloneKind.ArrayBuffer:
          copy = cloneArrayBuffer(value);
          break;
        case CloneKind.TypedArray: {
          const buffer = clone(call(TypedArrayBuffer, value));
          copy = new typedArrayCtors[call(TypedArrayTag, value)](buffer, call(TypedArrayByteOffset, value), call(TypedArrayLength, value));
          break;
        }
        case CloneKind.DataView: {
          const buffer = clone(call(DataViewBuffer, value));
          copy = new DataViewCtor(buffer, call(DataViewByteOffset, value), call(DataViewByteLength, value));
          break;
        }
        case CloneKind.Map: {
          copy = new MapCtor();
          call(MapSet, memory, value, copy);
          const entries = [];  // read first: the spec clones the entries as they are now
          for (const it = call(MapEntries, value); ;) {
            const step = call(MapIteratorNext, it);
            if (step.done) break;
            call(ArrayPrototypePush, entries, step.value);
          }
          for (let i = 0; i < entries.length; i++) call(MapSet, copy, clone(entries[i][0]), clone(entries[i][1]));
          return copy;
        }
        case CloneKind.Set: {
          copy = new SetCtor();
          call(MapSet, memory, value, copy);
          const values = [];
          for (const it = call(SetValues, value); ;) {
            const step = call(SetIteratorNext, it);
            if (step.done) break;
            call(ArrayPrototypePush, values, step.value);
          }
          for (let i = 0; i < values.length; i++) call(SetAdd, copy, clone(values[i]));
          return copy;
        }
        case CloneKind.Error:
          return cloneError(value, memory, clone);
        case CloneKind.Array:
          copy = new ArrayCtor(value.length);
          call(MapSet, memory, value, copy);
          return copyProperties(value, copy, clone);
        case CloneKind.Object:
          copy = {};
          call(MapSet, memory, value, copy);
          return copyProperties(value, copy, clone);
        case CloneKind.Other: {
          try {
            const name = call(DOMExceptionName, value);
            copy = new DOMExceptionCtor(call(DOMExceptionMessage, value), name);
            break;
          } catch {}
          try {
            call(SharedArrayBufferByteLength, value);
            copy = value;  // shared memory stays shared, as between a page and its workers
            break;
          } catch {}
          const boxed = unbox(value);
          if (boxed === undefined) throw dataCloneError(describe(value));
          copy = ObjectCtor(boxed.value);
          break;
        }
        default:
          throw dataCloneError(describe(value));
      }
      call(MapSet, memory, value, copy);
      return copy;
    };
  }

  function structuredClone(value, options = undefined) {
    if (arguments.length === 0) throw new TypeErrorCtor('structuredClone: 1 argument required, but only 0 present');
    const transfer = dictionary(options, 'structuredClone').transfer;
    const memory = new MapCtor();
    const moved = [];
    if (transfer !== undefined) {
      if (typeof transfer !== 'object' || transfer === null || typeof transfer[Symbol.iterator] !== 'function')
        throw new TypeErrorCtor('structuredClone: options.transfer must be an iterable of ArrayBuffers');
      const seen = new SetCtor();
      for (const buffer of transfer) {
        if (native.cloneKind(buffer) !== CloneKind.ArrayBuffer)
          throw dataCloneError('Only ArrayBuffers can be transferred here; this value');
        if (call(SetHas, seen, buffer)) throw dataCloneError('An ArrayBuffer listed twice for transfer');
        if (call(ArrayBufferDetached, buffer)) throw dataCloneError('A detached ArrayBuffer');
        call(SetAdd, seen, buffer);
        call(ArrayPrototypePush, moved, buffer);
        call(MapSet, memory, buffer, cloneArrayBuffer(buffer));
      }
    }
    const copy = cloneInto(memory)(value);
    // Transferring leaves the originals detached, once the clone has succeeded.
    for (let i = 0; i < moved.length; i++) call(ArrayBufferTransfer, moved[i]);
    return copy;
  }
  define(globalThis, 'structuredClone', structuredClone);

  // ---- crypto ------------------------------------------------------------------------------------

  const integerArrays = ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array',
    'Uint32Array', 'BigInt64Array', 'BigUint64Array'];
  const digests = { __proto__: null, 'SHA-1': 0, 'SHA-256': 1, 'SHA-384': 2, 'SHA-512': 3 };

  function illegalConstructor() { throw new TypeErrorCtor('Illegal constructor'); }

  const SubtleCrypto = function SubtleCrypto() { illegalConstructor(); };
  defineMethods(SubtleCrypto.prototype, {
    async digest(algorithm, data) {
      let name = algorithm;
      if (typeof algorithm === 'object' && algorithm !== null) {
        name = algorithm.name;
        if (name === undefined) throw new TypeErrorCtor('crypto.subtle.digest: the algorithm has no name');
      }
      const kind = digests[call(StringPrototypeToUpperCase, `${name}`)];
      if (kind === undefined)
        throw new DOMExceptionCtor(`Unrecognized algorithm name: ${name} (SHA-1, SHA-256, SHA-384 and SHA-512 are available)`,
          'NotSupportedError');
      return native.digest(kind, bytesOf(data, 'crypto.subtle.digest'));
    },
  });
  defineTag(SubtleCrypto.prototype, 'SubtleCrypto');
  const subtle = { __proto__: SubtleCrypto.prototype };

  const Crypto = function Crypto() { illegalConstructor(); };
  const hex = (byte) => call(StringPrototypePadStart, call(NumberToString, byte, 16), 2, '0');
  defineMethods(Crypto.prototype, {
    getRandomValues(array) {
      const tag = call(TypedArrayTag, array);
      if (!call(ArrayPrototypeIncludes, integerArrays, tag)) {
        if (tag !== undefined || (typeof array === 'object' && array !== null && native.cloneKind(array) === CloneKind.DataView))
          throw new DOMExceptionCtor('crypto.getRandomValues: the array must be an integer-type typed array',
            'TypeMismatchError');
        throw new TypeErrorCtor('crypto.getRandomValues: the argument must be an integer-type typed array');
      }
      const length = call(TypedArrayByteLength, array);
      if (length > 65536)
        throw new DOMExceptionCtor(`The ArrayBufferView's byte length (${length}) exceeds the number of bytes of entropy available via this API (65536)`,
          'QuotaExceededError');
      native.fillRandom(new Uint8ArrayCtor(call(TypedArrayBuffer, array), call(TypedArrayByteOffset, array), length));
      return array;
    },
    randomUUID() {
      const b = new Uint8ArrayCtor(16);
      native.fillRandom(b);
      b[6] = (b[6] & 0x0f) | 0x40;  // version 4
      b[8] = (b[8] & 0x3f) | 0x80;  // the RFC 9562 variant
      let s = '';
      for (let i = 0; i < 16; i++) s += (i === 4 || i === 6 || i === 8 || i === 10 ? '-' : '') + hex(b[i]);
      return s;
    },
  });
  ObjectDefineProperty(Crypto.prototype, 'subtle', { get() { return subtle; }, enumerable: true, configurable: true });
  defineTag(Crypto.prototype, 'Crypto');
  define(globalThis, 'crypto', { __proto__: Crypto.prototype });
  define(globalThis, 'Crypto', Crypto);
  define(globalThis, 'SubtleCrypto', SubtleCrypto);

  // ---- toLocaleString: en-US, without Intl -------------------------------------------------------
  //
  // quickjs-ng has no Intl, and its toLocaleString methods ignore their arguments. These replace
  // them with the en-US formats (grouping, fraction digits, percent, currency; dates in UTC, the
  // sandbox's only time zone). What en-US cannot honour is refused with a RangeError naming it (a
  // locale, an option), never formatted wrongly in silence.

  const enUS = ['en', 'en-us'];
  function checkLocale(locales, what) {
    if (locales === undefined) return;
    const list = typeof locales === 'string' ? [locales] : locales;
    if (!ArrayIsArray(list)) throw new TypeErrorCtor(`${what}: locales must be a string or an array of strings`);
    if (list.length === 0) return;
    const first = `${list[0]}`;
    if (!call(ArrayPrototypeIncludes, enUS, call(StringPrototypeToLowerCase, first)))
      throw new RangeErrorCtor(`${what}: the locale "${first}" is not available: this sandbox has no Intl and formats ` +
        'en-US only (pass "en-US" or undefined)');
  }

  function refuseOptions(o, allowed, what) {
    const keys = ObjectKeys(o);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      if (o[key] !== undefined && !call(ArrayPrototypeIncludes, allowed, key))
        throw new RangeErrorCtor(`${what}: the option "${key}" is not supported: this sandbox has no Intl ` +
          `(supported: ${call(ArrayPrototypeJoin, allowed, ', ')})`);
    }
  }

  function digitOption(o, key, min, max, fallback, what) {
    const v = o[key];
    if (v === undefined) return fallback;
    const n = +v;
    if (!NumberIsFinite(n) || n < min || n > max) throw new RangeErrorCtor(`${what}: ${key} value is out of range.`);
    return MathFloor(n);
  }

  // Digits of a non-negative finite number as JS prints it (the shortest round trip, as ICU uses):
  // { digits, point } where the value is 0.digits × 10^point.
  function decimalOf(x) {
    let s = call(NumberToString, x);
    let exp = 0;
    const e = call(StringPrototypeIndexOf, s, 'e');
    if (e !== -1) {
      exp = +call(StringPrototypeSlice, s, e + 1);
      s = call(StringPrototypeSlice, s, 0, e);
    }
    const dot = call(StringPrototypeIndexOf, s, '.');
    let digits = dot === -1 ? s : call(StringPrototypeSlice, s, 0, dot) + call(StringPrototypeSlice, s, dot + 1);
    let point = (dot === -1 ? s.length : dot) + exp;
    let lead = 0;
    while (lead < digits.length - 1 && digits[lead] === '0') lead++;
    digits = call(StringPrototypeSlice, digits, lead);
    point -= lead;
    return { digits, point };
  }

  // Rounds 0.digits × 10^point to maxFraction digits after the point (half away from zero, as
  // Intl's default), keeping at least minFraction of them, and returns the integer and fraction
  // parts as digit strings.
  function roundDecimal(digits, point, minFraction, maxFraction) {
    const keep = point + maxFraction;  // how many of the digits survive
    let kept = keep <= 0 ? '' : call(StringPrototypePadEnd, call(StringPrototypeSlice, digits, 0, keep), keep, '0');
    if (keep >= 0 && keep < digits.length && digits[keep] >= '5') {
      let out = '', carry = 1;
      for (let i = kept.length - 1; i >= 0; i--) {
        const d = call(StringPrototypeCharCodeAt, kept, i) - 48 + carry;
        carry = d === 10 ? 1 : 0;
        out = StringCtor(d % 10) + out;
      }
      if (carry) {
        out = '1' + out;
        point++;
      }
      kept = out;
    }
    let int, frac;
    if (point > 0) {
      int = call(StringPrototypeSlice, kept, 0, point);
      frac = call(StringPrototypeSlice, kept, point);
    } else {
      int = '0';
      frac = call(StringPrototypeSlice, call(StringPrototypeRepeat, '0', -point) + kept, 0, maxFraction);
    }
    frac = call(StringPrototypePadEnd, frac, maxFraction, '0');
    let end = frac.length;
    while (end > minFraction && frac[end - 1] === '0') end--;
    return { int: int === '' ? '0' : int, frac: call(StringPrototypeSlice, frac, 0, end) };
  }

  function group(int, grouping) {
    if (grouping === false || (grouping === 'min2' && int.length < 5)) return int;
    let out = '';
    for (let i = int.length; i > 0; i -= 3) out = call(StringPrototypeSlice, int, i > 3 ? i - 3 : 0, i) + (out ? ',' + out : '');
    return out;
  }

  const currencySymbols = { __proto__: null, USD: '$', EUR: '€', GBP: '£', JPY: '¥', INR: '₹', CNY: 'CN¥',
    CAD: 'CA$', AUD: 'A$', KRW: '₩', MXN: 'MX$', BRL: 'R$', ILS: '₪', VND: '₫', NZD: 'NZ$', HKD: 'HK$', TWD: 'NT$' };
  const zeroDigitCurrencies = ['JPY', 'KRW', 'VND', 'CLP', 'ISK', 'UGX', 'PYG'];
  const numberOptions = ['style', 'currency', 'currencyDisplay', 'minimumFractionDigits', 'maximumFractionDigits',
    'minimumIntegerDigits', 'useGrouping', 'localeMatcher'];

  // Formats a number ({ negative, digits, point } or a special value) the en-US way.
  function formatNumber(negative, decimal, special, locales, options, what) {
    checkLocale(locales, what);
    const o = dictionary(options, what);
    refuseOptions(o, numberOptions, what);
    const style = o.style === undefined ? 'decimal' : `${o.style}`;
    if (style !== 'decimal' && style !== 'percent' && style !== 'currency')
      throw new RangeErrorCtor(`${what}: the style "${style}" is not supported: this sandbox has no Intl ` +
        '(supported: decimal, percent, currency)');
    let currency, prefix = '';
    if (style === 'currency') {
      if (o.currency === undefined) throw new TypeErrorCtor(`${what}: currency code is required with currency style.`);
      currency = call(StringPrototypeToUpperCase, `${o.currency}`);
      if (!call(RegExpPrototypeTest, /^[A-Z]{3}$/, currency)) throw new RangeErrorCtor(`${what}: invalid currency code: ${o.currency}`);
      const display = o.currencyDisplay === undefined ? 'symbol' : `${o.currencyDisplay}`;
      if (display === 'code') prefix = currency + '\u00a0';
      else if (display === 'symbol' || display === 'narrowSymbol') {
        const symbol = currencySymbols[currency];
        prefix = symbol !== undefined ? (display === 'narrowSymbol' ? symbol[symbol.length - 1] : symbol)
          : currency + '\u00a0';
      } else {
        throw new RangeErrorCtor(`${what}: the currencyDisplay "${display}" is not supported (symbol, narrowSymbol, code)`);
      }
    }
    const currencyDigits = currency !== undefined && call(ArrayPrototypeIncludes, zeroDigitCurrencies, currency) ? 0 : 2;
    const defaultMin = style === 'currency' ? currencyDigits : 0;
    const defaultMax = style === 'currency' ? currencyDigits : style === 'percent' ? 0 : 3;
    const minFraction = digitOption(o, 'minimumFractionDigits', 0, 100, defaultMin, what);
    let maxFraction = digitOption(o, 'maximumFractionDigits', 0, 100, MathMax(minFraction, defaultMax), what);
    if (o.minimumFractionDigits !== undefined && o.maximumFractionDigits !== undefined && maxFraction < minFraction)
      throw new RangeErrorCtor(`${what}: maximumFractionDigits value is out of range.`);
    if (maxFraction < minFraction) maxFraction = minFraction;
    const minInteger = digitOption(o, 'minimumIntegerDigits', 1, 21, 1, what);
    const grouping = o.useGrouping === undefined || o.useGrouping === 'auto' || o.useGrouping === 'always' ? true
      : o.useGrouping === 'min2' ? 'min2' : !!o.useGrouping;
    let body;
    if (special !== undefined) {
      body = special;
    } else {
      const point = decimal.digits === '0' ? 1 : decimal.point + (style === 'percent' ? 2 : 0);
      const { int, frac } = roundDecimal(decimal.digits, point, minFraction, maxFraction);
      body = group(call(StringPrototypePadStart, int, minInteger, '0'), grouping) + (frac ? '.' + frac : '');
    }
    return (negative ? '-' : '') + prefix + body + (style === 'percent' ? '%' : '');
  }

  function thisNumber(value) {
    if (typeof value === 'number') return value;
    return call(NumberValueOf, value);  // throws for anything that is not a Number
  }

  define(Number.prototype, 'toLocaleString', function toLocaleString(locales = undefined, options = undefined) {
    const x = thisNumber(this);
    const what = 'Number.prototype.toLocaleString';
    if (x !== x) return formatNumber(false, undefined, 'NaN', locales, options, what);
    const negative = x < 0 || ObjectIs(x, -0);
    if (!NumberIsFinite(x)) return formatNumber(negative, undefined, '∞', locales, options, what);
    return formatNumber(negative, decimalOf(negative ? -x : x), undefined, locales, options, what);
  });

  define(BigInt.prototype, 'toLocaleString', function toLocaleString(locales = undefined, options = undefined) {
    const n = call(BigIntValueOf, this);
    const negative = n < 0n;
    const digits = call(BigIntToString, negative ? -n : n);
    return formatNumber(negative, { digits, point: digits.length }, undefined, locales, options,
      'BigInt.prototype.toLocaleString');
  });

  // Dates: en-US in UTC. Defaults as Intl gives them ("1/2/2024, 3:04:05 PM"); dateStyle and
  // timeStyle; timeZone "UTC" (the only one the sandbox has). Component options (year, month...)
  // are refused.
  const weekdays = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
  const months = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September',
    'October', 'November', 'December'];
  const dateOptions = ['dateStyle', 'timeStyle', 'timeZone', 'hour12', 'localeMatcher', 'formatMatcher'];
  const styles = ['full', 'long', 'medium', 'short'];

  function formatDatePart(d, style) {
    const y = call(DateGetUTCFullYear, d), m = call(DateGetUTCMonth, d), day = call(DateGetUTCDate, d);
    const year = y < 0 ? `${-y + 1} BC` : `${y}`;
    switch (style) {
      case 'full': return `${weekdays[call(DateGetUTCDay, d)]}, ${months[m]} ${day}, ${year}`;
      case 'long': return `${months[m]} ${day}, ${year}`;
      case 'medium': return `${call(StringPrototypeSlice, months[m], 0, 3)} ${day}, ${year}`;
      case 'short': return `${m + 1}/${day}/${call(StringPrototypePadStart, `${y % 100}`, 2, '0')}`;
    }
    return `${m + 1}/${day}/${year}`;
  }

  function formatTimePart(d, style, hour12) {
    const h = call(DateGetUTCHours, d);
    const mm = call(StringPrototypePadStart, `${call(DateGetUTCMinutes, d)}`, 2, '0');
    const ss = call(StringPrototypePadStart, `${call(DateGetUTCSeconds, d)}`, 2, '0');
    const clock = hour12 === false ? `${call(StringPrototypePadStart, `${h}`, 2, '0')}:${mm}`
      : `${h % 12 === 0 ? 12 : h % 12}:${mm}`;
    const seconds = style === 'short' ? '' : `:${ss}`;
    // U+202F (narrow no-break space) before AM/PM, as current ICU (Node 20+, browsers) writes it
    const suffix = hour12 === false ? '' : (h < 12 ? '\u202fAM' : '\u202fPM');
    const zone = style === 'full' ? ' Coordinated Universal Time' : style === 'long' ? ' UTC' : '';
    return clock + seconds + suffix + zone;
  }

  function formatDate(date, locales, options, parts, what) {
    const time = call(DateGetTime, date);  // throws for anything that is not a Date
    checkLocale(locales, what);
    const o = dictionary(options, what);
    refuseOptions(o, dateOptions, what);
    if (o.timeZone !== undefined && call(StringPrototypeToUpperCase, `${o.timeZone}`) !== 'UTC')
      throw new RangeErrorCtor(`${what}: the time zone "${o.timeZone}" is not available: this sandbox has no Intl ` +
        'and only the UTC time zone');
    if (time !== time) return 'Invalid Date';
    const dateStyle = o.dateStyle === undefined ? undefined : `${o.dateStyle}`;
    const timeStyle = o.timeStyle === undefined ? undefined : `${o.timeStyle}`;
    if ((dateStyle !== undefined && !call(ArrayPrototypeIncludes, styles, dateStyle)) ||
        (timeStyle !== undefined && !call(ArrayPrototypeIncludes, styles, timeStyle)))
      throw new RangeErrorCtor(`${what}: dateStyle and timeStyle must be one of full, long, medium, short`);
    if ((dateStyle !== undefined && parts === 'time') || (timeStyle !== undefined && parts === 'date'))
      throw new TypeErrorCtor(`${what}: Invalid option : ${parts === 'time' ? 'dateStyle' : 'timeStyle'}`);
    const hour12 = o.hour12 === undefined ? undefined : !!o.hour12;
    const styled = dateStyle !== undefined || timeStyle !== undefined;
    const showDate = styled ? dateStyle !== undefined : parts !== 'time';
    const showTime = styled ? timeStyle !== undefined : parts !== 'date';
    const datePart = showDate ? formatDatePart(date, dateStyle) : '';
    const timePart = showTime ? formatTimePart(date, timeStyle, hour12) : '';
    if (!showTime) return datePart;
    if (!showDate) return timePart;
    return datePart + (dateStyle === 'full' || dateStyle === 'long' ? ' at ' : ', ') + timePart;
  }

  define(Date.prototype, 'toLocaleString', function toLocaleString(locales = undefined, options = undefined) {
    return formatDate(this, locales, options, 'any', 'Date.prototype.toLocaleString');
  });
  define(Date.prototype, 'toLocaleDateString', function toLocaleDateString(locales = undefined, options = undefined) {
    return formatDate(this, locales, options, 'date', 'Date.prototype.toLocaleDateString');
  });
  define(Date.prototype, 'toLocaleTimeString', function toLocaleTimeString(locales = undefined, options = undefined) {
    return formatDate(this, locales, options, 'time', 'Date.prototype.toLocaleTimeString');
  });
})
