// Encode throughput of Hugging Face's JS tokenizer: node bench-tokenizer.mjs TOKENIZER.json TEXT.txt
// Documents are the text's blank-line-separated paragraphs; prints one JSON line.
import fs from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";

const [tokenizerPath, textPath] = process.argv.slice(2);
const tokenizer = new Tokenizer(JSON.parse(fs.readFileSync(tokenizerPath, "utf8")), {});
const documents = fs.readFileSync(textPath, "utf8").split("\n\n");
const bytes = Buffer.byteLength(documents.join(""));

// Three passes; the figures are the median pass with the slowest and fastest beside it.
const seconds = [];
let tokens = 0;
for (let pass = 0; pass < 3; pass++) {
  const start = process.hrtime.bigint();
  tokens = 0;
  for (const d of documents) tokens += tokenizer.encode(d).ids.length;
  seconds.push(Number(process.hrtime.bigint() - start) / 1e9);
}
seconds.sort((a, b) => a - b);
const rate = (s) => bytes / 1e6 / s;
console.log(JSON.stringify({
  implementation: "@huggingface/tokenizers", tokens, bytes, seconds: seconds[1],
  mb_per_second: rate(seconds[1]), mb_per_second_min: rate(seconds[2]), mb_per_second_max: rate(seconds[0]),
}));
