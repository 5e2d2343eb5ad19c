// llama.cpp's load-to-first-token on a GGUF file, the rival of `llmos-bench
// cold`: milliseconds from asking node-llama-cpp (its prebuilt llama.cpp, CPU
// only) to load the model to its first token for a short prompt (load,
// context, tokenize, prompt, one greedy token). The library itself is loaded
// first and not counted (llmos's processes are running before its request too).
// usage: node first_token.mjs MODEL.gguf [THREADS] [PROMPT]
// Prints one JSON line. Run by cold_start.sh, which installs the package.
import {getLlama} from "node-llama-cpp";

const [modelPath, threadsArg, promptArg] = process.argv.slice(2);
if (!modelPath) {
  console.error("usage: node first_token.mjs MODEL.gguf [THREADS] [PROMPT]");
  process.exit(2);
}
const threads = Number(threadsArg || 2), promptText = promptArg || "Once upon a time";
const llama = await getLlama({gpu: false, logLevel: "error"});
const start = performance.now();
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const loaded = performance.now();
const context = await model.createContext({contextSize: 512, threads});
const sequence = context.getSequence();
const prompt = [model.tokens.bos ?? 1, ...model.tokenize(promptText)];
let first = 0;
for await (const token of sequence.evaluate(prompt, {temperature: 0})) {
  first = performance.now();
  break;
}
console.log(JSON.stringify({
  model: modelPath, threads, prompt: promptText,
  load_ms: loaded - start, first_token_ms: first - start,
}));
process.exit(0);
