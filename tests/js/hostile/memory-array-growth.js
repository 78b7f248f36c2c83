// expect: OutOfMemory
// why: an array grown one element at a time until the memory limit.
{
  const grown = [];
  for (let i = 0; ; i++) grown.push(i);
}
