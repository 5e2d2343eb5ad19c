// The model store through Ollama's API with the official `ollama` npm client,
// unchanged (see tests/store_pull_test.sh): version, list, show, copy,
// delete, and pull (streamed and not) from the test's file server, with a
// file that is not GGUF and a 404 refused and the store left as it was.
// Env: OLLAMA_MODULE (the package's folder), BASE (http://host:port), MODEL
// (a stored model), SHA (its sha256), FILES (the file server's base URL,
// serving tiny.gguf and other.gguf, both SHA, and junk.gguf; the system's
// LLMOS_HF_ENDPOINT is FILES/hf). Prints ok/FAIL lines; exit 1 on a failure.
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

  // pull, streamed: Ollama's progress, then the model is listed and shown.
  const statuses = [];
  let progress = null;
  for await (const p of await client.pull({ model: env.FILES + '/files/tiny.gguf', stream: true })) {
    if (statuses[statuses.length - 1] !== p.status) statuses.push(p.status);
    if (p.completed !== undefined) progress = p;
  }
  check('pull streams its stages', statuses.join(' | '),
        'pulling manifest | downloading tiny.gguf | verifying sha256 digest | writing manifest | success');
  check('pull progress ends complete', progress && progress.completed === progress.total && progress.total > 0, true);
  list = await client.list();
  check('pulled model listed', list.models.map((m) => m.name).join(','), env.MODEL + ',tiny:latest');
  check('pulled model digest', list.models.find((m) => m.name === 'tiny:latest').digest, env.SHA);
  check('show the pulled model', (await client.show({ model: 'tiny' })).model_info['general.architecture'], 'llama');
  // pull, not streamed, from an hf: source.
  const one = await client.pull({ model: 'hf:org/repo/other.gguf', stream: false });
  check('pull without a stream', one.status, 'success');
  list = await client.list();
  const stored = list.models.map((m) => m.name).join(',');
  check('hf: pull listed', stored, 'other:latest,' + env.MODEL + ',tiny:latest');
  // A stored name: nothing to fetch.
  check('pull of a stored name', (await client.pull({ model: 'tiny' })).status, 'success');

  // Refused pulls leave the store as it was.
  try {
    for await (const p of await client.pull({ model: env.FILES + '/files/junk.gguf', stream: true })) void p;
    check('streamed pull of a file that is not GGUF fails', 'no error', 'an error');
  } catch (e) {
    check('streamed pull of a file that is not GGUF: error naming it',
          String(e.message).includes(env.FILES + '/files/junk.gguf'), true);
  }
  try {
    await client.pull({ model: env.FILES + '/files/junk.gguf', stream: false });
    check('pull of a file that is not GGUF fails', 'no error', 'an error');
  } catch (e) {
    check('pull of a file that is not GGUF: 400', e.status_code, 400);
  }
  for (const stream of [true, false]) {
    try {
      const r = await client.pull({ model: env.FILES + '/files/absent.gguf', stream });
      if (stream) for await (const p of r) void p;
      check('pull of a 404 fails (stream ' + stream + ')', 'no error', 'an error');
    } catch (e) {
      check('pull of a 404: 502 saying HTTP 404 (stream ' + stream + ')',
            e.status_code + ' ' + String(e.error).includes('HTTP 404'), '502 true');
    }
  }
  try {
    await client.pull({ model: 'tiny', insecure: true });
    check('insecure pull refused', 'no error', 'an error');
  } catch (e) {
    check('insecure pull refused with 400', e.status_code, 400);
  }
  list = await client.list();
  check('refused pulls stored nothing', list.models.map((m) => m.name).join(','), stored);
}
main().then(() => process.exit(failures ? 1 : 0), (e) => { console.log('FAIL: ollama client: ' + e); process.exit(1); });
