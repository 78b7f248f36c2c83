// What Quickbox is for: running a program an AI agent wrote, safely. The sandbox has no files,
// no network and no environment, and hard limits on memory, CPU time and output; the host gets
// back the console lines and one result value.
//
//   build/quickbox run examples/demo.js
//   build/quickbox run --json examples/demo.js      # the same, as one JSON object

// The agent's input: a batch of orders.
const customers = ['ada', 'grace', 'linus', 'margaret'];
const orders = [];
for (let id = 1; id <= 12; id++) {
  orders.push({
    id,
    customer: customers[id % customers.length],
    amount: ((id * 37) % 100) + 15,
    status: id % 5 === 0 ? 'refunded' : 'paid',
  });
}
console.log(`loaded ${orders.length} orders`);

// Stand-ins for the tools an agent would call. They are local async functions here; the host
// will provide real ones as capabilities.
async function lookUpCustomer(name) {
  await null; // gives way to the other lookups, as a real tool call would
  return { name, tier: name.length > 4 ? 'gold' : 'standard' };
}

async function assessRisk(order) {
  await null;
  return order.amount > 75 ? 'review' : 'ok';
}

const paid = orders.filter((order) => order.status === 'paid');
console.log(`${paid.length} paid, ${orders.length - paid.length} refunded`);

// Independent calls run concurrently.
const names = [...new Set(paid.map((order) => order.customer))];
const profiles = await Promise.all(names.map(lookUpCustomer));
console.log(`looked up ${profiles.length} customers`);

const risks = await Promise.all(paid.map(assessRisk));
const flagged = paid.filter((_, i) => risks[i] === 'review').map((order) => order.id);
console.log(`flagged ${flagged.length} orders for review`);

const revenueByCustomer = {};
for (const order of paid) {
  revenueByCustomer[order.customer] = (revenueByCustomer[order.customer] ?? 0) + order.amount;
}
const [topCustomer] = Object.entries(revenueByCustomer).sort((a, b) => b[1] - a[1])[0];

// The program's value: what the agent reports back.
({
  orders: orders.length,
  revenue: paid.reduce((sum, order) => sum + order.amount, 0),
  topCustomer,
  goldCustomers: profiles.filter((p) => p.tier === 'gold').map((p) => p.name),
  flagged,
})
