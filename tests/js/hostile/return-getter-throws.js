// expect: JSException
// name: Error
// message: getter refuses
// why: the result has a getter that throws while it is being encoded.
({ get value() { throw new Error('getter refuses'); } });
