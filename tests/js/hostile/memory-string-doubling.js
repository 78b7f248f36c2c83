// expect: OutOfMemory
// why: a string that doubles every iteration; reading a character forces each concatenation to be materialised.
{
  let text = 'x';
  for (;;) {
    text += text;
    text.charCodeAt(text.length >> 1);
  }
}
