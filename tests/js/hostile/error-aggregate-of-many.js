// expect: JSException
// name: AggregateError
// message: one hundred thousand failures
// why: an AggregateError carrying 100000 errors: only its own name and message are reported, the errors array is not walked into the report.
throw new AggregateError(Array.from({ length: 1e5 }, (_, i) => new Error('failure ' + i)), 'one hundred thousand failures');
