// The guest's fetch layer: evaluated once at bootstrap (so it is part of the base image), it
// returns install(hostFetch), which the C layer calls only when the host grants a network policy
// (QB_CAPABILITY_FETCH). Until then none of this is reachable: `typeof fetch === "undefined"`.
//
// fetch, Request, Response and Headers follow the WHATWG Fetch standard, with bodies held in
// memory as bytes (no streams: `body` is absent, Blob and FormData are not supported). The host
// makes the request: it receives {method, url, headers, body, redirect} and answers {status,
// statusText, url, redirected, headers, body}. Credentials the host adds never come back here.
// A request's signal is the sandbox's one AbortSignal (guest/web_events.js, evaluated before this
// layer at bootstrap).
(function (utf8Encode, utf8Decode, cancelCall) {
  'use strict';
  const ObjectDefineProperty = Object.defineProperty;
  const ObjectKeys = Object.keys;
  const ArrayIsArray = Array.isArray;
  const JSONParse = JSON.parse;
  const JSONStringify = JSON.stringify;
  const Uint8ArrayCtor = Uint8Array;
  const ArrayBufferCtor = ArrayBuffer;
  const ArrayBufferIsView = ArrayBuffer.isView;
  const PromiseCtor = Promise;
  const StringCtor = String;
  const TypeErrorCtor = TypeError;
  const RangeErrorCtor = RangeError;
  const SymbolIterator = Symbol.iterator;
  const SymbolToStringTag = Symbol.toStringTag;
  const uncurry = Function.prototype.bind.bind(Function.prototype.call);
  const StringToWellFormed = uncurry(String.prototype.toWellFormed);
  const StringToUpperCase = uncurry(String.prototype.toUpperCase);
  const StringToLowerCase = uncurry(String.prototype.toLowerCase);
  const RegExpTest = uncurry(RegExp.prototype.test);
  const ArrayPush = uncurry(Array.prototype.push);
  const ArrayJoin = uncurry(Array.prototype.join);
  const ArraySort = uncurry(Array.prototype.sort);
  const ArrayFilter = uncurry(Array.prototype.filter);
  const ArrayIndexOf = uncurry(Array.prototype.indexOf);
  const ArraySplice = uncurry(Array.prototype.splice);
  const TypedArraySlice = uncurry(Uint8Array.prototype.slice);
  const ArrayBufferSlice = uncurry(ArrayBuffer.prototype.slice);
  const PromiseThen = uncurry(Promise.prototype.then);
  // What fetch needs of AbortSignal, captured so that a program replacing a signal's methods cannot
  // change it: the aborted getter doubles as the brand check (it throws on anything else).
  const SignalAborted = uncurry(Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted').get);
  const SignalReason = uncurry(Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'reason').get);
  const AddEventListener = uncurry(EventTarget.prototype.addEventListener);
  const RemoveEventListener = uncurry(EventTarget.prototype.removeEventListener);
  // The sandbox's URL and URLSearchParams (guest/url.js, evaluated before this layer).
  const URLCtor = URL;
  const URLHref = uncurry(Object.getOwnPropertyDescriptor(URL.prototype, 'href').get);
  const URLSearchParamsCtor = URLSearchParams;

  let hostFetch = null;  // the host capability, once installed

  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  const BAD_VALUE = /[\0\r\n]/;
  const NULL_BODY_STATUS = [101, 103, 204, 205, 304];
  const REDIRECT_STATUS = [301, 302, 303, 307, 308];

  function headerName(name) {
    const text = StringCtor(name);
    if (!RegExpTest(TOKEN, text)) throw new TypeErrorCtor(`'${text}' is not a valid HTTP header name`);
    return StringToLowerCase(text);
  }

  function headerValue(value) {
    let text = StringCtor(value);
    // Leading and trailing HTTP whitespace is not part of a value.
    let start = 0, end = text.length;
    while (start < end && ' \t\r\n'.includes(text[start])) start++;
    while (end > start && ' \t\r\n'.includes(text[end - 1])) end--;
    text = text.slice(start, end);
    if (RegExpTest(BAD_VALUE, text)) throw new TypeErrorCtor(`'${text}' is not a valid HTTP header value`);
    return text;
  }

  // ---- Headers ------------------------------------------------------------------------------------

  let headerList;     // (headers) => its [name, value] list, in insertion order
  let lockHeaders;    // (headers) => makes it immutable (a response's headers)

  class Headers {
    #list = [];
    #immutable = false;

    constructor(init = undefined) {
      if (init === undefined || init === null) return;
      if (init instanceof Headers) {
        const list = init.#list;
        for (let i = 0; i < list.length; i++) ArrayPush(this.#list, [list[i][0], list[i][1]]);
      } else if (typeof init === 'object' && typeof init[SymbolIterator] === 'function') {
        for (const pair of init) {
          if (typeof pair !== 'object' || pair === null || typeof pair[SymbolIterator] !== 'function')
            throw new TypeErrorCtor('Headers: each entry must be a [name, value] pair');
          const items = [...pair];
          if (items.length !== 2) throw new TypeErrorCtor('Headers: each entry must be a [name, value] pair');
          this.append(items[0], items[1]);
        }
      } else if (typeof init === 'object') {
        const keys = ObjectKeys(init);
        for (let i = 0; i < keys.length; i++) this.append(keys[i], init[keys[i]]);
      } else {
        throw new TypeErrorCtor('Headers: expected a Headers object, a list of pairs or a record');
      }
    }

    #check() {
      if (this.#immutable) throw new TypeErrorCtor('Headers: these headers are immutable');
    }

    append(name, value) {
      this.#check();
      ArrayPush(this.#list, [headerName(name), headerValue(value)]);
    }

    delete(name) {
      this.#check();
      const key = headerName(name);
      this.#list = ArrayFilter(this.#list, (entry) => entry[0] !== key);
    }

    get(name) {
      const key = headerName(name);
      const values = [];
      for (let i = 0; i < this.#list.length; i++) if (this.#list[i][0] === key) ArrayPush(values, this.#list[i][1]);
      return values.length === 0 ? null : ArrayJoin(values, ', ');
    }

    getSetCookie() {
      const values = [];
      for (let i = 0; i < this.#list.length; i++) if (this.#list[i][0] === 'set-cookie') ArrayPush(values, this.#list[i][1]);
      return values;
    }

    has(name) {
      const key = headerName(name);
      for (let i = 0; i < this.#list.length; i++) if (this.#list[i][0] === key) return true;
      return false;
    }

    set(name, value) {
      this.#check();
      const key = headerName(name);
      const text = headerValue(value);
      const index = this.#list.findIndex((entry) => entry[0] === key);
      if (index === -1) {
        ArrayPush(this.#list, [key, text]);
        return;
      }
      this.#list[index] = [key, text];
      this.#list = ArrayFilter(this.#list, (entry, i) => i <= index || entry[0] !== key);
    }

    forEach(callback, thisArg = undefined) {
      for (const [name, value] of this) callback.call(thisArg, value, name, this);
    }

    // Sorted by name, values of one name combined, set-cookie kept apart: the standard's
    // "sort and combine".
    *entries() {
      const names = [];
      for (let i = 0; i < this.#list.length; i++)
        if (ArrayIndexOf(names, this.#list[i][0]) === -1) ArrayPush(names, this.#list[i][0]);
      ArraySort(names);
      for (let i = 0; i < names.length; i++) {
        if (names[i] === 'set-cookie') {
          const cookies = this.getSetCookie();
          for (let j = 0; j < cookies.length; j++) yield ['set-cookie', cookies[j]];
        } else {
          yield [names[i], this.get(names[i])];
        }
      }
    }

    *keys() {
      for (const [name] of this.entries()) yield name;
    }

    *values() {
      for (const [, value] of this.entries()) yield value;
    }

    [SymbolIterator]() {
      return this.entries();
    }

    get [SymbolToStringTag]() {
      return 'Headers';
    }

    static {
      headerList = (headers) => headers.#list;
      lockHeaders = (headers) => { headers.#immutable = true; };
    }
  }

  // ---- Bodies -------------------------------------------------------------------------------------

  const bodies = new WeakMap();  // Request/Response -> { bytes: Uint8Array | null, used: boolean }

  function bytesOf(view) {
    return TypedArraySlice(new Uint8ArrayCtor(view.buffer, view.byteOffset, view.byteLength));
  }

  // The standard's "extract a body": bytes and the content type it implies.
  function extractBody(body) {
    if (typeof body === 'string') return [utf8Encode(StringToWellFormed(body)), 'text/plain;charset=UTF-8'];
    if (body instanceof ArrayBufferCtor) return [new Uint8ArrayCtor(ArrayBufferSlice(body, 0)), null];
    if (ArrayBufferIsView(body)) return [bytesOf(body), null];
    if (body instanceof URLSearchParamsCtor)
      return [utf8Encode(StringCtor(body)), 'application/x-www-form-urlencoded;charset=UTF-8'];
    const kind = body?.constructor?.name;
    if (kind === 'Blob' || kind === 'File' || kind === 'FormData' || kind === 'ReadableStream')
      throw new TypeErrorCtor(`fetch: a ${kind} body is not supported here; send a string or bytes`);
    return [utf8Encode(StringToWellFormed(StringCtor(body))), 'text/plain;charset=UTF-8'];
  }

  function consume(owner) {
    const state = bodies.get(owner);
    if (state === undefined) throw new TypeErrorCtor('Illegal invocation');
    if (state.used) throw new TypeErrorCtor('Body is unusable: it has already been read');
    state.used = true;
    return state.bytes === null ? new Uint8ArrayCtor(0) : state.bytes;
  }

  function copyBody(owner) {
    const state = bodies.get(owner);
    if (state.used) throw new TypeErrorCtor('cannot clone: the body has already been read');
    return state.bytes === null ? null : TypedArraySlice(state.bytes);
  }

  // The body methods Request and Response share.
  const bodyMethods = {
    get bodyUsed() {
      const state = bodies.get(this);
      if (state === undefined) throw new TypeErrorCtor('Illegal invocation');
      return state.used;
    },
    async arrayBuffer() {
      const bytes = consume(this);
      return ArrayBufferSlice(bytes.buffer, bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    },
    async bytes() {
      return TypedArraySlice(consume(this));
    },
    async text() {
      return utf8Decode(consume(this));
    },
    async json() {
      return JSONParse(utf8Decode(consume(this)));
    },
    async blob() {
      throw new TypeErrorCtor('blob() is not supported here; use arrayBuffer(), bytes() or text()');
    },
    async formData() {
      throw new TypeErrorCtor('formData() is not supported here; use text() or json()');
    },
  };

  function mixBody(Ctor) {
    for (const key of Reflect.ownKeys(bodyMethods)) {
      const descriptor = Object.getOwnPropertyDescriptor(bodyMethods, key);
      descriptor.enumerable = false;
      ObjectDefineProperty(Ctor.prototype, key, descriptor);
    }
  }

  // ---- Request ------------------------------------------------------------------------------------

  function normalizeMethod(method) {
    const text = StringCtor(method);
    if (!RegExpTest(TOKEN, text)) throw new TypeErrorCtor(`'${text}' is not a valid HTTP method`);
    const upper = StringToUpperCase(text);
    if (upper === 'CONNECT' || upper === 'TRACE' || upper === 'TRACK')
      throw new TypeErrorCtor(`the method ${upper} is not allowed`);
    const standard = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'];
    return ArrayIndexOf(standard, upper) === -1 ? text : upper;
  }

  // The URL as the sandbox's URL class reads it (a relative one has no page to resolve against:
  // its TypeError says the input is invalid); the host checks the result against the policy.
  function parseURL(input) {
    return URLHref(new URLCtor(StringCtor(input)));
  }

  function isSignal(value) {
    try {
      SignalAborted(value);
      return true;
    } catch {
      return false;
    }
  }

  class Request {
    #method;
    #url;
    #headers;
    #signal;
    #redirect;

    constructor(input, init = undefined) {
      if (init === null || init === undefined) init = {};
      else if (typeof init !== 'object') throw new TypeErrorCtor('Request: init must be an object');
      const from = input instanceof Request ? input : null;
      this.#url = from ? from.#url : parseURL(input);
      this.#method = init.method !== undefined ? normalizeMethod(init.method) : from ? from.#method : 'GET';
      this.#headers = new Headers(init.headers !== undefined ? init.headers : from ? from.#headers : undefined);
      const signal = 'signal' in init ? init.signal : from ? from.#signal : null;
      if (signal !== null && signal !== undefined && !isSignal(signal))
        throw new TypeErrorCtor('Request: signal must be an AbortSignal');
      this.#signal = signal ?? null;
      const redirect = init.redirect !== undefined ? StringCtor(init.redirect) : from ? from.#redirect : 'follow';
      if (redirect !== 'follow' && redirect !== 'error' && redirect !== 'manual')
        throw new TypeErrorCtor(`Request: redirect must be 'follow', 'error' or 'manual', got '${redirect}'`);
      this.#redirect = redirect;
      let bytes = null;
      if (init.body !== undefined && init.body !== null) {
        if (this.#method === 'GET' || this.#method === 'HEAD')
          throw new TypeErrorCtor(`Request: a ${this.#method} request cannot have a body`);
        const [extracted, type] = extractBody(init.body);
        bytes = extracted;
        if (type !== null && !this.#headers.has('content-type')) this.#headers.set('content-type', type);
      } else if (from) {
        bytes = copyBody(from);
        if (bytes !== null && (this.#method === 'GET' || this.#method === 'HEAD'))
          throw new TypeErrorCtor(`Request: a ${this.#method} request cannot have a body`);
      }
      bodies.set(this, { bytes, used: false });
    }

    get method() { return this.#method; }
    get url() { return this.#url; }
    get headers() { return this.#headers; }
    get signal() { return this.#signal; }
    get redirect() { return this.#redirect; }
    get [SymbolToStringTag]() { return 'Request'; }

    clone() {
      return new Request(this);
    }
  }
  mixBody(Request);

  // ---- Response -----------------------------------------------------------------------------------

  let fromHost;  // (answer from the host) => Response

  class Response {
    #status = 200;
    #statusText = '';
    #headers;
    #url = '';
    #redirected = false;
    #type = 'default';

    constructor(body = null, init = undefined) {
      if (init === null || init === undefined) init = {};
      else if (typeof init !== 'object') throw new TypeErrorCtor('Response: init must be an object');
      const status = init.status === undefined ? 200 : Number(init.status);
      if (!(status >= 200 && status <= 599) || Math.floor(status) !== status)
        throw new RangeErrorCtor(`Response: status must be 200 to 599, got ${init.status}`);
      this.#status = status;
      this.#statusText = init.statusText === undefined ? '' : StringCtor(init.statusText);
      this.#headers = new Headers(init.headers);
      let bytes = null;
      if (body !== null && body !== undefined) {
        if (ArrayIndexOf(NULL_BODY_STATUS, status) !== -1)
          throw new TypeErrorCtor(`Response: a ${status} response cannot have a body`);
        const [extracted, type] = extractBody(body);
        bytes = extracted;
        if (type !== null && !this.#headers.has('content-type')) this.#headers.set('content-type', type);
      }
      bodies.set(this, { bytes, used: false });
    }

    get status() { return this.#status; }
    get ok() { return this.#status >= 200 && this.#status <= 299; }
    get statusText() { return this.#statusText; }
    get headers() { return this.#headers; }
    get url() { return this.#url; }
    get redirected() { return this.#redirected; }
    get type() { return this.#type; }
    get [SymbolToStringTag]() { return 'Response'; }

    clone() {
      const copy = new Response(null, { status: 200 });
      copy.#status = this.#status;
      copy.#statusText = this.#statusText;
      copy.#headers = new Headers(this.#headers);
      if (this.#type !== 'default') lockHeaders(copy.#headers);
      copy.#url = this.#url;
      copy.#redirected = this.#redirected;
      copy.#type = this.#type;
      bodies.set(copy, { bytes: copyBody(this), used: false });
      return copy;
    }

    static error() {
      const response = new Response(null, { status: 200 });
      response.#status = 0;
      response.#type = 'error';
      lockHeaders(response.#headers);
      return response;
    }

    static redirect(url, status = 302) {
      if (ArrayIndexOf(REDIRECT_STATUS, status) === -1)
        throw new RangeErrorCtor(`Response.redirect: ${status} is not a redirect status`);
      const response = new Response(null, { status, headers: { location: parseURL(url) } });
      lockHeaders(response.#headers);
      return response;
    }

    static json(data, init = undefined) {
      const text = JSONStringify(data);
      if (text === undefined) throw new TypeErrorCtor('Response.json: the data cannot be serialized as JSON');
      const response = new Response(text, init);
      response.#headers.set('content-type', 'application/json');
      return response;
    }

    static {
      fromHost = (answer) => {
        const response = new Response(null, { status: 200 });
        response.#status = answer.status;
        response.#statusText = answer.statusText;
        const list = headerList(response.#headers);
        for (let i = 0; i < answer.headers.length; i++) ArrayPush(list, [answer.headers[i][0], answer.headers[i][1]]);
        lockHeaders(response.#headers);
        response.#url = answer.url;
        response.#redirected = answer.redirected;
        response.#type = 'basic';
        const nullBody = ArrayIndexOf(NULL_BODY_STATUS, answer.status) !== -1;
        bodies.set(response, { bytes: nullBody ? null : answer.body, used: false });
        return response;
      };
    }
  }
  mixBody(Response);

  // ---- fetch ----------------------------------------------------------------------------------------

  function fetch(input, init = undefined) {
    return new PromiseCtor((resolve, reject) => {
      const request = new Request(input, init);  // a throw here rejects the promise
      const signal = request.signal;
      if (signal !== null && SignalAborted(signal)) {
        reject(SignalReason(signal));
        return;
      }
      const message = { method: request.method, url: request.url, headers: headerList(request.headers),
        redirect: request.redirect };
      const bytes = bodies.get(request).bytes;
      if (bytes !== null) message.body = bytes;
      const answer = hostFetch(message);
      if (signal === null) {
        PromiseThen(answer, (raw) => resolve(fromHost(raw)), reject);
        return;
      }
      // An abort settles the promise at once, and the host cancels the request (cancelCall): its
      // transfer stops and its place under the in-flight cap is free again.
      const onAbort = () => {
        reject(SignalReason(signal));
        cancelCall(answer);
      };
      AddEventListener(signal, 'abort', onAbort, { once: true });
      PromiseThen(answer, (raw) => {
        RemoveEventListener(signal, 'abort', onAbort);
        resolve(fromHost(raw));
      }, (error) => {
        RemoveEventListener(signal, 'abort', onAbort);
        reject(error);
      });
    });
  }

  function define(name, value) {
    ObjectDefineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  }

  return function install(capability) {
    hostFetch = capability;
    define('fetch', fetch);
    define('Headers', Headers);
    define('Request', Request);
    define('Response', Response);
  };
})
