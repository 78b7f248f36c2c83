// expect: JSException
// name: TypeError
// message: an import specifier cannot contain a NUL character
// why: QuickJS hands specifiers to the loader as C strings, which would cut 'lib\0evil' down to 'lib'; the patched quickjs.c refuses it instead.
await import('lib\0evil');
