// expect: Done
// result: [ 'alice@example.com', 'bob@example.org' ]
// why: ordinary regular expressions over text.
const text = 'contact alice@example.com or bob@example.org, not carol@';
text.match(/[a-z]+@[a-z]+\.[a-z]+/g);
