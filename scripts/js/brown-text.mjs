// Writes the Brown Corpus as plain text, paragraphs separated by blank lines.
//   node brown-text.mjs OUT.txt [all|train|heldout]
// The held-out split is every 20th file (ca05, ca10, ...); train is the rest.
import fs from "node:fs";
import { brownFiles, brownParagraphs } from "./brown.mjs";

const [out, split = "all"] = process.argv.slice(2);
if (!out || !["all", "train", "heldout"].includes(split)) {
  console.error("usage: node brown-text.mjs OUT.txt [all|train|heldout]");
  process.exit(2);
}
const files = brownFiles().filter((_, i) => split === "all" || (split === "heldout") === ((i + 1) % 20 === 0));
const text = files.flatMap(brownParagraphs).join("\n\n") + "\n";
fs.writeFileSync(out, text);
console.error(`${out}: ${files.length} files, ${(Buffer.byteLength(text) / 1e6).toFixed(2)} MB`);
