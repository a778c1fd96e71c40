// The official openai client against `specula serve`: completions, streaming, chat (streamed and not), and errors.
// Usage: SPECULA_URL=http://127.0.0.1:8080 node check.mjs   (after `npm ci` or `npm install` here)
import OpenAI from 'openai';
import assert from 'node:assert/strict';

const baseURL = (process.env.SPECULA_URL ?? 'http://127.0.0.1:8080') + '/v1';
const client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0 });
const prompt = 'import os\n\n\ndef read_lines(path):\n';
let passed = 0;
let failed = 0;

async function check(name, body) {
  try {
    await body();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.stack ?? e}`);
  }
}

const models = await client.models.list();
const model = models.data[0].id;

await check('models.list names the served model', async () => {
  assert.ok(model.length > 0);
});

let whole;
await check('completions.create', async () => {
  const c = await client.completions.create({ model, prompt, max_tokens: 16, temperature: 0 });
  assert.equal(c.object, 'text_completion');
  assert.equal(c.model, model);
  assert.ok(['stop', 'length'].includes(c.choices[0].finish_reason));
  assert.equal(c.usage.total_tokens, c.usage.prompt_tokens + c.usage.completion_tokens);
  whole = c.choices[0].text;
});

await check('completions.create streamed equals the whole text', async () => {
  const stream = await client.completions.create({ model, prompt, max_tokens: 16, temperature: 0, stream: true });
  let text = '';
  let chunks = 0;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.text ?? '';
    chunks++;
  }
  assert.ok(chunks >= 2, `${chunks} chunks`);
  assert.equal(text, whole);
});

await check('chat.completions.create with content parts and a developer message', async () => {
  const c = await client.chat.completions.create({
    model, max_tokens: 12, temperature: 0,
    messages: [{ role: 'developer', content: 'You write Python.' },
      { role: 'user', content: [{ type: 'text', text: 'Read the lines of a file.' }] }],
  });
  assert.equal(c.object, 'chat.completion');
  assert.equal(c.choices[0].message.role, 'assistant');
  assert.equal(typeof c.choices[0].message.content, 'string');
});

await check('chat.completions.create streamed', async () => {
  const stream = await client.chat.completions.create({
    model, max_tokens: 12, temperature: 0, stream: true,
    messages: [{ role: 'user', content: 'Read the lines of a file.' }],
  });
  let first = true;
  let finish = null;
  for await (const chunk of stream) {
    if (first) {
      assert.equal(chunk.choices[0].delta.role, 'assistant');
      first = false;
    }
    finish = chunk.choices[0].finish_reason ?? finish;
  }
  assert.ok(['stop', 'length'].includes(finish));
});

await check('an unknown model is a NotFoundError with code model_not_found', async () => {
  await assert.rejects(client.completions.create({ model: 'gpt-4o', prompt, max_tokens: 2 }), (e) => {
    assert.ok(e instanceof OpenAI.NotFoundError, String(e));
    assert.equal(e.status, 404);
    assert.equal(e.code, 'model_not_found');
    assert.equal(e.param, 'model');
    return true;
  });
});

await check('an unsupported parameter is a BadRequestError naming it', async () => {
  await assert.rejects(client.completions.create({ model, prompt, max_tokens: 2, logprobs: 2 }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, String(e));
    assert.equal(e.param, 'logprobs');
    assert.equal(e.code, 'unsupported_parameter');
    return true;
  });
});

await check('a bad value is a BadRequestError naming the field', async () => {
  await assert.rejects(client.completions.create({ model, prompt, max_tokens: 2, temperature: -1 }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, String(e));
    assert.equal(e.param, 'temperature');
    return true;
  });
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
