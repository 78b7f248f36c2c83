// expect: Timeout
// why: exponential backtracking inside the regexp engine (C code, not bytecode) must still be interruptible.
/(a+)+$/.test('a'.repeat(40) + 'b');
