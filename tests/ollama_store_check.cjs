// The model store through Ollama's API with the official `ollama` npm client,
// unchanged (see tests/store_pull_test.sh): version, list, show, copy,
// delete. Env: OLLAMA_MODULE (the package's folder), BASE (http://host:port),
// MODEL (a stored model), SHA (its sha256). Prints ok/FAIL lines; exit 1 on a failure.
const { Ollama } = require(process.env.OLLAMA_MODULE);
const env = process.env;
const client = new Ollama({ host: env.BASE });
let failures = 0;
function check(what, got, want) {
  if (got === want) console.log('ok: ollama client: ' + what);
  else { failures++; console.log('FAIL: ollama client: ' + what + ': got ' + JSON.stringify(got) + ', want ' + JSON.stringify(want)); }
}
async function main() {
  check('version', (await client.version()).version, '0.6.0');
  let list = await client.list();
  check('list names the model', list.models.map((m) => m.name).join(','), env.MODEL);
  check('list digest', list.models[0].digest, env.SHA);
  check('list format', list.models[0].details.format, 'gguf');
  const show = await client.show({ model: env.MODEL });
  check('show architecture', show.model_info['general.architecture'], 'llama');
  await client.copy({ source: env.MODEL, destination: 'copied:v2' });
  list = await client.list();
  check('copy', list.models.map((m) => m.name).join(','), 'copied:v2,' + env.MODEL);
  await client.delete({ model: 'copied:v2' });
  list = await client.list();
  check('delete', list.models.map((m) => m.name).join(','), env.MODEL);
  try {
    await client.show({ model: 'absent' });
    check('show of a missing model fails', 'no error', 'an error');
  } catch (e) {
    check('show of a missing model: 404 naming it', e.status_code + ' ' + /absent:latest/.test(e.error), '404 true');
  }
}
main().then(() => process.exit(failures ? 1 : 0), (e) => { console.log('FAIL: ollama client: ' + e); process.exit(1); });
