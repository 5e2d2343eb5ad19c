// Load on demand and keep_alive with the official `ollama` npm client,
// unchanged (see tests/ollama_keep_alive_test.sh), against a running system
// whose store holds MODEL, not loaded. Env: OLLAMA_MODULE (the package's
// folder), BASE (http://host:port), MODEL (a stored name without a tag).
// Prints ok/FAIL lines; exit 1 on a failure.
const { Ollama } = require(process.env.OLLAMA_MODULE);
const env = process.env;
const client = new Ollama({ host: env.BASE });
const loaded = env.MODEL + ':latest';
let failures = 0;
function check(what, got, want) {
  if (got === want) console.log('ok: ollama client: ' + what);
  else { failures++; console.log('FAIL: ollama client: ' + what + ': got ' + JSON.stringify(got) + ', want ' + JSON.stringify(want)); }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function psNames() { return (await client.ps()).models.map((m) => m.name).join(','); }
async function waitUnloaded(seconds) {
  for (let i = 0; i < seconds * 10; i++) {
    if ((await psNames()) === '') return true;
    await sleep(100);
  }
  return false;
}
async function main() {
  check('nothing is loaded at first', await psNames(), '');
  const options = { temperature: 0, num_predict: 4 };
  const first = await client.generate({ model: env.MODEL, prompt: 'Once upon a time', stream: false, options });
  check('generate loads the stored model on demand', first.done, true);
  const ps = await client.ps();
  check('ps lists it as NAME:latest', ps.models.map((m) => m.name).join(','), loaded);
  check('ps says when it unloads', typeof ps.models[0].expires_at === 'string' && !isNaN(Date.parse(ps.models[0].expires_at)), true);
  const chat = await client.chat({ model: env.MODEL, messages: [{ role: 'user', content: 'Hi' }], stream: false,
                                   keep_alive: 0, options });
  check('chat with keep_alive 0 answers', chat.done, true);
  check('keep_alive 0 unloads the model after the request', await waitUnloaded(10), true);
  const load = await client.generate({ model: env.MODEL, prompt: '', keep_alive: '5m' });
  check('an empty prompt loads it', load.done_reason, 'load');
  check('ps lists it again', await psNames(), loaded);
  const unload = await client.generate({ model: env.MODEL, prompt: '', keep_alive: 0 });
  check('an empty prompt with keep_alive 0 unloads it', unload.done_reason, 'unload');
  check('gone from ps', await waitUnloaded(10), true);
  try {
    await client.generate({ model: 'nosuch', prompt: 'x', stream: false });
    check('an unknown model fails', 'no error', 'an error');
  } catch (e) {
    check('an unknown model: 404 naming it', e.status_code + ' ' + /nosuch/.test(e.error), '404 true');
  }
}
main().then(() => process.exit(failures ? 1 : 0), (e) => { console.log('FAIL: ollama client: ' + e); process.exit(1); });
