// llama.cpp on the same GGUF file, for docs/performance.md: prefill and greedy
// decode tokens/s through node-llama-cpp (its prebuilt llama.cpp, CPU only).
// usage: node measure.mjs MODEL.gguf [THREADS] [PROMPT_TOKENS] [GEN_TOKENS]
// Prints one JSON line. Run by compare.sh, which installs the package.
import {getLlama} from "node-llama-cpp";

const [modelPath, threadsArg, promptArg, genArg] = process.argv.slice(2);
if (!modelPath) {
  console.error("usage: node measure.mjs MODEL.gguf [THREADS] [PROMPT_TOKENS] [GEN_TOKENS]");
  process.exit(2);
}
const threads = Number(threadsArg || 2), nPrompt = Number(promptArg || 128), nGen = Number(genArg || 64);
const llama = await getLlama({gpu: false, logLevel: "error"});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const context = await model.createContext({contextSize: Math.max(1024, nPrompt + nGen + 16), threads, batchSize: 512});
const sequence = context.getSequence();
// The same kind of prompt as `llmos-bench engine`: BOS, then ids from the
// vocabulary's middle (the content does not change the arithmetic).
const prompt = [model.tokens.bos ?? 1];
for (let i = 1; i < nPrompt; i++) prompt.push(100 + (i * 7) % 200);
const start = performance.now();
let first = 0, n = 0;
for await (const token of sequence.evaluate(prompt, {temperature: 0})) {
  if (n === 0) first = performance.now();  // the prompt is evaluated and the first token sampled
  if (++n >= nGen) break;
}
const end = performance.now();
console.log(JSON.stringify({
  model: modelPath, threads, prompt_tokens: nPrompt, generated: n,
  prefill_tokens_per_s: nPrompt / ((first - start) / 1000),
  decode_tokens_per_s: (n - 1) / ((end - first) / 1000),
}));
process.exit(0);
