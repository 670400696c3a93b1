// Encode throughput of Hugging Face's JS tokenizer: node bench-tokenizer.mjs TOKENIZER.json TEXT.txt
// Documents are the text's blank-line-separated paragraphs; prints one JSON line.
import fs from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";

const [tokenizerPath, textPath] = process.argv.slice(2);
const tokenizer = new Tokenizer(JSON.parse(fs.readFileSync(tokenizerPath, "utf8")), {});
const documents = fs.readFileSync(textPath, "utf8").split("\n\n");
const bytes = Buffer.byteLength(documents.join(""));

// Three passes, each reported (scripts/bench/stats.py makes the figure: the median with the extremes beside it).
const rates = [];
let tokens = 0;
for (let pass = 0; pass < 3; pass++) {
  const start = process.hrtime.bigint();
  tokens = 0;
  for (const d of documents) tokens += tokenizer.encode(d).ids.length;
  rates.push(bytes / 1e6 / (Number(process.hrtime.bigint() - start) / 1e9));
}
console.log(JSON.stringify({ implementation: "@huggingface/tokenizers", tokens, bytes, mb_per_second: rates }));
