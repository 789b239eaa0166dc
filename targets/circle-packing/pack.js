// Circle packing: place 26 circles in the unit square, without overlap, to maximise the sum of
// their radii. This is the program to improve. evaluate.js (protected) runs it, reads the last
// line it prints (a JSON array of 26 [x, y, r] triples), checks the packing and sums the radii
// itself.
//
// The seed: a 6 × 5 grid of cell centres, the first 26 used, each circle well inside its cell.
// It scores about 0.96; the best known packing scores about 2.6360.

const N = 26;
const COLUMNS = 6;
const ROWS = 5;
const RADIUS = 0.037;

export function pack() {
  const circles = [];
  for (let i = 0; i < COLUMNS * ROWS && circles.length < N; i++) {
    const x = ((i % COLUMNS) + 0.5) / COLUMNS;
    const y = (Math.floor(i / COLUMNS) + 0.5) / ROWS;
    circles.push([x, y, RADIUS]);
  }
  return circles;
}

process.stdout.write(`${JSON.stringify(pack())}\n`);
