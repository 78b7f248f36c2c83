// expect: StackOverflow
// why: a constructor that constructs another instance of its own class.
class Endless { constructor() { new Endless(); } }
new Endless();
