// Reference token ids and chat-template renders from Hugging Face's own libraries, for the Go tests.
//
//   cd scripts && npm install tokenizers@0.23.2 @huggingface/jinja@0.5.11 && node tokenizer_goldens.js
//
// Writes gomlxgrpo/tokenizer/testdata/{ids,templates}.golden.json.gz. For every GSM8K question and
// answer it records a 64-bit FNV-1a hash of the id sequence (with and without special tokens) and its
// length; for the hard cases, the full ids and both decodes. Tokenizers: Llama 3.1, Qwen2.5, cl100k
// and Phi-4 (cl100k ranks + Phi-4's specials, built the same way as tokenizer.Phi4FromCL100K).
const fs = require('fs'), path = require('path'), zlib = require('zlib');
const {Tokenizer} = require('tokenizers');
const {Template} = require('@huggingface/jinja');

const root = path.join(__dirname, '..');
const td = path.join(root, 'gomlxgrpo/tokenizer/testdata');
const read = (f) => zlib.gunzipSync(fs.readFileSync(path.join(td, f))).toString();

function phi4Json() {
  const t = JSON.parse(read('gpt4.tokenizer.json.gz'));
  const add = (id, s) => ({id, content: s, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true});
  const a = [add(100256, '<|dummy_0|>'), add(100257, '<|endoftext|>'), add(100258, '<|fim_prefix|>'), add(100259, '<|fim_middle|>'),
    add(100260, '<|fim_suffix|>'), add(100261, '<|dummy_1|>'), add(100262, '<|dummy_2|>'), add(100263, '<|dummy_3|>'),
    add(100264, '<|im_start|>'), add(100265, '<|im_end|>'), add(100266, '<|im_sep|>'), add(100276, '<|endofprompt|>')];
  let n = 4;
  for (let id = 100267; id < 100352; id++) { if (id !== 100276) a.push(add(id, `<|dummy_${n++}|>`)); }
  t.added_tokens = a;
  for (const x of a) t.model.vocab[x.content] = x.id;  // as in Phi-4's own tokenizer.json: specials are vocabulary entries too
  t.post_processor = null;
  return JSON.stringify(t);
}

const HARD = [
  '', ' ', '  ', '\n', '\n\n\n', '\t\t', ' \n \n ', 'a  b   c    d', 'trailing spaces   ', '   leading',
  'tabs\tand\tnewlines\n\tindented\n\n\nend', 'line\r\nwindows\r\n', '12345678901234567890', '3.14159 1,000,000 -42 +7 1e-9',
  "don't can't won't it's I'm you're we've they'll he'd DON'T IT'S", 'naïve café résumé Ångström', 'e\u0301 vs é (NFC)',
  '東京は日本の首都です。今日は良い天気ですね。', '中文，标点符号！', '한국어 텍스트', 'Привет, мир!', 'مرحبا بالعالم', 'नमस्ते दुनिया',
  '🤖🚀👍🏽 emoji 👨‍👩‍👧‍👦 family', '∑∫√∞ ≈ ≠ ≤ ≥', '<reasoning>\nThe answer is 7.\n</reasoning>\n<answer>\n7\n</answer>\n',
  '<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n', '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>',
  'text<|endoftext|>more text', '<|im_start|>Hello<|im_sep|> World<|im_end|><|dummy_85|>', '<|fake_token|> <| |>',
  'mixed UPPER lower MiXeD 123abc abc123', '$100.50 + 20% = ?', 'email@example.com https://example.com/path?q=1&b=2',
  '```python\ndef f(x):\n    return x * 2\n```', '    four spaces\n        eight spaces', 'a\u00a0nbsp\u2003em space\u200bzero width',
];

function fnv(ids) {
  let h = 0xcbf29ce484222325n; const p = 0x100000001b3n; const m = (1n << 64n) - 1n;
  for (const id of ids) { for (let k = 0; k < 4; k++) { h ^= BigInt((id >>> (8 * k)) & 0xff); h = (h * p) & m; } }
  return h.toString(16);
}

