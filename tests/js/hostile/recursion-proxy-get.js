// expect: StackOverflow
// why: a Proxy get trap that reads the same property from the proxy again.
const mirror = new Proxy({}, { get(target, key, receiver) { return receiver[key]; } });
mirror.anything;
