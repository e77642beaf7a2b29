// Peer baseline for BenchmarkEncodeGSM8K: Hugging Face tokenizers@0.23.2 (Rust, under node), one
// thread (RAYON_NUM_THREADS=1), encoding GSM8K train questions and answers one text at a time.
//   cd scripts && npm install tokenizers@0.23.2 && RAYON_NUM_THREADS=1 node ../bench/hf_tokenizer.js
const fs = require('fs'), path = require('path'), zlib = require('zlib');
const {Tokenizer} = require(path.join(__dirname, '../scripts/node_modules/tokenizers'));
const root = path.join(__dirname, '..');
const texts = [];
for (const line of fs.readFileSync(path.join(root, 'datasets/gsm8k/train.jsonl'), 'utf8').split('\n')) {
  if (line.trim()) { const r = JSON.parse(line); texts.push(r.question, r.answer); }
}
const bytes = texts.reduce((a, s) => a + Buffer.byteLength(s), 0);
(async () => {
  for (const [name, file] of [['llama3_1', 'llama3_1'], ['qwen2_5', 'qwen2_5'], ['cl100k', 'gpt4']]) {
    const t = Tokenizer.fromString(zlib.gunzipSync(fs.readFileSync(path.join(root, `gomlxgrpo/tokenizer/testdata/${file}.tokenizer.json.gz`))).toString());
    for (const s of texts.slice(0, 2000)) await t.encode(s, null, {addSpecialTokens: false});  // warm-up
    const runs = [];
    for (let r = 0; r < 3; r++) {
      const t0 = process.hrtime.bigint();
      for (const s of texts) await t.encode(s, null, {addSpecialTokens: false});
      runs.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    runs.sort();
    console.log(JSON.stringify({impl: 'hf-tokenizers-node', mode: 'encode per text', tokenizer: name, texts: texts.length, mb: +(bytes / 1e6).toFixed(2),
      seconds: +runs[1].toFixed(3), mb_per_s: +(bytes / 1e6 / runs[1]).toFixed(2)}));
    // One call for all texts: no per-call binding overhead (one Rayon thread with RAYON_NUM_THREADS=1).
    const b = [];
    for (let r = 0; r < 3; r++) {
      const t0 = process.hrtime.bigint();
      await t.encodeBatch(texts, {addSpecialTokens: false});
      b.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    b.sort();
    console.log(JSON.stringify({impl: 'hf-tokenizers-node', mode: 'encodeBatch', tokenizer: name, texts: texts.length, mb: +(bytes / 1e6).toFixed(2),
      seconds: +b[1].toFixed(3), mb_per_s: +(bytes / 1e6 / b[1]).toFixed(2)}));
  }
})();
