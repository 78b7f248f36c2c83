// expect: JSException
// name:
// message: { code: 7 }
// thrown: { code: 7 }
// why: throwing a plain object: the message is how console.log would show it, and the object itself is handed back.
throw { code: 7 };
