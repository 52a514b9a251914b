// node --test scripts/recipes/pointer/web — the page generator without a browser (scripts/test.sh).
import test from 'node:test';
import assert from 'node:assert/strict';
import { buildPage, rng } from './page.mjs';

const KINDS = ['text_button', 'icon', 'link', 'field', 'menu_item', 'checkbox', 'radio', 'tab', 'toggle'];

test('a page depends only on its seed', () => {
  const a = buildPage(rng(42)), b = buildPage(rng(42)), c = buildPage(rng(43));
  assert.equal(a.html, b.html);
  assert.deepEqual(a.targets, b.targets);
  assert.notEqual(a.html, c.html);
});

test('every target is marked once in the HTML and named by well-formed instructions', () => {
  const seen = new Set();
  for (let s = 0; s < 300; s++) {
    const p = buildPage(rng(s));
    assert.ok(p.targets.length > 0, `seed ${s}: no targets`);
    for (const t of p.targets) {
      assert.equal(p.html.split(`data-t="${t.id}"`).length - 1, 1, `seed ${s}: target ${t.id} marked once`);
      assert.ok(KINDS.includes(t.kind), `seed ${s}: kind ${t.kind}`);
      assert.ok(t.label && t.label.length > 0, `seed ${s}: empty label`);
      assert.ok(t.instructions.length >= 3, `seed ${s}: ${t.label} has ${t.instructions.length} instructions`);
      for (const i of t.instructions) {
        assert.ok(!/undefined|null|NaN|\$\{|  /.test(i) && i === i.trim() && i.length > 0, `seed ${s}: bad instruction ${JSON.stringify(i)}`);
      }
      seen.add(t.kind);
    }
    assert.equal(p.html.split('data-t="').length - 1, p.targets.length, `seed ${s}: stray marks`);
  }
  assert.deepEqual([...seen].sort(), [...KINDS].sort(), 'every kind is drawn');
});
