// URL and URLSearchParams, after the WHATWG URL Standard, in the guest. ada, the parser Node and
// others use, is compiled into the guest (guest/url.cc): it parses, runs the setters, computes
// origins and does the application/x-www-form-urlencoded parsing and serializing. This file gives
// the two classes their standard shape on top of it.
//
// A URL holds its parts (href, protocol, ... hash) as strings, from one parse; a setter re-parses
// the href with the change. URLSearchParams keeps its list here, so get/has/sort/iteration never
// leave JS, and pushes its serialization to its URL after each change, as the standard's "update
// steps" do.
//
// Evaluated once at bootstrap; `native` holds the C++ half, and no global refers to it. Every
// intrinsic used later is captured here, so a program that replaces globals or prototypes cannot
// change how URL behaves.
(function (native) {
  'use strict';
  // call(f, self, ...args) calls an intrinsic captured here as a method of self.
  const call = Function.prototype.call.bind(Function.prototype.call);
  const ObjectDefineProperty = Object.defineProperty;
  const ObjectGetOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
  const ObjectGetOwnPropertyNames = Object.getOwnPropertyNames;
  const ReflectOwnKeys = Reflect.ownKeys;
  const StringPrototypeSlice = String.prototype.slice;
  const StringPrototypeToWellFormed = String.prototype.toWellFormed;
  const ArrayPrototypePush = Array.prototype.push;
  const ArrayPrototypeSplice = Array.prototype.splice;
  const ArrayPrototypeSort = Array.prototype.sort;  // stable, as the standard's sort must be
  const SymbolIterator = Symbol.iterator;
  const TypeErrorCtor = TypeError;
  const nativeParse = native.parse;
  const nativeCanParse = native.canParse;
  const nativeSet = native.set;
  const nativeOrigin = native.origin;
  const parseQuery = native.parseQuery;
  const serializeQuery = native.serializeQuery;

  // Indexes into a URL's parts, as guest/url.cc orders them.
  const HREF = 0, PROTOCOL = 1, USERNAME = 2, PASSWORD = 3, HOST = 4, HOSTNAME = 5, PORT = 6,
    PATHNAME = 7, SEARCH = 8, HASH = 9;

  function define(target, name, value) {
    ObjectDefineProperty(target, name, { value, writable: true, configurable: true, enumerable: false });
  }

  // Accessors and methods of web classes are enumerable, as WebIDL defines them.
  function enumerable(proto) {
    const names = ObjectGetOwnPropertyNames(proto);
    for (let i = 0; i < names.length; i++) {
      if (names[i] === 'constructor') continue;
      const desc = ObjectGetOwnPropertyDescriptor(proto, names[i]);
      desc.enumerable = true;
      ObjectDefineProperty(proto, names[i], desc);
    }
  }

  // WebIDL's USVString conversion: ToString (a Symbol is a TypeError, which a template literal
  // throws and String() would not), then each lone surrogate becomes U+FFFD.
  function usv(value) {
    return call(StringPrototypeToWellFormed, `${value}`);
  }

  // An input quoted in a message, cut short: a hostile megabyte URL makes a short error.
  function quote(text) {
    return text.length <= 200 ? `'${text}'` : `'${call(StringPrototypeSlice, text, 0, 200)}...' (${text.length} characters)`;
  }

  function invalid(text, base) {
    return new TypeErrorCtor(base === undefined ? `Invalid URL: ${quote(text)}`
      : `Invalid URL: ${quote(text)} against the base ${quote(base)}`);
  }

  function required(what, count, given) {
    if (given < count)
      throw new TypeErrorCtor(`${what}: ${count} argument${count === 1 ? '' : 's'} required, but only ${given} present`);
  }

  // Module-private links between the two classes (not reachable from JS).
  let paramsFor;    // (url, query) => a URLSearchParams whose changes go to url
  let replaceList;  // (params, query) => its list becomes query's pairs (a URL changed its query)
  let setQuery;     // (url, serialized) => url's query becomes serialized ("" removes it)

  const FROM_PARTS = Symbol('URL parts');  // private: new URL(FROM_PARTS, parts) adopts parts

  class URL {
    #parts;
    #query = null;  // the searchParams object, made when first asked for

    constructor(url, base = undefined) {
      if (url === FROM_PARTS) {
        this.#parts = base;
        return;
      }
      required('URL', 1, arguments.length);
      const text = usv(url);
      const baseText = base === undefined ? undefined : usv(base);
      const parts = nativeParse(text, baseText);
      if (parts === null) throw invalid(text, baseText);
      this.#parts = parts;
    }

    static parse(url, base = undefined) {
      required('URL.parse', 1, arguments.length);
      const parts = nativeParse(usv(url), base === undefined ? undefined : usv(base));
      return parts === null ? null : new URL(FROM_PARTS, parts);
    }

    static canParse(url, base = undefined) {
      required('URL.canParse', 1, arguments.length);
      return nativeCanParse(usv(url), base === undefined ? undefined : usv(base));
    }

    #change(part, value) {
      const parts = nativeSet(this.#parts[HREF], part, usv(value));
      if (parts !== null) this.#parts = parts;
    }

    // After a change that may have touched the query, its searchParams follow.
    #queryChanged() {
      if (this.#query !== null) replaceList(this.#query, this.#queryText());
    }

    #queryText() {
      const search = this.#parts[SEARCH];
      return search === '' ? '' : call(StringPrototypeSlice, search, 1);
    }

    get href() { return this.#parts[HREF]; }
    set href(value) {
      const text = usv(value);
      const parts = nativeSet(this.#parts[HREF], HREF, text);
      if (parts === null) throw invalid(text, undefined);
      this.#parts = parts;
      this.#queryChanged();
    }
    get origin() { return nativeOrigin(this.#parts[HREF]); }
    get protocol() { return this.#parts[PROTOCOL]; }
    set protocol(value) { this.#change(PROTOCOL, value); }
    get username() { return this.#parts[USERNAME]; }
    set username(value) { this.#change(USERNAME, value); }
    get password() { return this.#parts[PASSWORD]; }
    set password(value) { this.#change(PASSWORD, value); }
    get host() { return this.#parts[HOST]; }
    set host(value) { this.#change(HOST, value); }
    get hostname() { return this.#parts[HOSTNAME]; }
    set hostname(value) { this.#change(HOSTNAME, value); }
    get port() { return this.#parts[PORT]; }
    set port(value) { this.#change(PORT, value); }
    get pathname() { return this.#parts[PATHNAME]; }
    set pathname(value) { this.#change(PATHNAME, value); }
    get search() { return this.#parts[SEARCH]; }
    set search(value) {
      this.#change(SEARCH, value);
      this.#queryChanged();
    }
    get searchParams() {
      if (this.#query === null) this.#query = paramsFor(this, this.#queryText());
      return this.#query;
    }
    get hash() { return this.#parts[HASH]; }
    set hash(value) { this.#change(HASH, value); }
    toString() { return this.#parts[HREF]; }
    toJSON() { return this.#parts[HREF]; }

    static {
      setQuery = (url, serialized) => {
        const parts = nativeSet(url.#parts[HREF], SEARCH, serialized);
        if (parts !== null) url.#parts = parts;
      };
    }
  }
  enumerable(URL.prototype);
  ObjectDefineProperty(URL.prototype, Symbol.toStringTag, { value: 'URL', configurable: true });

  class URLSearchParams {
    #list = [];    // [name, value] pairs, in order
    #url = null;   // the URL whose query this is, if any

    constructor(init = undefined) {
      if (init === undefined) return;
      if ((typeof init === 'object' && init !== null) || typeof init === 'function') {
        const method = init[SymbolIterator];
        if (method !== undefined && method !== null) {
          if (typeof method !== 'function')
            throw new TypeErrorCtor('URLSearchParams: the init object\'s Symbol.iterator is not a function');
          for (const pair of init) {
            if ((typeof pair !== 'object' || pair === null) && typeof pair !== 'function')
              throw new TypeErrorCtor('URLSearchParams: each item must be a [name, value] pair');
            const items = [];
            for (const item of pair) call(ArrayPrototypePush, items, item);
            if (items.length !== 2)
              throw new TypeErrorCtor(`URLSearchParams: each item must be a [name, value] pair, got ${items.length} values`);
            call(ArrayPrototypePush, this.#list, [usv(items[0]), usv(items[1])]);
          }
          return;
        }
        // A record: its own enumerable properties, in property order.
        const keys = ReflectOwnKeys(init);
        for (let i = 0; i < keys.length; i++) {
          const desc = ObjectGetOwnPropertyDescriptor(init, keys[i]);
          if (desc === undefined || !desc.enumerable) continue;
          const name = usv(keys[i]);
          call(ArrayPrototypePush, this.#list, [name, usv(init[keys[i]])]);
        }
        return;
      }
      let text = usv(init);
      if (text !== '' && text[0] === '?') text = call(StringPrototypeSlice, text, 1);
      this.#list = pairs(text);
    }

    // The standard's update steps: a URL this belongs to takes the new serialization.
    #update() {
      if (this.#url !== null) setQuery(this.#url, this.toString());
    }

    get size() { return this.#list.length; }

    append(name, value) {
      required('URLSearchParams.append', 2, arguments.length);
      call(ArrayPrototypePush, this.#list, [usv(name), usv(value)]);
      this.#update();
    }

    delete(name, value = undefined) {
      required('URLSearchParams.delete', 1, arguments.length);
      const key = usv(name);
      const match = value === undefined ? undefined : usv(value);
      const list = this.#list;
      for (let i = 0; i < list.length;) {
        if (list[i][0] === key && (match === undefined || list[i][1] === match)) call(ArrayPrototypeSplice, list, i, 1);
        else i++;
      }
      this.#update();
    }

    get(name) {
      required('URLSearchParams.get', 1, arguments.length);
      const key = usv(name);
      const list = this.#list;
      for (let i = 0; i < list.length; i++) if (list[i][0] === key) return list[i][1];
      return null;
    }

    getAll(name) {
      required('URLSearchParams.getAll', 1, arguments.length);
      const key = usv(name);
      const list = this.#list;
      const out = [];
      for (let i = 0; i < list.length; i++) if (list[i][0] === key) call(ArrayPrototypePush, out, list[i][1]);
      return out;
    }

    has(name, value = undefined) {
      required('URLSearchParams.has', 1, arguments.length);
      const key = usv(name);
      const match = value === undefined ? undefined : usv(value);
      const list = this.#list;
      for (let i = 0; i < list.length; i++)
        if (list[i][0] === key && (match === undefined || list[i][1] === match)) return true;
      return false;
    }

    set(name, value) {
      required('URLSearchParams.set', 2, arguments.length);
      const key = usv(name);
      const text = usv(value);
      const list = this.#list;
      let found = false;
      for (let i = 0; i < list.length;) {
        if (list[i][0] !== key) {
          i++;
        } else if (!found) {
          list[i] = [key, text];
          found = true;
          i++;
        } else {
          call(ArrayPrototypeSplice, list, i, 1);
        }
      }
      if (!found) call(ArrayPrototypePush, list, [key, text]);
      this.#update();
    }

    // By name, in UTF-16 code units (how JS compares strings, as the standard asks), stable.
    sort() {
      call(ArrayPrototypeSort, this.#list, (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      this.#update();
    }

    forEach(callback, thisArg = undefined) {
      required('URLSearchParams.forEach', 1, arguments.length);
      if (typeof callback !== 'function') throw new TypeErrorCtor('URLSearchParams.forEach: the callback must be a function');
      // Live, as the standard's iteration is: entries added while it runs are visited.
      for (let i = 0; i < this.#list.length; i++) call(callback, thisArg, this.#list[i][1], this.#list[i][0], this);
    }

    *entries() {
      for (let i = 0; i < this.#list.length; i++) yield [this.#list[i][0], this.#list[i][1]];
    }

    *keys() {
      for (let i = 0; i < this.#list.length; i++) yield this.#list[i][0];
    }

    *values() {
      for (let i = 0; i < this.#list.length; i++) yield this.#list[i][1];
    }

    toString() {
      const list = this.#list;
      const flat = [];
      for (let i = 0; i < list.length; i++) call(ArrayPrototypePush, flat, list[i][0], list[i][1]);
      return serializeQuery(flat);
    }

    static {
      paramsFor = (url, query) => {
        const params = new URLSearchParams();
        params.#list = pairs(query);
        params.#url = url;
        return params;
      };
      replaceList = (params, query) => {
        params.#list = pairs(query);
      };
    }
  }

  // The form-urlencoded parser's flat [name, value, ...] as [name, value] pairs.
  function pairs(query) {
    const list = [];
    if (query === '') return list;
    const flat = parseQuery(query);
    for (let i = 0; i + 1 < flat.length; i += 2) call(ArrayPrototypePush, list, [flat[i], flat[i + 1]]);
    return list;
  }

  enumerable(URLSearchParams.prototype);
  ObjectDefineProperty(URLSearchParams.prototype, SymbolIterator, {
    value: URLSearchParams.prototype.entries, writable: true, configurable: true, enumerable: false });
  ObjectDefineProperty(URLSearchParams.prototype, Symbol.toStringTag, { value: 'URLSearchParams', configurable: true });

  define(globalThis, 'URL', URL);
  define(globalThis, 'URLSearchParams', URLSearchParams);
})
