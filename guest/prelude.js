// The guest prelude: evaluated once at bootstrap (before the base image is captured), before any
// user code. It installs `console` and returns the helpers the C layer needs.
//
// Everything it uses is captured here, at bootstrap, as uncurried intrinsics, so a program that
// later replaces Array.prototype.join, Object.keys or String cannot change how values are printed.
// Formatting follows Node's util.inspect defaults (depth 2, breakLength 80, compact 3,
// maxArrayLength 100, maxStringLength 10000) for the common value types. This is the one value
// formatter of quickbox: console.*, results printed for a CLI or REPL (EvalOptions::display) and
// values the host asks to show (Sandbox::format) all come through it.
(function (write) {
  'use strict';
  const uncurry = Function.prototype.bind.bind(Function.prototype.call);
  const ObjectGetPrototypeOf = Object.getPrototypeOf;
  const ObjectGetOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
  const ObjectKeys = Object.keys;
  const ObjectPrototype = Object.prototype;
  const ObjectToString = uncurry(Object.prototype.toString);
  const ObjectHasOwn = Object.hasOwn;
  const ReflectOwnKeys = Reflect.ownKeys;
  const ArrayIsArray = Array.isArray;
  const ArrayPrototypePush = uncurry(Array.prototype.push);
  const ArrayPrototypeJoin = uncurry(Array.prototype.join);
  const ArrayPrototypeIncludes = uncurry(Array.prototype.includes);
  const ArrayPrototypeIndexOf = uncurry(Array.prototype.indexOf);
  const ArrayPrototypePop = uncurry(Array.prototype.pop);
  const StringCtor = String;
  const StringPrototypeSlice = uncurry(String.prototype.slice);
  const StringPrototypeIncludes = uncurry(String.prototype.includes);
  const StringPrototypeIndexOf = uncurry(String.prototype.indexOf);
  const StringPrototypeReplaceAll = uncurry(String.prototype.replaceAll);
  const StringPrototypeRepeat = uncurry(String.prototype.repeat);
  const StringPrototypePadStart = uncurry(String.prototype.padStart);
  const StringPrototypePadEnd = uncurry(String.prototype.padEnd);
  const StringPrototypeCharCodeAt = uncurry(String.prototype.charCodeAt);
  const StringPrototypeCodePointAt = uncurry(String.prototype.codePointAt);
  const StringPrototypeTrimEnd = uncurry(String.prototype.trimEnd);
  const StringPrototypeStartsWith = uncurry(String.prototype.startsWith);
  const StringPrototypeToUpperCase = uncurry(String.prototype.toUpperCase);
  const RegExpPrototypeTest = uncurry(RegExp.prototype.test);
  const RegExpToString = uncurry(RegExp.prototype.toString);
  const FunctionToString = uncurry(Function.prototype.toString);
  const DateToISOString = uncurry(Date.prototype.toISOString);
  const DateGetTime = uncurry(Date.prototype.getTime);
  const ErrorToString = uncurry(Error.prototype.toString);
  const SymbolToString = uncurry(Symbol.prototype.toString);
  const NumberToString = uncurry(Number.prototype.toString);
  const BigIntToString = uncurry(BigInt.prototype.toString);
  const MapEntries = uncurry(Map.prototype.entries);
  const MapSize = uncurry(ObjectGetOwnPropertyDescriptor(Map.prototype, 'size').get);
  const SetValues = uncurry(Set.prototype.values);
  const SetSize = uncurry(ObjectGetOwnPropertyDescriptor(Set.prototype, 'size').get);
  const MapIteratorNext = uncurry(ObjectGetPrototypeOf(new Map().entries()).next);
  const SetIteratorNext = uncurry(ObjectGetPrototypeOf(new Set().values()).next);
  const TypedArrayPrototype = ObjectGetPrototypeOf(Uint8Array.prototype);
  const TypedArrayLength = uncurry(ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, 'length').get);
  const TypedArrayTag = uncurry(ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, Symbol.toStringTag).get);
  const ArrayBufferByteLength = uncurry(ObjectGetOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength').get);
  const Uint8ArrayCtor = Uint8Array;
  const MathFloor = Math.floor, MathMin = Math.min, MathMax = Math.max, MathRound = Math.round,
    MathSqrt = Math.sqrt;
  const isError = (v) => ObjectToString(v) === '[object Error]';
  // Node quotes every key that is not this narrow identifier shape (so `$a` is quoted).
  const isIdentifier = (k) => RegExpPrototypeTest(/^[a-zA-Z_][a-zA-Z_0-9]*$/, k);

  const breakLength = 80, maxDepth = 2, maxArrayLength = 100, maxStringLength = 10000, compact = 3;
  const minLineWidth = 16;  // Node's kMinLineWidth: shorter strings are never split over lines
  // BigInts with more magnitude (1 KiB) print exactly in hexadecimal: decimal conversion takes
  // quadratic time, and printing a value should cost time linear in its size (docs/limits.md; the
  // host's JSON text keeps the same bound, kDecimalBigIntMaxBytes in src/bigint.hh).
  const decimalBigIntMaxHexDigits = 2 * 1024;

  // Node's strEscape: picks ' unless the text holds one (then ", then `), and escapes the rest.
  function quote(s) {
    let q = "'";
    if (StringPrototypeIncludes(s, "'")) {
      if (!StringPrototypeIncludes(s, '"')) q = '"';
      else if (!StringPrototypeIncludes(s, '`') && !StringPrototypeIncludes(s, '${')) q = '`';
    }
    let out = '';
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      const code = StringPrototypeCharCodeAt(s, i);
      if (c === q || c === '\\') out += '\\' + c;
      else if (c === '\n') out += '\\n';
      else if (c === '\t') out += '\\t';
      else if (c === '\r') out += '\\r';
      else if (c === '\b') out += '\\b';
      else if (c === '\f') out += '\\f';
      else if (code < 0x20 || (code >= 0x7f && code <= 0x9f))
        out += '\\x' + StringPrototypeToUpperCase(StringPrototypePadStart(NumberToString(code, 16), 2, '0'));
      else if (code >= 0xd800 && code <= 0xdfff) {
        const next = i + 1 < s.length ? StringPrototypeCharCodeAt(s, i + 1) : 0;
        if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          out += c + s[i + 1];  // a surrogate pair: one astral character
          i++;
        } else {
          out += '\\u' + NumberToString(code, 16);  // a lone surrogate, as Node escapes it
        }
      } else out += c;
    }
    return q + out + q;
  }

  // Node's formatPrimitive for strings: cut after maxStringLength code units, and split after
  // each line break into `'...' +` lines when it does not fit the rest of the line.
  function formatString(ctx, s) {
    let trailer = '';
    if (s.length > maxStringLength) {
      const rest = s.length - maxStringLength;
      s = StringPrototypeSlice(s, 0, maxStringLength);
      trailer = `... ${rest} more character${rest > 1 ? 's' : ''}`;
    }
    if (s.length > minLineWidth && s.length > breakLength - ctx.indentationLvl - 4) {
      const lines = [];
      let start = 0;
      for (let i = StringPrototypeIndexOf(s, '\n'); i !== -1 && i + 1 < s.length;
        i = StringPrototypeIndexOf(s, '\n', i + 1)) {
        ArrayPrototypePush(lines, quote(StringPrototypeSlice(s, start, i + 1)));
        start = i + 1;
      }
      ArrayPrototypePush(lines, quote(StringPrototypeSlice(s, start)));
      return ArrayPrototypeJoin(lines, ` +\n${StringPrototypeRepeat(' ', ctx.indentationLvl + 2)}`) + trailer;
    }
    return quote(s) + trailer;
  }

  function formatBigInt(n) {
    const hex = BigIntToString(n, 16);
    const negative = n < 0n;
    if (hex.length - (negative ? 1 : 0) > decimalBigIntMaxHexDigits) {
      return (negative ? '-0x' + StringPrototypeSlice(hex, 1) : '0x' + hex) + 'n';
    }
    return BigIntToString(n) + 'n';
  }

  function formatNumber(n) { return n === 0 && 1 / n < 0 ? '-0' : StringCtor(n); }

  function formatPrimitive(ctx, v) {
    switch (typeof v) {
      case 'string': return formatString(ctx, v);
      case 'number': return formatNumber(v);
      case 'bigint': return formatBigInt(v);
      case 'boolean': return v ? 'true' : 'false';
      case 'undefined': return 'undefined';
      case 'symbol': return SymbolToString(v);
    }
    return 'null';
  }

  function formatKey(k) {
    if (typeof k === 'symbol') return `[${SymbolToString(k)}]`;
    return isIdentifier(k) ? k : quote(k);
  }

  function constructorName(obj) {
    let proto = obj;
    while (proto !== null) {
      const desc = ObjectGetOwnPropertyDescriptor(proto, 'constructor');
      if (desc !== undefined && typeof desc.value === 'function' && typeof desc.value.name === 'string' &&
          desc.value.name !== '') return desc.value.name;
      proto = ObjectGetPrototypeOf(proto);
    }
    return null;
  }

  function functionBase(fn) {
    let src = '';
    try { src = FunctionToString(fn); } catch { }
    const name = typeof fn.name === 'string' ? fn.name : '';
    if (StringPrototypeStartsWith(src, 'class') && /^class\b/.test(src)) {
      return name ? `[class ${name}]` : '[class (anonymous)]';
    }
    let kind = 'Function';
    const ctor = constructorName(fn);
    if (ctor === 'AsyncFunction') kind = 'AsyncFunction';
    else if (ctor === 'GeneratorFunction') kind = 'GeneratorFunction';
    else if (ctor === 'AsyncGeneratorFunction') kind = 'AsyncGeneratorFunction';
    return name ? `[${kind}: ${name}]` : `[${kind} (anonymous)]`;
  }

  // An error shows as its stack ("Name: message\n    at ...") or, without one, as
  // "[Name: message]"; nested in a value, its lines are indented with it.
  function formatError(ctx, err) {
    let stack = '';
    try { stack = typeof err.stack === 'string' ? err.stack : ''; } catch { }
    let head;
    try { head = ErrorToString(err); } catch { head = 'Error'; }
    stack = StringPrototypeTrimEnd(stack);
    let text = stack ? `${head}\n${stack}` : `[${head}]`;
    if (ctx.indentationLvl !== 0) {
      text = StringPrototypeReplaceAll(text, '\n', `\n${StringPrototypeRepeat(' ', ctx.indentationLvl)}`);
    }
    return text;
  }

  // Node's isFullWidthCodePoint (its table for builds without ICU's width data).
  function isFullWidth(code) {
    return code >= 0x1100 && (code <= 0x115f || code === 0x2329 || code === 0x232a ||
      (code >= 0x2e80 && code <= 0x3247 && code !== 0x303f) || (code >= 0x3250 && code <= 0x4dbf) ||
      (code >= 0x4e00 && code <= 0xa4c6) || (code >= 0xa960 && code <= 0xa97c) ||
      (code >= 0xac00 && code <= 0xd7a3) || (code >= 0xf900 && code <= 0xfaff) ||
      (code >= 0xfe10 && code <= 0xfe19) || (code >= 0xfe30 && code <= 0xfe6b) ||
      (code >= 0xff01 && code <= 0xff60) || (code >= 0xffe0 && code <= 0xffe6) ||
      (code >= 0x1b000 && code <= 0x1b001) || (code >= 0x1f200 && code <= 0x1f251) ||
      (code >= 0x1f300 && code <= 0x1f64f) || (code >= 0x20000 && code <= 0x3fffd));
  }

  // Node's isZeroWidthCodePoint.
  function isZeroWidth(code) {
    return code <= 0x1f || (code >= 0x7f && code <= 0x9f) || (code >= 0x300 && code <= 0x36f) ||
      (code >= 0x200b && code <= 0x200f) || (code >= 0x20d0 && code <= 0x20ff) ||
      (code >= 0xfe00 && code <= 0xfe0f) || (code >= 0xfe20 && code <= 0xfe2f) ||
      (code >= 0xe0100 && code <= 0xe01ef);
  }

  // Node's getStringWidth: columns on a terminal (East Asian wide characters take two). Counting
  // stops once past `max`: what is wider never goes into columns, and measuring a huge entry (a
  // long BigInt) to the end would only cost time.
  function stringWidth(s, max) {
    let width = 0;
    for (let i = 0; i < s.length && width <= max; i++) {
      const code = StringPrototypeCodePointAt(s, i);
      if (code > 0xffff) i++;
      if (isFullWidth(code)) width += 2;
      else if (!isZeroWidth(code)) width++;
    }
    return width;
  }

  function isBelowBreakLength(output, start, base) {
    let total = output.length + start;
    if (total + output.length > breakLength) return false;
    for (let i = 0; i < output.length; i++) {
      total += output[i].length;
      if (total > breakLength) return false;
    }
    return base === '' || !StringPrototypeIncludes(base, '\n');
  }

  // Node's groupArrayElements: lays long arrays of short items out in aligned columns. Widths are
  // terminal columns; padding is in code units, so wide characters get less of it.
  function groupArrayElements(ctx, output, value) {
    let totalLength = 0, maxLength = 0;
    let outputLength = output.length;
    if (ctx.extraItems) outputLength--;
    const separatorSpace = 2;
    const dataLen = [];
    for (let i = 0; i < outputLength; i++) {
      const len = stringWidth(output[i], breakLength);  // exact whenever columns are possible
      dataLen[i] = len;
      totalLength += len + separatorSpace;
      if (maxLength < len) maxLength = len;
    }
    const actualMax = maxLength + separatorSpace;
    if (actualMax * 3 + ctx.indentationLvl < breakLength &&
        (totalLength / actualMax > 5 || maxLength <= 6)) {
      const averageBias = MathSqrt(actualMax - totalLength / output.length);
      const biasedMax = MathMax(actualMax - 3 - averageBias, 1);
      const columns = MathMin(
        MathRound(MathSqrt(2.5 * biasedMax * outputLength) / biasedMax),
        MathFloor((breakLength - ctx.indentationLvl) / actualMax),
        compact * 4,
        15);
      if (columns <= 1) return output;
      const tmp = [];
      const maxLineLength = [];
      for (let i = 0; i < columns; i++) {
        let lineLength = 0;
        for (let j = i; j < outputLength; j += columns) if (dataLen[j] > lineLength) lineLength = dataLen[j];
        ArrayPrototypePush(maxLineLength, lineLength + separatorSpace);
      }
      // Numbers (and BigInts) are right-aligned. Like Node, this checks one index per entry of
      // the output, the "more items" entry included.
      let padStart = true;
      if (value !== undefined) {
        for (let i = 0; i < output.length; i++) {
          if (typeof value[i] !== 'number' && typeof value[i] !== 'bigint') { padStart = false; break; }
        }
      }
      for (let i = 0; i < outputLength; i += columns) {
        const max = MathMin(i + columns, outputLength);
        let str = '';
        let j = i;
        for (; j < max - 1; j++) {
          const padding = maxLineLength[j - i] + output[j].length - dataLen[j];
          const cell = `${output[j]}, `;
          str += padStart ? StringPrototypePadStart(cell, padding, ' ') : StringPrototypePadEnd(cell, padding, ' ');
        }
        if (padStart) {
          const padding = maxLineLength[j - i] + output[j].length - dataLen[j] - separatorSpace;
          str += StringPrototypePadStart(output[j], padding, ' ');
        } else {
          str += output[j];
        }
        ArrayPrototypePush(tmp, str);
      }
      if (ctx.extraItems) ArrayPrototypePush(tmp, output[outputLength]);
      return tmp;
    }
    return output;
  }

  function reduceToSingleString(ctx, output, base, braces, isArrayLike, recurseTimes, value) {
    const entries = output.length;
    if (isArrayLike && entries > 6) output = groupArrayElements(ctx, output, value);
    if (ctx.currentDepth - recurseTimes < compact && entries === output.length) {
      const start = output.length + ctx.indentationLvl + braces[0].length + base.length + 10;
      if (isBelowBreakLength(output, start, base)) {
        const joined = ArrayPrototypeJoin(output, ', ');
        if (!StringPrototypeIncludes(joined, '\n')) {
          return `${base ? `${base} ` : ''}${braces[0]} ${joined} ${braces[1]}`;
        }
      }
    }
    const indentation = `\n${StringPrototypeRepeat(' ', ctx.indentationLvl)}`;
    return `${base ? `${base} ` : ''}${braces[0]}${indentation}  ${ArrayPrototypeJoin(output, `,${indentation}  `)}${indentation}${braces[1]}`;
  }

  function formatProperty(ctx, obj, key, recurseTimes, arrayItem) {
    const desc = ObjectGetOwnPropertyDescriptor(obj, key);
    let str;
    if (desc === undefined) return undefined;
    if (ObjectHasOwn(desc, 'value')) {
      ctx.indentationLvl += 2;
      str = formatValue(ctx, desc.value, recurseTimes);
      ctx.indentationLvl -= 2;
    } else if (desc.get !== undefined) {
      str = desc.set !== undefined ? '[Getter/Setter]' : '[Getter]';
    } else {
      str = desc.set !== undefined ? '[Setter]' : 'undefined';
    }
    return arrayItem ? str : `${formatKey(key)}: ${str}`;
  }

  function ownEnumerableKeys(obj, skipIndices) {
    const keys = [];
    const all = ReflectOwnKeys(obj);
    for (let i = 0; i < all.length; i++) {
      const k = all[i];
      if (skipIndices && typeof k === 'string' && RegExpPrototypeTest(/^(0|[1-9][0-9]*)$/, k)) continue;
      const d = ObjectGetOwnPropertyDescriptor(obj, k);
      if (d !== undefined && d.enumerable) ArrayPrototypePush(keys, k);
    }
    return keys;
  }

  function formatValue(ctx, value, recurseTimes) {
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
      return formatPrimitive(ctx, value);
    }
    const cycleIndex = ArrayPrototypeIndexOf(ctx.seen, value);
    if (cycleIndex !== -1) {
      let index = ctx.circular.get(value);
      if (index === undefined) {
        index = ctx.circular.size + 1;
        ctx.circular.set(value, index);
      }
      return `[Circular *${index}]`;
    }
    return formatRaw(ctx, value, recurseTimes);
  }

  function formatRaw(ctx, value, recurseTimes) {
    const ctor = constructorName(value);
    const tag = ObjectToString(value);
    let base = '';
    let braces;
    let output = [];
    let keys;
    let isArrayLike = false;
    let extra = 0;
    const prefix = (fallback, size) => {
      const name = ctor === null ? `[${fallback}: null prototype]` : ctor;
      return size === undefined ? `${name} ` : `${name}(${size}) `;
    };

    if (typeof value === 'function') {
      base = functionBase(value);
      keys = ownEnumerableKeys(value, false);
      if (keys.length === 0) return base;
      braces = ['{', '}'];
    } else if (ArrayIsArray(value)) {
      isArrayLike = true;
      const p = ctor === 'Array' ? '' : prefix('Array', value.length);
      braces = [`${p}[`, ']'];
      if (value.length === 0 && ownEnumerableKeys(value, true).length === 0) return `${braces[0]}]`;
      keys = ownEnumerableKeys(value, true);
    } else if (tag === '[object Map]' && ctor !== null) {
      braces = [`${prefix('Map', MapSize(value))}{`, '}'];
      keys = ownEnumerableKeys(value, false);
      if (MapSize(value) === 0 && keys.length === 0) return `${braces[0]}}`;
    } else if (tag === '[object Set]' && ctor !== null) {
      braces = [`${prefix('Set', SetSize(value))}{`, '}'];
      keys = ownEnumerableKeys(value, false);
      if (SetSize(value) === 0 && keys.length === 0) return `${braces[0]}}`;
    } else if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
      isArrayLike = true;
      braces = [`${TypedArrayTag(value)}(${TypedArrayLength(value)}) [`, ']'];
      keys = ownEnumerableKeys(value, true);
      if (TypedArrayLength(value) === 0 && keys.length === 0) return `${braces[0]}]`;
    } else if (tag === '[object ArrayBuffer]') {
      const bytes = new Uint8ArrayCtor(value);
      const shown = [];
      const n = MathMin(bytes.length, 50);
      for (let i = 0; i < n; i++) ArrayPrototypePush(shown, StringPrototypePadStart(NumberToString(bytes[i], 16), 2, '0'));
      let contents = ArrayPrototypeJoin(shown, ' ');
      if (bytes.length > 50) contents += ` ... ${bytes.length - 50} more byte${bytes.length - 50 > 1 ? 's' : ''}`;
      return `ArrayBuffer { [Uint8Contents]: <${contents}>, byteLength: ${ArrayBufferByteLength(value)} }`;
    } else if (isError(value)) {
      base = formatError(ctx, value);
      keys = ownEnumerableKeys(value, false);
      keys = keys.filter((k) => k !== 'stack' && k !== 'message');
      if (keys.length === 0) return base;
      braces = ['{', '}'];
    } else if (tag === '[object Date]') {
      const t = DateGetTime(value);
      base = t !== t ? 'Invalid Date' : DateToISOString(value);
      keys = ownEnumerableKeys(value, false);
      if (keys.length === 0) return base;
      braces = ['{', '}'];
    } else if (tag === '[object RegExp]') {
      base = RegExpToString(value);
      keys = ownEnumerableKeys(value, false);
      if (keys.length === 0) return base;
      braces = ['{', '}'];
    } else if (tag === '[object Promise]') {
      braces = ['Promise {', '}'];
      keys = ownEnumerableKeys(value, false);
      ArrayPrototypePush(output, '<unknown>');
    } else if (tag === '[object Number]' || tag === '[object String]' || tag === '[object Boolean]' ||
               tag === '[object BigInt]' || tag === '[object Symbol]') {
      let prim;
      try { prim = value.valueOf(); } catch { prim = undefined; }
      const kind = StringPrototypeSlice(tag, 8, -1);
      base = `[${kind}: ${formatPrimitive(ctx, prim)}]`;
      keys = ownEnumerableKeys(value, kind === 'String');
      if (keys.length === 0) return base;
      braces = ['{', '}'];
    } else {
      keys = ownEnumerableKeys(value, false);
      let p = '';
      if (ctor === null) p = '[Object: null prototype] ';
      else if (ctor !== 'Object') p = `${ctor} `;
      braces = [`${p}{`, '}'];
      if (keys.length === 0) return `${p}{}`;
    }

    if (recurseTimes > maxDepth) {
      if (ArrayIsArray(value)) return '[Array]';
      return `[${ctor === null ? 'Object: null prototype' : ctor}]`;
    }
    recurseTimes += 1;
    ArrayPrototypePush(ctx.seen, value);
    ctx.currentDepth = recurseTimes;
    const savedExtra = ctx.extraItems;
    ctx.extraItems = false;
    try {
      if (ArrayIsArray(value) || ArrayBuffer.isView(value)) {
        const len = ArrayIsArray(value) ? value.length : TypedArrayLength(value);
        const shown = MathMin(len, maxArrayLength);
        let holes = 0;
        for (let i = 0; i < shown; i++) {
          if (!ObjectHasOwn(value, i)) { holes++; continue; }
          if (holes) { ArrayPrototypePush(output, `<${holes} empty item${holes > 1 ? 's' : ''}>`); holes = 0; }
          ArrayPrototypePush(output, formatProperty(ctx, value, StringCtor(i), recurseTimes, true));
        }
        if (holes) ArrayPrototypePush(output, `<${holes} empty item${holes > 1 ? 's' : ''}>`);
        if (len > shown) {
          extra = len - shown;
          ArrayPrototypePush(output, `... ${extra} more item${extra > 1 ? 's' : ''}`);
          ctx.extraItems = true;
        }
      } else if (tag === '[object Map]' && ctor !== null) {
        const it = MapEntries(value);
        ctx.indentationLvl += 2;
        for (let r = MapIteratorNext(it); !r.done; r = MapIteratorNext(it)) {
          ArrayPrototypePush(output, `${formatValue(ctx, r.value[0], recurseTimes)} => ${formatValue(ctx, r.value[1], recurseTimes)}`);
        }
        ctx.indentationLvl -= 2;
      } else if (tag === '[object Set]' && ctor !== null) {
        const it = SetValues(value);
        ctx.indentationLvl += 2;
        for (let r = SetIteratorNext(it); !r.done; r = SetIteratorNext(it)) {
          ArrayPrototypePush(output, formatValue(ctx, r.value, recurseTimes));
        }
        ctx.indentationLvl -= 2;
      }
      for (let i = 0; i < keys.length; i++) {
        const s = formatProperty(ctx, value, keys[i], recurseTimes, false);
        if (s !== undefined) ArrayPrototypePush(output, s);
      }
    } finally {
      ArrayPrototypePop(ctx.seen);
    }
    const index = ctx.circular.get(value);
    let res = reduceToSingleString(ctx, output, base, braces, isArrayLike, recurseTimes, value);
    ctx.extraItems = savedExtra;
    if (index !== undefined) res = `<ref *${index}> ${res}`;
    return res;
  }

  function newContext() {
    return { seen: [], circular: new Map(), indentationLvl: 0, currentDepth: 0, extraItems: false };
  }

  function inspect(value) {
    const ctx = newContext();
    try {
      return formatValue(ctx, value, 0);
    } catch (e) {
      return '[value that cannot be displayed]';
    }
  }

  // Node's util.format: printf-like directives in a leading string, then the rest inspected.
  function format(args) {
    const first = args[0];
    let out = '';
    let a = 0;
    if (typeof first === 'string') {
      a = 1;
      let last = 0;
      // Jump from one '%' to the next: most strings have none, and scanning them character by
      // character in JS made a long console.log cost half a millisecond.
      for (let i = StringPrototypeIndexOf(first, '%'); i !== -1 && i < first.length - 1;
        i = StringPrototypeIndexOf(first, '%', i + 1)) {
        const d = first[i + 1];
        let piece;
        if (d === '%') { out += StringPrototypeSlice(first, last, i) + '%'; last = i + 2; i++; continue; }
        if (a >= args.length) continue;
        const arg = args[a];
        switch (d) {
          case 's':
            piece = typeof arg === 'string' ? arg : typeof arg === 'bigint' ? formatBigInt(arg)
              : (typeof arg === 'object' && arg !== null) ? inspect(arg) : formatPrimitive(newContext(), arg);
            if (typeof arg === 'symbol') piece = SymbolToString(arg);
            break;
          case 'd': case 'i':
            piece = typeof arg === 'bigint' ? formatBigInt(arg)
              : typeof arg === 'symbol' ? 'NaN'
              : formatNumber(d === 'i' ? (Number(arg) < 0 ? -MathFloor(-Number(arg)) : MathFloor(Number(arg))) : Number(arg));
            break;
          case 'f': piece = typeof arg === 'symbol' ? 'NaN' : formatNumber(Number(arg)); break;
          case 'j': try { piece = JSON.stringify(arg); } catch { piece = '[Circular]'; } break;
          case 'o': case 'O': piece = inspect(arg); break;
          case 'c': piece = ''; break;
          default: continue;
        }
        out += StringPrototypeSlice(first, last, i) + piece;
        last = i + 2;
        i++;
        a++;
      }
      out += StringPrototypeSlice(first, last);
    }
    for (; a < args.length; a++) {
      const v = args[a];
      if (out !== '' || a > 0) out += ' ';
      out += typeof v === 'string' ? v : inspect(v);
    }
    return out;
  }

  const levels = { log: 0, info: 1, warn: 2, error: 3, debug: 4, trace: 4 };
  const console = {};
  for (const name of ObjectKeys(levels)) {
    const level = levels[name];
    console[name] = function (...args) { write(level, format(args)); };
  }
  console.dir = function (value) { write(0, inspect(value)); };
  console.table = console.log;
  console.assert = function (cond, ...args) {
    if (!cond) write(3, args.length ? 'Assertion failed: ' + format(args) : 'Assertion failed');
  };
  Object.defineProperty(globalThis, 'console', { value: console, writable: true, configurable: true, enumerable: false });

  // Errors the host sends (a failed or rejected capability call) are built with the matching
  // constructor, so `instanceof TypeError` holds, and their stack starts at the capability.
  const ObjectDefineProperty = Object.defineProperty;
  const errorConstructors = { __proto__: null, Error, TypeError, RangeError, SyntaxError,
    ReferenceError, EvalError, URIError };
  function makeError(name, message, capability) {
    const Ctor = errorConstructors[name] ?? Error;
    const error = new Ctor(message);
    if (error.name !== name) ObjectDefineProperty(error, 'name', { value: name, writable: true, configurable: true });
    const stack = typeof error.stack === 'string' ? error.stack : '';
    const callers = StringPrototypeSlice(stack, StringPrototypeIndexOf(stack, '\n') + 1);  // drops makeError's frame
    ObjectDefineProperty(error, 'stack',
      { value: `    at ${capability} (host)\n${callers}`, writable: true, configurable: true });
    return error;
  }

  return {
    format,
    inspect,
    makeError,
    bigintFromHex: (hex) => BigInt(hex),
    bigintToHex: (n) => BigIntToString(n, 16),
    negate: (n) => -n,
    stringSlice: String.prototype.slice,  // the intrinsic, called from C on error text
    dateToISOString: Date.prototype.toISOString,  // the intrinsic, called from C for Date results
  };
})
