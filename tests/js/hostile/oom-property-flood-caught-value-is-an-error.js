// expect: Done
// result: true
// why: the error a program catches at the memory limit is a real InternalError object, never an engine-internal value (`typeof e === "unknown"`, `Object.is(e, e) === false`).
let caught;
try {
  (() => {  // the flood lives in its own frame, so it is garbage once the error unwinds it
    const flooded = {};
    for (let i = 0; ; i++) flooded['k' + i] = i;
  })();
} catch (e) {
  caught = e;
}
typeof caught === 'object' && caught !== null && Object.is(caught, caught) && caught instanceof InternalError &&
  /out of memory/.test(caught.message);
