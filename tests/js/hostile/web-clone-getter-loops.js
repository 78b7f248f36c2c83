// expect: Timeout
// why: structuredClone reads properties with their getters, as the web does; a getter that spins is stopped by the CPU budget.
structuredClone({ get spin() { for (;;); } });
