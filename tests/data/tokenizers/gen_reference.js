// Writes reference.json: the ids and decoded text that Hugging Face tokenizers (the Rust library,
// 0.22.2, through the npm package @anush008/tokenizers@0.6.0 and its linux-x64-gnu binary) gives for
// TEXTS with each tokenizer below. Run once, not by the tests:
//   npm install @anush008/tokenizers@0.6.0 @anush008/tokenizers-linux-x64-gnu@0.6.0
//   NODE_PATH=$PWD/node_modules node gen_reference.js      (in this folder)
// A variant is a base file with top-level keys (normalizer, pre_tokenizer) and model keys replaced;
// test_tokenizer_hf_ref.c builds the same files from the same JSON.
const fs = require('fs');
const { Tokenizer } = require('@anush008/tokenizers');

const TEXTS = [
  "Hello world! I'm sure they'll've done it; we're told he'd say 'twas.",
  "DON'T SHOUT, IT'S 'LL AND 'VE",
  "Die Straße in Zürich ist schön, aber die Brücke über den Fluß ist größer. Äpfel, Öl, Übung.",
  "机器学习是人工智能的一个分支。东京和北京都是大城市，人口超过一千万。",
  "日本語のテキストです。カタカナとひらがな、そして漢字を混ぜて書きます。",
  "مرحبا بالعالم! هذه جملة باللغة العربية مع أرقام ١٢٣ و 456.",
  "Emoji: 😀👍🏽 family 👨‍👩‍👧‍👦 flags 🇩🇪🇯🇵 ✨!!",
  "Digits: 1234567890 3.14159 2024-01-01 007 1,000,000 ٣٤٥",
  "  two spaces\tand a tab\n\n\nnewlines   \n end  \r\n\r\nCRLF\u00a0nbsp\u3000ideo\u0085nel  ",
  "def f(x):\n    return x**2 + 1  # square\n\nif __name__ == '__main__':\n\tprint(f(3))\n",
  "A tokenizer and Tokenization of ünïcode in Zürich near 東京 and Straße.",
  "NFC: cafe\u0301 vs café, A\u030angstro\u0308m, \u1e9b\u0323 and ﬁne ｆｕｌｌ①",
  "Case: İstanbul ΣΊΣΥΦΟΣ ǅemal",
  "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>",
  "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>assistant\n<think>\nok</think> café<|endoftext|>",
  "   ",
  "x",
];

const LL = 'llama3_style/tokenizer.json', QW = 'qwen2_style/tokenizer.json';
const BL = (prefix, regex) => ({ type: 'ByteLevel', add_prefix_space: prefix, trim_offsets: false, use_regex: regex });
const SEQ = (...p) => ({ type: 'Sequence', pretokenizers: p });
const SPLIT = (pat, behavior, invert, lit) =>
  ({ type: 'Split', pattern: lit ? { String: pat } : { Regex: pat }, behavior, invert });

const TOKENIZERS = [
  { name: 'llama3_style', base: LL },
  { name: 'qwen2_style', base: QW },
  { name: 'llama3_no_ignore_merges', base: LL, model: { ignore_merges: false } },
  { name: 'split_string_removed', base: LL, pre_tokenizer: SEQ(SPLIT(' ', 'Removed', false, true), BL(false, false)) },
  { name: 'split_merged_prev', base: LL, pre_tokenizer: SEQ(SPLIT('\\s+', 'MergedWithPrevious', false), BL(false, false)) },
  { name: 'split_merged_next', base: LL, pre_tokenizer: SEQ(SPLIT('[,.!?;:]', 'MergedWithNext', false), BL(false, false)) },
  { name: 'split_contiguous', base: LL, pre_tokenizer: SEQ(SPLIT('\\p{P}', 'Contiguous', false), BL(false, false)) },
  { name: 'split_invert_isolated', base: LL, pre_tokenizer: SEQ(SPLIT('\\p{L}+', 'Isolated', true), BL(false, false)) },
  { name: 'split_invert_removed', base: LL, pre_tokenizer: SEQ(SPLIT('\\s+', 'Removed', true), BL(false, false)) },
  { name: 'digits_individual', base: LL, pre_tokenizer: SEQ({ type: 'Digits', individual_digits: true }, BL(false, true)) },
  { name: 'digits_contiguous', base: LL, pre_tokenizer: SEQ({ type: 'Digits', individual_digits: false }, BL(true, false)) },
  { name: 'whitespace', base: LL, pre_tokenizer: SEQ({ type: 'Whitespace' }, BL(false, false)) },
  { name: 'whitespace_split', base: LL, pre_tokenizer: SEQ({ type: 'WhitespaceSplit' }, BL(true, false)) },
  { name: 'punctuation', base: LL, pre_tokenizer: SEQ({ type: 'Punctuation', behavior: 'Isolated' }, BL(false, false)) },
  { name: 'punctuation_contiguous', base: LL, pre_tokenizer: SEQ({ type: 'Punctuation', behavior: 'Contiguous' }, BL(false, true)) },
  { name: 'bytelevel_prefix_regex', base: LL, pre_tokenizer: BL(true, true) },
  { name: 'bytelevel_no_regex', base: LL, pre_tokenizer: BL(false, false) },
  { name: 'norm_lowercase_strip', base: LL, normalizer: { type: 'Sequence', normalizers: [{ type: 'Lowercase' }, { type: 'Strip', strip_left: true, strip_right: true }] } },
  { name: 'norm_replace', base: LL, normalizer: { type: 'Sequence', normalizers: [
      { type: 'Replace', pattern: { String: '  ' }, content: ' ' }, { type: 'Replace', pattern: { Regex: '\\p{N}+' }, content: '#' }] } },
  { name: 'norm_prepend_nfkc', base: LL, normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Prepend', prepend: '> ' }] } },
  { name: 'norm_nfd_strip_accents', base: LL, normalizer: { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'StripAccents' }] } },
  { name: 'qwen2_lowercase', base: QW, normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Lowercase' }] } },
];

function build(t) {
  const j = JSON.parse(fs.readFileSync(t.base, 'utf8'));
  if ('normalizer' in t) j.normalizer = t.normalizer;
  if ('pre_tokenizer' in t) j.pre_tokenizer = t.pre_tokenizer;
  if (t.model) Object.assign(j.model, t.model);
  return Tokenizer.fromString(JSON.stringify(j));
}

(async () => {
  const out = { generator: 'Hugging Face tokenizers 0.22.2 (Rust) via npm @anush008/tokenizers@0.6.0',
                texts: TEXTS, tokenizers: [] };
  for (const t of TOKENIZERS) {
    const tok = build(t);
    const ids = [], decoded = [];
    for (const s of TEXTS) {
      const e = await tok.encode(s, null, { addSpecialTokens: false });
      ids.push(e.getIds());
      decoded.push(await tok.decode(e.getIds(), false));
    }
    const entry = { name: t.name, base: t.base };
    for (const k of ['normalizer', 'pre_tokenizer', 'model']) if (k in t) entry[k] = t[k];
    out.tokenizers.push(Object.assign(entry, { ids, decoded }));
  }
  fs.writeFileSync('reference.json', JSON.stringify(out) + '\n');
  console.log(`wrote reference.json: ${out.tokenizers.length} tokenizers x ${TEXTS.length} texts`);
})();
