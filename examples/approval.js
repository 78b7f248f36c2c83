// A durable pause for a person's approval. The program reads three sales reports at once, totals
// them, and asks to publish the summary. `publish` needs approval, so the program stops there;
// its whole state goes to a file, and a later process continues it once a person has decided.
//
//   build/quickbox run examples/approval.js --caps examples/approval.caps.json --suspend-to /tmp/state.qbs
//   build/quickbox resume /tmp/state.qbs --caps examples/approval.caps.json --approve 5
//   build/quickbox resume /tmp/state.qbs --caps examples/approval.caps.json --deny 5='numbers look off'
//
// The capabilities come from examples/approval.caps.json: readReport reads files under
// examples/data/ and nothing else, echo stands in for any other async tool, and publish (the echo
// handler behind an approval step) returns what it was given once a person approves it.

const regions = ['north', 'south', 'west'];

// Four host calls at once (ids 1 to 4); readReport runs at most two at a time, as its policy says.
const [north, south, west, settings] = await Promise.all([
  ...regions.map((region) => readReport(`${region}.csv`)),
  echo({ quarter: '2025-Q3', currency: 'EUR' }),
]);
console.log(`read ${regions.length} reports for ${settings.quarter}`);

function parseReport(csv) {
  const [, ...rows] = csv.trim().split('\n');
  return rows.map((row) => {
    const [item, units, unitPrice] = row.split(',');
    return { item, units: Number(units), revenue: Number(units) * Number(unitPrice) };
  });
}

const byRegion = {};
const byItem = {};
for (const [region, csv] of [['north', north], ['south', south], ['west', west]]) {
  const rows = parseReport(csv);
  byRegion[region] = Math.round(rows.reduce((sum, row) => sum + row.revenue, 0));
  for (const row of rows) byItem[row.item] = (byItem[row.item] ?? 0) + row.revenue;
}
const revenue = Object.values(byRegion).reduce((a, b) => a + b, 0);
const [topItem] = Object.entries(byItem).sort((a, b) => b[1] - a[1])[0];
const summary = { quarter: settings.quarter, currency: settings.currency, revenue, byRegion, topItem };
console.log(`revenue ${revenue} ${settings.currency}; asking to publish the summary`);

// Call 5 waits here for a person, however long that takes, in whichever process resumes it.
try {
  const published = await publish(summary);
  console.log(`published the ${published.quarter} summary`);
  ({ published: true, ...summary });
} catch (error) {
  console.log(`not published: ${error.message}`);
  ({ published: false, reason: error.message });
}
