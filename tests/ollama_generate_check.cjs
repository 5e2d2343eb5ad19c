// Generation through Ollama's API with the official `ollama` npm client,
// unchanged (see tests/store_pull_test.sh): generate and chat, streamed and
// whole, and ps, against a running system with MODEL loaded. Env: OLLAMA_MODULE
// (the package's folder), BASE (http://host:port), MODEL, PROMPT, N (tokens),
// WANT (the greedy text of `llmos generate --temperature 0` for PROMPT and N).
// Prints ok/FAIL lines; exit 1 on a failure.
const { Ollama } = require(process.env.OLLAMA_MODULE);
const env = process.env;
const client = new Ollama({ host: env.BASE });
let failures = 0;
function check(what, got, want) {
  if (got === want) console.log('ok: ollama client: ' + what);
  else { failures++; console.log('FAIL: ollama client: ' + what + ': got ' + JSON.stringify(got) + ', want ' + JSON.stringify(want)); }
}
async function main() {
  const options = { temperature: 0, num_predict: Number(env.N) };
  const whole = await client.generate({ model: env.MODEL, prompt: env.PROMPT, raw: true, stream: false, options });
  check('generate = llmos generate --temperature 0', whole.response, env.WANT);
  check('generate done', whole.done, true);
  check('generate eval_count', whole.eval_count > 0 && whole.eval_count <= Number(env.N), true);
  check('generate counters', ['total_duration', 'load_duration', 'prompt_eval_count', 'prompt_eval_duration', 'eval_duration']
    .every((k) => typeof whole[k] === 'number'), true);
  let text = '', last = null;
  for await (const part of await client.generate({ model: env.MODEL, prompt: env.PROMPT, raw: true, stream: true, options })) {
    text += part.response;
    last = part;
  }
  check('streamed generate = llmos generate --temperature 0', text, env.WANT);
  check('streamed generate ends done', last && last.done, true);
  const messages = [{ role: 'user', content: env.PROMPT }];
  const chat = await client.chat({ model: env.MODEL, messages, stream: false, options });
  check('chat answers as the assistant', chat.message.role, 'assistant');
  check('chat eval_count', chat.eval_count > 0, true);
  let chatText = '';
  for await (const part of await client.chat({ model: env.MODEL, messages, stream: true, options })) {
    chatText += part.message.content;
  }
  check('streamed chat = whole chat', chatText, chat.message.content);
  const ps = await client.ps();
  check('ps lists the loaded model', ps.models.map((m) => m.name).join(','), env.MODEL);
  check('ps size', ps.models[0].size > 0, true);
  try {
    await client.generate({ model: env.MODEL, prompt: 'x', options: { mirostat: 1 } });
    check('an option llmos does not honour fails', 'no error', 'an error');
  } catch (e) {
    check('an option llmos does not honour: 400 naming it', e.status_code + ' ' + /options\.mirostat/.test(e.error), '400 true');
  }
}
main().then(() => process.exit(failures ? 1 : 0), (e) => { console.log('FAIL: ollama client: ' + e); process.exit(1); });
