// expect: Done
// result: 130560
// why: typed arrays and DataView.
const bytes = new Uint8Array(512);
for (let i = 0; i < bytes.length; i++) bytes[i] = i & 255;
const view = new DataView(bytes.buffer);
let sum = 0;
for (let i = 0; i < 512; i++) sum += view.getUint8(i);
sum * 2;
