// expect: Done
// result: { a: [ 1, 'two' ] }
// why: JSON.stringify and JSON.parse replaced; the boundary encodes with CBOR inside the guest, not through JSON.
JSON.stringify = JSON.parse = function () { throw new Error('poisoned JSON'); };
globalThis.tampered = true;
({ a: [1, 'two'] });