(async () => {
  const texts = [];
  for (const f of ['train.jsonl', 'test.jsonl']) {
    for (const line of fs.readFileSync(path.join(root, 'datasets/gsm8k', f), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const r = JSON.parse(line); texts.push(r.question, r.answer);
    }
  }
  const toks = {
    llama3_1: Tokenizer.fromString(read('llama3_1.tokenizer.json.gz')),
    qwen2_5: Tokenizer.fromString(read('qwen2_5.tokenizer.json.gz')),
    cl100k: Tokenizer.fromString(read('gpt4.tokenizer.json.gz')),
    phi4: Tokenizer.fromString(phi4Json()),
  };
  const out = {generator: 'tokenizers@0.23.2', tokenizers: {}};
  for (const [name, t] of Object.entries(toks)) {
    const bulk = [];
    const t0 = Date.now(); let nTok = 0, nBytes = 0;
    for (const s of texts) {
      const a = (await t.encode(s, null, {addSpecialTokens: false})).getIds();
      const b = (await t.encode(s, null, {addSpecialTokens: true})).getIds();
      nTok += a.length; nBytes += Buffer.byteLength(s);
      bulk.push([fnv(a), a.length, fnv(b), b.length]);
    }
    const hard = [];
    for (const s of HARD) {
      const a = (await t.encode(s, null, {addSpecialTokens: false})).getIds();
      const b = (await t.encode(s, null, {addSpecialTokens: true})).getIds();
      hard.push({text: s, ids: Array.from(a), ids_special: Array.from(b),
                 decoded: await t.decode(Array.from(a), false), decoded_skip: await t.decode(Array.from(a), true)});
    }
    // Decoding of byte-level tokens that split UTF-8 sequences (e.g. one byte of an emoji).
    const partial = [];
    for (const ids of [[9468], [9468, 97], [11162], [11162, 97, 244], [100, 9468, 101]]) {
      partial.push({ids, decoded: await t.decode(ids, false)});
    }
    out.tokenizers[name] = {texts: texts.length, bulk, hard, partial};
    console.log(name, texts.length, 'texts', nTok, 'tokens', `${((Date.now() - t0) / 1000).toFixed(1)} s (two encodes each)`);
  }
  fs.writeFileSync(path.join(td, 'ids.golden.json.gz'), zlib.gzipSync(JSON.stringify(out), {level: 9}));

  // Chat templates with @huggingface/jinja.
  const tdir = path.join(root, 'gomlxgrpo/tokenizer/templates');
  const SYS = 'Respond in the following format:\n<reasoning>\n...\n</reasoning>\n<answer>\n...\n</answer>';
  const convs = {
    user_only: [{role: 'user', content: 'What is 2+2?'}],
    with_system: [{role: 'system', content: SYS}, {role: 'user', content: 'Natalia sold 48 clips. How many?'}],
    multi_turn: [{role: 'system', content: 'You are terse.'}, {role: 'user', content: 'Hi'}, {role: 'assistant', content: 'Hello!'},
                 {role: 'user', content: 'Sum 3 and 4, please.\nThanks.'}],
    unicode: [{role: 'user', content: '東京 🤖 naïve  spaces\ttab'}],
  };
  const renders = [];
  for (const f of fs.readdirSync(tdir).filter((f) => f.endsWith('.jinja')).sort()) {
    const src = fs.readFileSync(path.join(tdir, f), 'utf8');
    const tpl = new Template(src);
    for (const [cname, messages] of Object.entries(convs)) {
      for (const agp of [false, true]) {
        const vars = {messages, add_generation_prompt: agp, bos_token: '<BOS>', eos_token: '<EOS>',
                      date_string: '26 Jul 2024'};
        let text = null, error = null;
        try { text = tpl.render(vars); } catch (e) { error = String(e.message || e); }
        renders.push({template: f, conversation: cname, add_generation_prompt: agp, messages, text, error});
      }
    }
  }
  fs.writeFileSync(path.join(td, 'templates.golden.json.gz'), zlib.gzipSync(JSON.stringify({generator: '@huggingface/jinja@0.5.11', renders}), {level: 9}));
  console.log('templates', renders.length, 'renders');
})();
