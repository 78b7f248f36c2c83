// expect: JSException
// name: TypeError
// message: function
// why: functions never leave the sandbox.
(() => 'a function');
