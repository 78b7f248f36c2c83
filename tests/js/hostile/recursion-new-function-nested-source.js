// expect: StackOverflow
// why: new Function with 100000 nested parentheses: the parser's own recursion must hit the stack limit, not the wasm stack.
new Function('return ' + '('.repeat(1e5) + '1' + ')'.repeat(1e5))();
